"""LAMP: layer-adaptive magnitude-based pruning (Lee, Park, Mo, Ahn & Shin, ICLR 2021, "Layer-adaptive
Sparsity for the Magnitude-based Pruning", eq. 2).

Within each layer, sort the weights by magnitude in ascending order, indices u = 1..n
(|W[u]| <= |W[v]| for u < v). The LAMP score of the weight at index u is

    score(u) = W[u]^2 / sum_{v >= u} W[v]^2

i.e. its squared magnitude over the squared magnitudes of itself and every larger weight of its
layer. Scores are compared across layers and the weights with the largest scores are kept (one
global threshold). Scores are in (0, 1]; the largest weight of each layer scores exactly 1, so
no layer is left empty while any score-1 weight is kept. Sign: only squares, so no sign issue.
Ties in magnitude are ordered by position (flat C order), the earlier one ranking lower.
"""

import numpy as np

from .base import Pruning
from .helpers import global_fraction_masks
from .paper import Paper


def lamp_scores(weight) -> np.ndarray:
    """LAMP score of every entry of one layer's weight, in the weight's shape (float64)."""
    squares = np.asarray(weight, dtype=np.float64).ravel() ** 2
    order = np.argsort(squares, kind="stable")  # ascending
    ordered = squares[order]
    tail = np.cumsum(ordered[::-1])[::-1]  # sum over v >= u
    scores = np.empty_like(squares)
    scores[order] = np.divide(ordered, tail, out=np.zeros_like(ordered), where=tail > 0)
    return scores.reshape(np.shape(weight))


PAPER = Paper(
    title="Layer-adaptive Sparsity for the Magnitude-based Pruning",
    authors="Jaeho Lee, Sejun Park, Sangwoo Mo, Sungsoo Ahn, Jinwoo Shin", venue="ICLR", year=2021,
    url="https://arxiv.org/abs/2010.07611",
    bibtex="""@inproceedings{lee2021lamp,
  title = {Layer-adaptive Sparsity for the Magnitude-based Pruning},
  author = {Lee, Jaeho and Park, Sejun and Mo, Sangwoo and Ahn, Sungsoo and Shin, Jinwoo},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2021},
  url = {https://arxiv.org/abs/2010.07611}
}""",
    granularity="unstructured", data_use="data-free", schedule="one-shot",
    keywords="magnitude pruning, layerwise sparsity")


class LAMP(Pruning):
    paper = PAPER  # shown on its page on the site

    def model_masks(self):
        scores = {m: {"weight": lamp_scores(p["weight"])} for m, p in self.params().items()}
        return global_fraction_masks(scores, self.fraction)
