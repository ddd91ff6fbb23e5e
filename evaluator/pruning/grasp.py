"""GraSP: gradient signal preservation (Wang, Zhang & Grosse, ICLR 2020, "Picking Winning Tickets
Before Training by Preserving Gradient Flow", eq. 8).

With g = dL/dtheta and H the Hessian of the loss L, removing weights changes the gradient norm
g^T g to first order by -2 delta^T H g; the score of each weight is

    S(-theta) = -theta * (H g)          (elementwise; H g by a Hessian-vector product)

Sign convention (the classic mistake): a *large* score means removing the weight *reduces*
gradient flow the least (or increases it), so the paper removes the weights with the HIGHEST
scores and keeps the LOWEST signed scores, one threshold over the network. Ranking |S| (the
magnitude helpers' default) is wrong: this module ranks the signed score with
`signed=True, largest=False`.

L is the cross-entropy of logits divided by a temperature T = 200 on the calibration batch, as
in the authors' code (alecwangcq/GraSP, `GraSP.py`), to keep softmax gradients from vanishing;
g is taken as a constant in the product (H g = d(g_const . g)/dtheta). The model is in eval mode.
Only the prunable weights are scored; H g is taken over them alone.
"""

import torch
from torch import nn

from .base import Pruning
from .helpers import global_fraction_masks
from .mixins import _to_model_device
from .paper import Paper


PAPER = Paper(
    title="Picking Winning Tickets Before Training by Preserving Gradient Flow",
    authors="Chaoqi Wang, Guodong Zhang, Roger Grosse", venue="ICLR", year=2020,
    url="https://arxiv.org/abs/2002.07376",
    bibtex="""@inproceedings{wang2020grasp,
  title = {Picking Winning Tickets Before Training by Preserving Gradient Flow},
  author = {Wang, Chaoqi and Zhang, Guodong and Grosse, Roger},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2020},
  url = {https://arxiv.org/abs/2002.07376}
}""",
    granularity="unstructured", data_use="data-driven", schedule="one-shot",
    keywords="pruning at initialization, gradient flow, hessian")


class GraSP(Pruning):
    paper = PAPER  # shown on its page on the site
    temperature: float = 200.0

    def loss(self, logits, targets):
        return nn.functional.cross_entropy(logits / self.temperature, targets)

    def scores(self) -> dict:
        """{module: {"weight": S(-theta)}} as numpy float64."""
        weights = [m.weight for m in self.prunable]
        flags = [w.requires_grad for w in weights]
        try:
            for w in weights:
                w.requires_grad_(True)
            with torch.enable_grad():
                inputs = _to_model_device(self.model, self.inputs)
                targets = _to_model_device(self.model, self.outputs)
                grads = torch.autograd.grad(self.loss(self.model(inputs), targets), weights, create_graph=True)
                product = sum((g.detach() * g).sum() for g in grads)
                hessian_grad = torch.autograd.grad(product, weights, allow_unused=True)
        finally:
            for w, flag in zip(weights, flags):
                w.requires_grad_(flag)
        out = {}
        for module, w, hg in zip(self.prunable, weights, hessian_grad):
            hg = torch.zeros_like(w) if hg is None else hg
            out[module] = {"weight": (-w.detach() * hg).double().cpu().numpy()}
        return out

    def model_masks(self):
        return global_fraction_masks(self.scores(), self.fraction, signed=True, largest=False)
