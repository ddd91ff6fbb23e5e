"""RandomPruning: keep a uniformly random set of prunable weights, chosen globally.

The control every pruning method must beat. It keeps exactly keep_count(fraction, N) ==
round(fraction * N) of the N prunable weights, drawn uniformly without replacement over all
prunable weights together, with numpy's default_rng(self.seed) (seed 0 unless given), so the
same seed gives the same mask. Follows ShrinkBench's RandomPruning (jjgo/shrinkbench,
strategies/random.py; Blalock et al. 2020, "What is the State of Neural Network Pruning?",
MLSys), which draws the same fraction in each layer; drawing globally gives the same expected
per-layer sparsity and an exact total count. No specific figure is reproduced.
"""

import numpy as np

from .base import Pruning
from .helpers import keep_count


class RandomPruning(Pruning):
    def model_masks(self):
        params = self.params()
        sizes = [p["weight"].size for p in params.values()]
        total = sum(sizes)
        keep = np.zeros(total, dtype=bool)
        rng = np.random.default_rng(self.seed)
        keep[rng.choice(total, size=keep_count(self.fraction, total), replace=False)] = True
        masks, start = {}, 0
        for (module, p), size in zip(params.items(), sizes):
            masks[module] = {"weight": keep[start : start + size].reshape(p["weight"].shape)}
            start += size
        return masks
