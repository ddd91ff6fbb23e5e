"""SNIP: single-shot connection sensitivity (Lee, Ajanthan & Torr, ICLR 2019, "SNIP: Single-shot
Network Pruning based on Connection Sensitivity", eq. 6).

Each weight w_j gets an auxiliary gate c_j (the mask, all ones); its connection sensitivity is

    s_j = |g_j| / sum_k |g_k|,    g_j = dL(c * w; D)/dc_j at c = 1  =  w_j * dL/dw_j

with L the cross-entropy on one batch D (here the calibration batch of the training split, the
model in eval mode as every job gets it). The paper keeps the kappa weights with the largest s_j
over the whole network (one global threshold). Sign convention: the *magnitude* |g_j| is
ranked, since removing a weight with a large negative effect on the loss matters as much as a
large positive one. The normalisation does not change the ranking, so these masks are exactly
ShrinkBench's `global-mag-grad` on the same batch (tested); SNIP is listed under its own name
because it is the method papers compare against.
"""

import numpy as np

from .base import Pruning
from .helpers import global_fraction_masks
from .mixins import GradientMixin
from .paper import Paper


PAPER = Paper(
    title="SNIP: Single-shot Network Pruning based on Connection Sensitivity",
    authors="Namhoon Lee, Thalaiyasingam Ajanthan, Philip H. S. Torr", venue="ICLR", year=2019,
    url="https://arxiv.org/abs/1810.02340",
    bibtex="""@inproceedings{lee2019snip,
  title = {{SNIP}: Single-shot Network Pruning based on Connection Sensitivity},
  author = {Lee, Namhoon and Ajanthan, Thalaiyasingam and Torr, Philip H. S.},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2019},
  url = {https://arxiv.org/abs/1810.02340}
}""",
    granularity="unstructured", data_use="data-driven", schedule="one-shot",
    keywords="pruning at initialization, connection sensitivity")


class SNIP(GradientMixin, Pruning):
    paper = PAPER  # shown on its page on the site

    def model_masks(self):
        params, grads = self.params(), self.param_gradients()
        sensitivity = {m: np.abs(p["weight"] * grads[m]["weight"]) for m, p in params.items()}
        total = sum(float(s.sum()) for s in sensitivity.values()) or 1.0
        scores = {m: {"weight": s / total} for m, s in sensitivity.items()}
        return global_fraction_masks(scores, self.fraction)
