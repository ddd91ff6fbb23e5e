"""N:M sparsity and the 2:4 magnitude baseline (`nm-magnitude`).

An N:M mask keeps at most N of every M consecutive weights along the INPUT dimension (dim 1 of a
Conv or Linear weight [out, in, ...]): for a Linear the groups are W[o, 4g:4g+4]; for a
convolution W[o, 4g:4g+4, kh, kw], i.e. consecutive input channels at one output channel and
kernel position, the layout NVIDIA's semi-structured sparse kernels use once a convolution is
lowered to a matrix product with the input channels innermost (and that NVIDIA's ASP library
prunes). With N = 2, M = 4 that is the 2:4 pattern of Ampere and later GPUs (Mishra et al. 2021,
"Accelerating Sparse Deep Neural Networks", arXiv:2104.08378).

`nm-magnitude` (`NMMagnitude`) keeps, in every group, the 2 weights with the largest |w|
(ties: the earlier index in the group; NaN ranks lowest). It is the magnitude baseline of that
paper's recipe (prune 2:4 by magnitude once, then finetune with the mask held). Every prunable
layer whose input dimension is a multiple of 4 follows the pattern, the classifier included (2:4
removes no output); a layer whose input dimension is not (e.g. a first convolution over 1 or 3
image channels) is LEFT DENSE: its mask keeps everything. Which layers a 2:4 track requires to
follow the pattern is the track's rule, not this method's. The pattern fixes the sparsity, so
`compression` is not read: the masks prune half the weights of the layers that follow it.
"""

from __future__ import annotations

import numpy as np

from .base import Pruning
from .paper import Paper


def n_m_masks(weight, n: int, m: int) -> np.ndarray:
    """0/1 float32 mask keeping the n largest |w| in every group of m consecutive weights along dim 1.

    Ties go to the earlier weight of the group; NaN ranks lowest. Raises ValueError when the
    weight has fewer than 2 dims, when dim 1 is not a multiple of m, or unless 0 <= n <= m, m >= 1.
    """
    if isinstance(n, bool) or isinstance(m, bool) or not isinstance(n, (int, np.integer)) \
            or not isinstance(m, (int, np.integer)) or m < 1 or not 0 <= n <= m:
        raise ValueError(f"N:M needs integers 0 <= n <= m and m >= 1, got n={n!r}, m={m!r}")
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim < 2:
        raise ValueError(f"N:M groups run along dim 1 (the input dimension); a weight of shape {weight.shape} has none")
    if weight.shape[1] % m:
        raise ValueError(f"the input dimension {weight.shape[1]} of a weight of shape {weight.shape} "
                         f"is not a multiple of {m}")
    inner = np.moveaxis(weight, 1, -1)  # [out, ..., in]: groups are consecutive along the last axis
    groups = np.abs(inner).reshape(-1, m)
    groups[np.isnan(groups)] = -np.inf
    order = np.argsort(-groups, axis=1, kind="stable")  # largest first, earlier index on ties
    keep = np.zeros(groups.shape, dtype=np.float32)
    np.put_along_axis(keep, order[:, :n], 1.0, axis=1)
    return np.ascontiguousarray(np.moveaxis(keep.reshape(inner.shape), -1, 1))


PAPER = Paper(
    title="Accelerating Sparse Deep Neural Networks",
    authors="Asit Mishra, Jorge Albericio Latorre, Jeff Pool, Darko Stosic, Dusan Stosic, Ganesh Venkatesh, "
            "Chong Yu, Paulius Micikevicius", venue="arXiv", year=2021,
    url="https://arxiv.org/abs/2104.08378",
    bibtex="""@article{mishra2021accelerating,
  title = {Accelerating Sparse Deep Neural Networks},
  author = {Mishra, Asit and Latorre, Jorge Albericio and Pool, Jeff and Stosic, Darko and Stosic, Dusan and Venkatesh, Ganesh and Yu, Chong and Micikevicius, Paulius},
  journal = {arXiv preprint arXiv:2104.08378},
  year = {2021},
  url = {https://arxiv.org/abs/2104.08378}
}""",
    granularity="structured", data_use="data-free", schedule="one-shot",  # 2:4 is semi-structured
    keywords="n:m sparsity, 2:4, magnitude pruning")


class NMMagnitude(Pruning):
    paper = PAPER  # shown on its page on the site
    pattern = "2:4"
    n, m = 2, 4

    def model_masks(self):
        masks = {}
        for module, params in self.params().items():
            weight = params["weight"]
            divisible = weight.ndim >= 2 and weight.shape[1] % self.m == 0
            masks[module] = {"weight": n_m_masks(weight, self.n, self.m) if divisible
                             else np.ones(weight.shape, dtype=np.float32)}
        return masks
