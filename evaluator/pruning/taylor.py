"""First-order Taylor filter importance (Molchanov, Mallya, Tyree, Frosio & Kautz, CVPR 2019,
"Importance Estimation for Neural Network Pruning", eq. 8, "Taylor FO on weights").

The loss change from removing a group S of parameters (here one output channel's weights) is
estimated to first order, and its square is the importance:

    I_S = ( sum_{s in S} g_s * w_s )^2,     g = dL/dw

with L the cross-entropy on the calibration batch of the training split (the model in eval mode,
as every job gets it; the batch mean, where the paper averages I over several minibatches).
Squared, so the sign of the sum does not matter. Channels with the smallest I_S are pruned, in
one shot before the track's finetuning (the paper prunes a few at a time between finetuning steps).

- `taylor-filters-global` (`TaylorFiltersGlobal`): the paper's setting, one ranking of the raw
  I_S over all layers (no per-layer normalisation).
- `taylor-filters` (`TaylorFilters`): the same score, the same share pruned in every layer.

Shared rules (classifier kept, at least one channel a layer, budget met): channels.py.
"""

import numpy as np

from .channels import ChannelPruning
from .mixins import GradientMixin
from .paper import Paper


def taylor_scores(weight, grad) -> np.ndarray:
    """(sum over the channel's weights of g * w)^2 for every output channel (float64)."""
    product = np.asarray(weight, dtype=np.float64) * np.asarray(grad, dtype=np.float64)
    return product.reshape(product.shape[0], -1).sum(axis=1) ** 2


PAPER = Paper(
    title="Importance Estimation for Neural Network Pruning",
    authors="Pavlo Molchanov, Arun Mallya, Stephen Tyree, Iuri Frosio, Jan Kautz", venue="CVPR", year=2019,
    url="https://arxiv.org/abs/1906.10771",
    bibtex="""@inproceedings{molchanov2019importance,
  title = {Importance Estimation for Neural Network Pruning},
  author = {Molchanov, Pavlo and Mallya, Arun and Tyree, Stephen and Frosio, Iuri and Kautz, Jan},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2019},
  url = {https://arxiv.org/abs/1906.10771}
}""",
    granularity="structured", data_use="data-driven", schedule="one-shot",
    keywords="filter pruning, taylor expansion")


class TaylorFilters(GradientMixin, ChannelPruning):
    paper = PAPER  # shown on its page on the site
    ranking = "uniform"

    def channel_scores(self, module):
        return taylor_scores(self.module_params(module)["weight"], self.module_param_gradients(module)["weight"])


class TaylorFiltersGlobal(TaylorFilters):
    ranking = "global"
