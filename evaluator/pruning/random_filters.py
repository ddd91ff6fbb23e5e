"""Random filter pruning: the control every structured method must beat.

Every layer but the classifier keeps the same share of its output channels (the uniform rule of
channels.py, which also meets the budget and keeps the classifier), and WHICH channels it keeps
is drawn uniformly at random: each channel gets a score u_j ~ U[0, 1) and the highest are
kept. The scores come from numpy's default_rng(self.seed), drawn layer by layer in model order,
as the unstructured `random` baseline draws its weights, so the same seed gives the same masks.
This is the random-channel baseline of structured-pruning comparisons (e.g. Li et al. 2017,
Section 4, "random filter pruning"); no specific figure is reproduced.
"""

import numpy as np

from .channels import ChannelPruning


class RandomFilters(ChannelPruning):
    ranking = "uniform"

    def model_masks(self):
        rng = np.random.default_rng(self.seed)
        self._draws = {m: rng.random(m.weight.shape[0]) for m in self.channel_layers()}
        return super().model_masks()

    def channel_scores(self, module):
        return self._draws[module]
