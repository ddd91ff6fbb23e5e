"""`ChannelPruning`: the base of the built-in structured methods, which prune whole output channels.

A subclass gives one score per output channel of a layer (`channel_scores(module)`, higher is
kept) and says how the channels are ranked (`ranking`); this class turns the scores into masks
under the rules every structured method shares:

- A mask zeroes whole OUTPUT channels: a weight of shape [out, in, ...] gets a mask constant
  along every dim but dim 0. Pruning channel k of a layer zeroes only that layer's row k; the
  next layer's weights that read channel k are kept (removing them is the structured track's
  job, which physically removes the channel).
- The classifier (the last prunable layer: the model's output units, the last Linear of every
  registered model) is never pruned; neither is a layer the method cannot score
  (`channel_layers()` leaves it out, e.g. a layer with no BatchNorm after it for network
  slimming). Every pruned layer keeps at least one channel.
- The masks meet the requested compression over all prunable weights, as everywhere:
  budget = keep_count(fraction, prunable weights) weights are kept at most, so the layers that
  are pruned give up what the kept ones cannot. A compression that cannot be met with one
  channel left in each pruned layer is a ValueError giving the largest reachable compression.
- `ranking = "uniform"`: every pruned layer keeps the same share r of its channels,
  k_l = max(1, floor(r * n_l)) with r the largest share whose weights fit the budget (the
  candidates are the shares j / n_l); then, while a channel still fits, the layer keeping the
  smallest share (ties: the earlier layer) gets its best pruned channel back. Each layer keeps
  its k_l best-scored channels.
- `ranking = "global"`: each pruned layer first keeps its best channel; then the other channels
  of all pruned layers, best score first (ties: earlier layer, then earlier channel), are kept
  until the next one does not fit the budget: one threshold over the whole network.
- Ties in score go to the earlier channel; NaN scores rank lowest.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from torch import nn

from .base import Pruning
from .helpers import keep_count


def channel_mask(shape: tuple[int, ...], keep) -> np.ndarray:
    """0/1 float32 mask of `shape` keeping the output channels (rows of dim 0) listed in `keep`."""
    mask = np.zeros(shape, dtype=np.float32)
    mask[np.asarray(sorted(keep), dtype=np.int64)] = 1
    return mask


def _order(scores) -> np.ndarray:
    """Channel indices, best score first, ties to the earlier channel, NaN last."""
    key = np.asarray(scores, dtype=np.float64).copy()
    key[np.isnan(key)] = -np.inf
    return np.argsort(-key, kind="stable")


def uniform_counts(counts: list[int], sizes: list[int], room: int) -> list[int]:
    """Channels each layer keeps when all keep the same share (see the module's docstring).

    counts: channels per layer; sizes: weights per channel; room: weights the layers may keep.
    Needs sum(sizes) <= room.
    """
    def kept(r: Fraction) -> list[int]:
        return [min(n, max(1, r.numerator * n // r.denominator)) for n in counts]

    def used(k: list[int]) -> int:
        return sum(a * s for a, s in zip(k, sizes))

    shares = sorted({Fraction(j, n) for n in counts for j in range(n + 1)})
    lo, hi = 0, len(shares) - 1  # kept(shares[0]) fits (one channel each); find the last that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if used(kept(shares[mid])) <= room:
            lo = mid
        else:
            hi = mid - 1
    k = kept(shares[lo])
    total = used(k)
    while True:
        fits = [i for i in range(len(k)) if k[i] < counts[i] and total + sizes[i] <= room]
        if not fits:
            return k
        i = min(fits, key=lambda i: (Fraction(k[i], counts[i]), i))
        k[i] += 1
        total += sizes[i]


def global_keep(scores: list[np.ndarray], sizes: list[int], room: int) -> list[list[int]]:
    """Channels each layer keeps under one global ranking (see the module's docstring)."""
    orders = [_order(s) for s in scores]
    keep = [[int(order[0])] for order in orders]
    total = sum(sizes)
    rest = []
    for layer, (s, order) in enumerate(zip(scores, orders)):
        values = np.asarray(s, dtype=np.float64)
        for channel in order[1:]:
            value = values[channel]
            rest.append((-(value if not np.isnan(value) else -np.inf), layer, int(channel)))
    for _, layer, channel in sorted(rest):
        if total + sizes[layer] > room:
            break
        keep[layer].append(channel)
        total += sizes[layer]
    return keep


class ChannelPruning(Pruning):
    """Base of the structured built-ins; implement `channel_scores(module)` and set `ranking`."""

    pattern = "channels"
    ranking = "uniform"  # or "global"

    def channel_scores(self, module: nn.Module) -> np.ndarray:
        """One score per output channel of `module` (higher is kept)."""
        raise NotImplementedError

    def channel_layers(self) -> list[nn.Module]:
        """The layers whose channels are pruned: every prunable layer but the classifier."""
        return self.prunable[:-1]

    def model_masks(self):
        layers = self.channel_layers()
        fixed = [m for m in self.prunable if m not in layers]
        weights = {m: self.module_params(m)["weight"] for m in self.prunable}
        sizes = [int(np.prod(weights[m].shape[1:])) for m in layers]
        counts = [int(weights[m].shape[0]) for m in layers]
        budget = keep_count(self.fraction, sum(w.size for w in weights.values()))
        room = budget - sum(weights[m].size for m in fixed)
        if sum(sizes) > room:
            raise ValueError(self._unreachable(fixed, sum(sizes)))
        scores = [np.asarray(self.channel_scores(m), dtype=np.float64).reshape(-1) for m in layers]
        for module, s, n in zip(layers, scores, counts):
            if s.size != n:
                raise ValueError(f"{type(self).__name__} gave {s.size} channel scores for a layer of {n} channels "
                                 f"({type(module).__name__})")
        if self.ranking == "global":
            keep = global_keep(scores, sizes, room)
        else:
            keep = [list(_order(s)[:k]) for s, k in zip(scores, uniform_counts(counts, sizes, room))]
        masks = {m: {"weight": np.ones(weights[m].shape, dtype=np.float32)} for m in fixed}
        for module, kept in zip(layers, keep):
            masks[module] = {"weight": channel_mask(weights[module].shape, kept)}
        return {m: masks[m] for m in self.prunable}  # model order

    def _unreachable(self, fixed: list[nn.Module], one_each: int) -> str:
        total = sum(p.numel() for p in self.model.parameters())
        prunable = sum(m.weight.numel() for m in self.prunable)
        least = total - prunable + sum(m.weight.numel() for m in fixed) + one_each
        return (f"{type(self).__name__} cannot reach compression {self.compression:g} by pruning whole output "
                f"channels: with the classifier{' and the layers it cannot score' if len(fixed) > 1 else ''} kept "
                f"whole and one channel left in each other layer, {least:,} of the {total:,} parameters remain, "
                f"so the largest reachable compression is {math.floor(total / least * 100) / 100:g}x")
