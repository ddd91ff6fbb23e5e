"""SynFlow: iterative synaptic flow pruning (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020,
"Pruning neural networks without any data by iteratively conserving synaptic flow", Algorithm 1).

Data-free. The network is linearised: every parameter and buffer is replaced by its absolute
value (BatchNorm in eval mode, so it is an affine map with |running statistics|), computed in
float64. With an all-ones input x = 1 of one sample's shape (`self.input_shape`), the synaptic
flow objective is

    R = 1^T ( prod_l |W^[l]| ) 1         (the sum of the linearised network's outputs)

and the score of a weight is  S(theta) = dR/dtheta * theta  (>= 0: every factor is positive).
Algorithm 1 prunes iteratively: for k = 1..n (n = 100 rounds), mask the weights, compute S on
the masked network, and keep the top fraction^(k/n) of the prunable weights over the whole
network (the exponential schedule: compression^(k/n) at round k), so after n rounds the
requested fraction is kept. Iterating is what avoids layer collapse (Theorem 3 of the paper).
Scores are >= 0, so ranking the magnitude is the same as ranking the signed score.
"""

import copy

import numpy as np
import torch

from .base import Pruning
from .helpers import global_fraction_masks
from .paper import Paper


PAPER = Paper(
    title="Pruning neural networks without any data by iteratively conserving synaptic flow",
    authors="Hidenori Tanaka, Daniel Kunin, Daniel L. K. Yamins, Surya Ganguli", venue="NeurIPS", year=2020,
    url="https://arxiv.org/abs/2006.05467",
    bibtex="""@inproceedings{tanaka2020synflow,
  title = {Pruning neural networks without any data by iteratively conserving synaptic flow},
  author = {Tanaka, Hidenori and Kunin, Daniel and Yamins, Daniel L. K. and Ganguli, Surya},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume = {33},
  year = {2020},
  url = {https://arxiv.org/abs/2006.05467}
}""",
    granularity="unstructured", data_use="data-free", schedule="iterative",
    keywords="pruning at initialization, synaptic flow, layer collapse")


class SynFlow(Pruning):
    paper = PAPER  # shown on its page on the site
    rounds: int = 100

    def _linearised(self):
        """A float64 copy of the model with |every parameter and buffer|, and its prunable modules."""
        model = copy.deepcopy(self.model).double().eval()
        with torch.no_grad():
            for tensor in list(model.parameters()) + list(model.buffers()):
                if tensor.is_floating_point():
                    tensor.abs_()
        copies = dict(model.named_modules())
        names = {module: name for name, module in self.model.named_modules()}
        return model, [copies[names[m]] for m in self.prunable]

    def model_masks(self):
        model, layers = self._linearised()
        dense = [layer.weight.detach().clone() for layer in layers]
        for p in model.parameters():
            p.requires_grad_(False)
        weights = [layer.weight.requires_grad_(True) for layer in layers]
        device = dense[0].device if dense else "cpu"
        ones = torch.ones((1, *self.input_shape), dtype=torch.float64, device=device)
        keep = [torch.ones_like(w) for w in dense]
        masks = {m: {"weight": np.ones(tuple(w.shape), dtype=np.float32)} for m, w in zip(self.prunable, dense)}
        with torch.enable_grad():
            for k in range(1, self.rounds + 1):
                with torch.no_grad():
                    for w, d, m in zip(weights, dense, keep):
                        w.copy_(d * m)
                grads = torch.autograd.grad(model(ones).sum(), weights, allow_unused=True)
                scores = {module: {"weight": (torch.zeros_like(w) if g is None else g * w).detach().cpu().numpy()}
                          for module, w, g in zip(self.prunable, weights, grads)}
                masks = global_fraction_masks(scores, self.fraction ** (k / self.rounds))
                keep = [torch.from_numpy(masks[m]["weight"]).to(device) for m in self.prunable]
        return masks
