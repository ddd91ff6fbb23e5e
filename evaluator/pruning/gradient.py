"""Gradient-magnitude pruning: keep the weights with the largest |w * dL/dw|.

dL/dw is the gradient of the cross-entropy loss on the calibration batch (training split, model
in eval mode). GlobalMagGrad ranks all prunable weights together; LayerMagGrad keeps the same
fraction of every layer; both keep an exact count (ties, e.g. zero gradients, go to the earlier
weight). These are ShrinkBench's strategies of the same names, which Blalock et al. 2020, "What
is the State of Neural Network Pruning?" (MLSys), Section 7, plot beside magnitude pruning
(figure numbers not checked here); pruneboard follows that comparison, it does not reproduce
its numbers.
"""

import numpy as np

from .base import LayerPruning, Pruning
from .helpers import fraction_mask, global_fraction_masks
from .mixins import GradientMixin


class GlobalMagGrad(GradientMixin, Pruning):
    def model_masks(self):
        params, grads = self.params(), self.param_gradients()
        importances = {m: {"weight": np.abs(p["weight"] * grads[m]["weight"])} for m, p in params.items()}
        return global_fraction_masks(importances, self.fraction)


class LayerMagGrad(GradientMixin, LayerPruning, Pruning):
    def layer_masks(self, module):
        weight = self.module_params(module)["weight"]
        grad = self.module_param_gradients(module)["weight"]
        return {"weight": fraction_mask(np.abs(weight * grad), self.fraction)}
