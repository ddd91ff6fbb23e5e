"""Network slimming: channels scored by their BatchNorm scale (Liu, Li, Shen, Huang, Yan & Zhang,
ICCV 2017, "Learning Efficient Convolutional Networks through Network Slimming", Section 3).

Each channel c of a layer followed by BatchNorm is multiplied by that BN's scale gamma_c, so

    s_c = |gamma_c|

and the channels with the smallest |gamma_c| are pruned under ONE global threshold over the
whole network (the paper's setting; raw |gamma|, no per-layer normalisation). The paper trains
with an L1 penalty on gamma first; pruneboard's weights are pinned, so the criterion is applied
to them as they are. "Followed by" means the BN's input is the layer's output itself (found by
one eval-mode forward pass): conv -> BN in a ResNet block, Linear -> BatchNorm1d in CIFAR-VGG's
classifier. Layers with no BN after them are kept whole (the paper prunes only channels that
have a scale), and so is the classifier; the shared rules (budget, one channel a layer) are in
channels.py.

Only models with BatchNorm can be slimmed: of the registered models, the CIFAR ResNets
(cifar_resnet20/32/56/110), cifar_vgg, resnet18 and resnet50 have it; digits_mlp, digits_cnn,
mnist1d_cnn, lenet5 and vgg16 (torchvision's, without BN) do not, and get a ValueError that
names the model.
"""

import numpy as np
import torch
from torch import nn

from .channels import ChannelPruning
from .mixins import hooked_forward
from .paper import Paper

PAPER = Paper(
    title="Learning Efficient Convolutional Networks through Network Slimming",
    authors="Zhuang Liu, Jianguo Li, Zhiqiang Shen, Gao Huang, Shoumeng Yan, Changshui Zhang", venue="ICCV",
    year=2017, url="https://arxiv.org/abs/1708.06519",
    bibtex="""@inproceedings{liu2017slimming,
  title = {Learning Efficient Convolutional Networks through Network Slimming},
  author = {Liu, Zhuang and Li, Jianguo and Shen, Zhiqiang and Huang, Gao and Yan, Shoumeng and Zhang, Changshui},
  booktitle = {IEEE International Conference on Computer Vision (ICCV)},
  year = {2017},
  url = {https://arxiv.org/abs/1708.06519}
}""",
    granularity="structured", data_use="data-free", schedule="one-shot",
    keywords="channel pruning, batch normalization, network slimming")


def following_batchnorms(model: nn.Module, modules, example: torch.Tensor) -> dict:
    """{module: the BatchNorm whose input is that module's output} for the given modules, from one
    eval-mode forward pass on `example` (only affine BNs of matching width count)."""
    wanted = {id(m) for m in modules}
    outputs: dict[int, nn.Module] = {}
    alive = []  # keep the outputs referenced so their ids stay unique during the pass
    found: dict = {}

    def record(module, args, output):
        if id(module) in wanted and isinstance(output, torch.Tensor):
            outputs.setdefault(id(output), module)
            alive.append(output)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and args and module.weight is not None:
            source = outputs.get(id(args[0]))
            if source is not None and source not in found and module.weight.numel() == source.weight.shape[0]:
                found[source] = module

    hooked_forward(model, example, model.modules(), record)
    return found


def _registered_name(model: nn.Module) -> str:
    """The registry name of a model with `model`'s parameter names and shapes, else its class name."""
    from ..models import list_models, model_parameters

    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    for name in list_models():
        if {k: v[1] for k, v in model_parameters(name).items()} == shapes:
            return name
    return type(model).__name__


def models_with_batchnorm() -> list[str]:
    """Registered models that have a BatchNorm layer (built on the meta device: nothing allocated)."""
    from ..models import list_models, model_parameters

    return [name for name in list_models()
            if any(kind.startswith("BatchNorm") for kind, _ in model_parameters(name).values())]


class BNSlimming(ChannelPruning):
    paper = PAPER  # shown on its page on the site
    ranking = "global"

    def channel_layers(self):
        if not hasattr(self, "_batchnorms"):
            if self.inputs is not None:
                example = self.inputs[:2]
            elif self.input_shape is not None:
                example = torch.zeros(2, *self.input_shape)
            else:
                raise ValueError("BNSlimming needs the calibration batch or input_shape to find each layer's BatchNorm")
            self._batchnorms = following_batchnorms(self.model, self.prunable[:-1], example)
            if not self._batchnorms:
                raise ValueError(
                    f"bn-slimming needs a BatchNorm after the layers it prunes (it scores a channel by its BN "
                    f"scale |gamma|), and the model {_registered_name(self.model)} has none; registered models "
                    f"with BatchNorm: {', '.join(models_with_batchnorm())}")
        return [m for m in self.prunable[:-1] if m in self._batchnorms]

    def channel_scores(self, module):
        return np.abs(self._batchnorms[module].weight.detach().cpu().double().numpy())
