"""Numpy helpers for strategies, under ShrinkBench's names (`strategies/utils.py`).

Importances are ShrinkBench-shaped: {module: {param_name: ndarray}}. Every helper takes and
returns numpy arrays; masks come back as 0/1 arrays of the input's dtype, as in ShrinkBench.

Counts and ties. pruneboard checks that a mask keeps no more weights than the compression
allows, so the helpers never keep more than asked:
- `keep_count(fraction, n)` = round(fraction * n), clipped to [0, n], is "the fraction" of n.
- `fraction_mask` and `global_fraction_masks` are exact top-k selections: they keep exactly
  keep_count(...) entries; among equal scores the earlier one (flat C order, then model order)
  wins. ShrinkBench's `fraction_mask` thresholds a quantile and can keep more under ties.
- `fraction_threshold` returns the keep_count-th largest magnitude, so `threshold_mask` (which
  keeps |x| >= threshold, as in ShrinkBench) keeps exactly that many when there are no ties.
  When ties straddle the cut it returns the next larger magnitude instead, so the mask keeps
  fewer, never more. ShrinkBench used np.quantile (interpolating; up to one extra weight, and
  arbitrarily many under ties, e.g. all of them when most scores are 0).
- Scores are compared by magnitude, as `threshold_mask` does; NaN scores rank lowest.

Signed scores. `fraction_mask`, `global_fraction_masks` and `fraction_threshold` take
`signed=False` (rank |score|, ShrinkBench's behaviour) and `largest=True`. With `signed=True`
they rank the score itself: `largest=True` keeps the highest signed scores (SNIP-style
saliencies that are already >= 0 give the same masks either way), `largest=False` keeps the
*lowest* (GraSP keeps the weights whose removal would reduce gradient flow least, i.e. the
lowest signed scores). `signed_threshold_mask` is `threshold_mask` on signed scores. NaN
scores always rank last, whichever end is kept.
"""

from __future__ import annotations

import numpy as np


