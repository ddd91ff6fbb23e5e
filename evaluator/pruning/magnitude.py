"""Magnitude pruning: keep the weights with the largest |w|.

GlobalMagWeight ranks all prunable weights together; LayerMagWeight keeps the same fraction of
every layer. Both keep an exact count (ties go to the earlier weight): round(fraction * N)
globally, round(fraction * n) per layer. These are ShrinkBench's strategies of the same names.
The curves follow the global-vs-layerwise magnitude comparison of Blalock et al. 2020, "What is
the State of Neural Network Pruning?" (MLSys), Section 7, the ShrinkBench experiments (accuracy
vs. compression and vs. theoretical speedup); the figure numbers were not checked here, and
pruneboard's protocol differs, so these follow that comparison rather than reproduce its numbers.
"""

import numpy as np

from .base import LayerPruning, Pruning
from .helpers import fraction_mask, global_fraction_masks, map_importances


class GlobalMagWeight(Pruning):
    def model_masks(self):
        importances = map_importances(np.abs, self.params())
        return global_fraction_masks(importances, self.fraction)


class LayerMagWeight(LayerPruning, Pruning):
    def layer_masks(self, module):
        weight = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(weight), self.fraction)}
