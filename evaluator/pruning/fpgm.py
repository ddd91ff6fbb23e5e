"""FPGM: filter pruning via geometric median (He, Liu, Wang, Hu & Yang, CVPR 2019, "Filter Pruning
via Geometric Median for Deep Convolutional Neural Networks Acceleration", Section 3.4, eq. 6).

The filters nearest the geometric median of their layer are the most replaceable by the others.
FPGM approximates that by the sum of distances to every other filter of the same layer,

    s_i = sum_j ||F_i - F_j||_2          (F flattened over input channels and kernel positions)

and prunes the filters with the SMALLEST s_i, the same share in every layer (the paper prunes
each layer at one rate). Sign: distances only, so none. The paper's experiments also combine it
with norm-based pruning, and prune softly during training; this is the pure geometric-median
criterion, applied once to the pinned weights before the track's finetuning. Shared rules
(classifier kept, at least one channel a layer, budget met): channels.py.
"""

import numpy as np

from .channels import ChannelPruning
from .paper import Paper


def fpgm_scores(weight) -> np.ndarray:
    """sum_j ||F_i - F_j||_2 for every output channel i of a Conv or Linear weight (float64)."""
    flat = np.asarray(weight, dtype=np.float64).reshape(np.shape(weight)[0], -1)
    squares = (flat ** 2).sum(axis=1)
    distances = squares[:, None] + squares[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(distances, 0.0)
    return np.sqrt(np.maximum(distances, 0.0)).sum(axis=1)


PAPER = Paper(
    title="Filter Pruning via Geometric Median for Deep Convolutional Neural Networks Acceleration",
    authors="Yang He, Ping Liu, Ziwei Wang, Zhilan Hu, Yi Yang", venue="CVPR", year=2019,
    url="https://arxiv.org/abs/1811.00250",
    bibtex="""@inproceedings{he2019fpgm,
  title = {Filter Pruning via Geometric Median for Deep Convolutional Neural Networks Acceleration},
  author = {He, Yang and Liu, Ping and Wang, Ziwei and Hu, Zhilan and Yang, Yi},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2019},
  url = {https://arxiv.org/abs/1811.00250}
}""",
    granularity="structured", data_use="data-free", schedule="one-shot",
    keywords="filter pruning, geometric median")


class FPGM(ChannelPruning):
    paper = PAPER  # shown on its page on the site
    ranking = "uniform"

    def channel_scores(self, module):
        return fpgm_scores(self.module_params(module)["weight"])
