"""Activation-weighted magnitude pruning: keep the weights with the largest |w * a|.

a is the module's input on the calibration batch, averaged over the batch and reduced to one
number per input channel (convolutions: mean |a| over positions; Linear: |mean a| per input
feature), see `activation_importance`. GlobalMagAct ranks all prunable weights together;
LayerMagAct keeps the same fraction of every layer; both keep an exact count (ties go to the
earlier weight). These are ShrinkBench's strategies of the same names (jjgo/shrinkbench,
strategies/magnitude.py). Blalock et al. 2020 do not plot them, so there is no figure to
reproduce: they are here as extra data-aware baselines.
"""

import numpy as np

from .base import LayerPruning, Pruning
from .helpers import activation_importance, fraction_mask, global_fraction_masks
from .mixins import ActivationMixin


class GlobalMagAct(ActivationMixin, Pruning):
    def model_masks(self):
        params, activations = self.params(), self.activations()
        importances = {
            m: {"weight": np.abs(activation_importance(p["weight"], activations[m][0]))} for m, p in params.items()
        }
        return global_fraction_masks(importances, self.fraction)


class LayerMagAct(ActivationMixin, LayerPruning, Pruning):
    def layer_masks(self, module):
        weight = self.module_params(module)["weight"]
        inputs, _ = self.module_activations(module)
        return {"weight": fraction_mask(np.abs(activation_importance(weight, inputs)), self.fraction)}