def keep_count(fraction: float, n: int) -> int:
    """How many of n entries "fraction" keeps: round(fraction * n), clipped to [0, n]."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    return min(n, max(0, int(round(fraction * n))))


def _magnitudes(tensor, signed: bool = False, largest: bool = True) -> np.ndarray:
    """The flat ranking key: larger is kept first (|x| by default, x or -x when signed)."""
    mags = np.asarray(tensor, dtype=np.float64).ravel()
    mags = (mags if largest else -mags) if signed else np.abs(mags)
    mags[np.isnan(mags)] = -np.inf  # NaN ranks lowest
    return mags


def _check_order(signed: bool, largest: bool) -> None:
    if not signed and not largest:
        raise ValueError("largest=False needs signed=True: keeping the smallest magnitudes is "
                         "not a ranking any pruning method uses")


def _top_k(tensor, k: int, signed: bool = False, largest: bool = True) -> np.ndarray:
    """Boolean mask (flat) of the k best-ranked entries; ties go to the earlier position."""
    _check_order(signed, largest)
    mags = _magnitudes(tensor, signed, largest)
    n = mags.size
    keep = np.zeros(n, dtype=bool)
    if k <= 0:
        return keep
    if k >= n:
        keep[:] = True
        return keep
    kth = np.partition(mags, n - k)[n - k]  # the k-th largest
    keep = mags > kth
    tied = np.flatnonzero(mags == kth)
    keep[tied[: k - int(keep.sum())]] = True
    return keep


def _as_mask(keep: np.ndarray, like: np.ndarray) -> np.ndarray:
    like = np.asarray(like)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float32
    return keep.reshape(like.shape).astype(dtype)


def fraction_threshold(tensor, fraction: float, signed: bool = False) -> float:
    """Magnitude threshold such that `threshold_mask` keeps at most keep_count(fraction, n).

    With `signed=True`, a threshold on the scores themselves for `signed_threshold_mask`
    (keeping the highest signed scores).
    """
    mags = _magnitudes(tensor, signed)
    k = keep_count(fraction, mags.size)
    if k == 0:
        return float(np.inf)
    if k == mags.size:
        return float(np.min(mags)) if signed else 0.0
    ordered = np.sort(mags)[::-1]
    threshold = ordered[k - 1]
    if ordered[k] == threshold:  # a tie straddles the cut: drop the whole tied group
        larger = ordered[:k][ordered[:k] > threshold]
        return float(larger[-1]) if larger.size else float(np.inf)
    return float(threshold)


def threshold_mask(tensor, threshold: float) -> np.ndarray:
    """0/1 mask keeping the entries with |x| >= threshold (ShrinkBench semantics; NaN dropped)."""
    tensor = np.asarray(tensor)
    return _as_mask(np.abs(tensor) >= threshold, tensor)


def signed_threshold_mask(tensor, threshold: float) -> np.ndarray:
    """0/1 mask keeping the entries with x >= threshold (the signed score, not |x|; NaN dropped)."""
    tensor = np.asarray(tensor)
    return _as_mask(tensor >= threshold, tensor)


def fraction_mask(tensor, fraction: float, signed: bool = False, largest: bool = True) -> np.ndarray:
    """0/1 mask keeping exactly keep_count(fraction, tensor.size) entries: the largest magnitudes,
    or with `signed=True` the highest (`largest=True`) or lowest (`largest=False`) scores."""
    tensor = np.asarray(tensor)
    return _as_mask(_top_k(tensor, keep_count(fraction, tensor.size), signed, largest), tensor)


def flatten_importances(importances) -> np.ndarray:
    """All importances concatenated into one flat array (module order, then param order)."""
    flat = [np.asarray(v).ravel() for params in importances.values() for v in params.values()]
    return np.concatenate(flat) if flat else np.zeros(0)


def map_importances(fn, importances) -> dict:
    """Apply fn to every array: {module: {param: fn(array)}}."""
    return {module: {name: fn(value) for name, value in params.items()} for module, params in importances.items()}


def importance_masks(importances, threshold: float) -> dict:
    """`threshold_mask` applied to every array with one shared threshold."""
    return map_importances(lambda value: threshold_mask(value, threshold), importances)


def global_fraction_masks(importances, fraction: float, signed: bool = False, largest: bool = True) -> dict:
    """Masks keeping exactly keep_count(fraction, N) largest importances over all arrays together
    (by magnitude; with `signed=True` the highest or, `largest=False`, the lowest scores).

    The exact-count counterpart of fraction_threshold + importance_masks (pruneboard's addition).
    """
    flat = flatten_importances(importances)
    keep = _top_k(flat, keep_count(fraction, flat.size), signed, largest)
    masks, start = {}, 0
    for module, params in importances.items():
        masks[module] = {}
        for name, value in params.items():
            value = np.asarray(value)
            masks[module][name] = _as_mask(keep[start : start + value.size], value)
            start += value.size
    return masks


def activation_importance(weight, activation, norm=1) -> np.ndarray:
    """weight scaled by the size of the input activation each entry multiplies (ShrinkBench).

    `activation` is the module's input on the calibration batch, (N, C, *spatial) for a
    convolution, (N, *, F) for a Linear. It is averaged over the batch, then reduced to one
    number per input channel / feature: the `norm`-norm over the remaining positions divided by
    their count (for a Linear on (N, F) inputs this is |mean activation|). Each weight entry is
    multiplied by the number of the input channel it reads, grouped convolutions included.
    A 1-D `weight` (a bias) is scaled by the mean of those numbers. Take np.abs for an importance.
    """
    weight = np.asarray(weight)
    activation = np.asarray(activation, dtype=np.float64).mean(axis=0)
    if weight.ndim == 2 and activation.ndim >= 1:  # Linear: features are the last axis
        activation = np.moveaxis(activation, -1, 0)
    per_channel = activation.reshape(activation.shape[0], -1)
    norms = np.linalg.norm(per_channel, ord=norm, axis=1) / per_channel.shape[1]
    if weight.ndim <= 1:
        return weight * norms.mean().astype(weight.dtype)
    out_channels, in_per_group = weight.shape[:2]
    if norms.size % in_per_group or out_channels % (norms.size // in_per_group):
        raise ValueError(
            f"activation has {norms.size} input channels, which does not fit a weight of shape {weight.shape}"
        )
    groups = norms.size // in_per_group
    scale = np.repeat(norms.reshape(groups, in_per_group), out_channels // groups, axis=0)  # (out, in/groups)
    scale = scale.reshape(scale.shape + (1,) * (weight.ndim - 2))
    return weight * scale.astype(weight.dtype)
