"""L1-norm filter pruning (Li, Kadav, Durdanovic, Samet & Graf, ICLR 2017, "Pruning Filters for
Efficient ConvNets", Section 3.1), expressed as masks.

The score of a filter F_j (one output channel of a convolution, one output neuron of a Linear)
is the L1 norm of its weights,

    s_j = ||F_j||_1 = sum |F_j|        (over input channels and kernel positions)

and the filters with the smallest s_j are pruned whole (the rules every structured built-in
shares, classifier kept and budget met, are in channels.py). Signs: magnitudes only.

- `l1-filter` (`L1Filter`): the paper's setting, the same share of filters pruned in every
  layer (the paper chooses which layers to prune by sensitivity analysis; here every layer but
  the classifier is pruned, which is kept dense as in the paper), each layer keeping its largest
  s_j.
- `l1-filter-global` (`L1FilterGlobal`): one ranking over all layers. The paper has no global
  variant; raw L1 norms grow with a filter's fan-in, so, as Torch-Pruning's global pruning does by
  default (`normalizer="mean"`), each layer's norms are divided by their mean over the layer
  before ranking: s_j / mean_k s_k (a layer whose norms are all 0 keeps them as 0).

The paper also removes the next layer's kernels that read a pruned channel; masks here zero
only the filter itself (the structured track removes the channel and what reads it).
"""

import numpy as np

from .channels import ChannelPruning
from .paper import Paper


def filter_norms(weight) -> np.ndarray:
    """L1 norm of each output channel / neuron (axis 0) of a Conv or Linear weight."""
    weight = np.asarray(weight, dtype=np.float64)
    return np.abs(weight.reshape(weight.shape[0], -1)).sum(axis=1)


PAPER = Paper(
    title="Pruning Filters for Efficient ConvNets",
    authors="Hao Li, Asim Kadav, Igor Durdanovic, Hanan Samet, Hans Peter Graf", venue="ICLR", year=2017,
    url="https://arxiv.org/abs/1608.08710",
    bibtex="""@inproceedings{li2017pruning,
  title = {Pruning Filters for Efficient {ConvNets}},
  author = {Li, Hao and Kadav, Asim and Durdanovic, Igor and Samet, Hanan and Graf, Hans Peter},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2017},
  url = {https://arxiv.org/abs/1608.08710}
}""",
    granularity="structured", data_use="data-free", schedule="one-shot",
    keywords="filter pruning, l1 norm")


class L1Filter(ChannelPruning):
    paper = PAPER  # shown on its page on the site
    ranking = "uniform"

    def channel_scores(self, module):
        return filter_norms(self.module_params(module)["weight"])


class L1FilterGlobal(L1Filter):
    ranking = "global"

    def channel_scores(self, module):
        norms = filter_norms(self.module_params(module)["weight"])
        mean = norms.mean()
        return norms / mean if mean > 0 else norms
