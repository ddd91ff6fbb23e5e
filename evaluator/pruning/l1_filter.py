"""L1-norm filter pruning (Li, Kadav, Durdanovic, Samet & Graf, ICLR 2017, "Pruning Filters for
Efficient ConvNets", Section 3.1), expressed as masks.

The score of a filter (one output channel of a convolution, one output neuron of a Linear) is
the L1 norm of its weights,

    s_j = sum |F_j|        (over input channels and kernel positions)

and each layer keeps its filters with the largest s_j; a pruned filter is zeroed whole, so every
mask is whole output channels or neurons (tested). Signs: magnitudes only. The paper prunes the
same share of filters in each layer it prunes (choosing the layers by sensitivity analysis, and
leaving the classifier dense); pruneboard's policy counts every Conv/Linear weight, the
classifier included, so here each layer keeps floor(fraction x filters) of its filters, at least
one, then the weight budget round(fraction x prunable) is met exactly as far as whole filters
allow: while over it, the layer keeping the most weights gives up its weakest filter (down to
one; to none only when one filter in every layer is already over the budget, as for
mnist1d-cnn at 64x, whose single filters take 1,413 weights of a 1,258 budget); while a
filter still fits, the layer keeping the smallest share of its filters gets back its strongest
pruned one (ties: the earlier layer). Ties in s_j go to the earlier filter.
The paper also removes the next layer's kernels that read a pruned channel; masks here zero only
the filter itself (the next layer's weights on that channel are kept but see a constant).
"""

import math

import numpy as np

from .base import Pruning
from .helpers import keep_count
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


class L1Filter(Pruning):
    paper = PAPER  # shown on its page on the site

    def model_masks(self):
        weights = [self.module_params(m)["weight"] for m in self.prunable]
        sizes = [int(np.prod(w.shape[1:])) for w in weights]
        counts = [w.shape[0] for w in weights]
        budget = keep_count(self.fraction, sum(s * n for s, n in zip(sizes, counts)))
        kept = [min(n, max(1, math.floor(self.fraction * n))) for n in counts]

        def used():
            return sum(k * s for k, s in zip(kept, sizes))

        for least in (1, 0):  # a layer is emptied only when one filter per layer cannot fit
            while used() > budget and any(k > least for k in kept):
                i = max((i for i in range(len(kept)) if kept[i] > least), key=lambda i: (kept[i] * sizes[i], -i))
                kept[i] -= 1
        while True:
            room = [i for i in range(len(kept)) if kept[i] < counts[i] and used() + sizes[i] <= budget]
            if not room:
                break
            i = min(room, key=lambda i: (kept[i] / counts[i], i))
            kept[i] += 1
        masks = {}
        for module, weight, k in zip(self.prunable, weights, kept):
            order = np.argsort(-filter_norms(weight), kind="stable")  # largest first, earlier on ties
            mask = np.zeros(weight.shape, dtype=np.float32)
            mask[order[:k]] = 1
            masks[module] = {"weight": mask}
        return masks
