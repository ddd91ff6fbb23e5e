"""The 2:4 track: N:M semi-structured sparsity (N = 2 kept of every M = 4).

In every group of 4 consecutive weights along the input dimension (axis 1 of a weight: a
Linear's input features, a convolution's input channels at one kernel position; NVIDIA's
Ampere sparse tensor cores read groups this way) at most 2 are kept. A layer whose input
dimension is not a multiple of 4 (a first convolution on 1 or 3 channels) has no 2:4 layout
and stays dense. `check_nm_masks` refuses anything else, naming the layer and the first bad
group: its output index, kernel position, input channels and its 4 mask values.

The network run holds its masks (as on the default track); what a semi-structured kernel runs
is half the stored values and half the MACs of each 2:4 layer, counted by `realize_nm` from the
same forward trace as every other MAC count (evaluator/flops.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .flops import prunable_modules
from .pruning.mask import Mask, MaskError
from .realize import Realized, layer_positions

N, M = 2, 4


def nm_layers(model: nn.Module) -> dict[str, bool]:
    """Prunable weight name -> whether the layer has a 2:4 layout (input dimension % 4 == 0)."""
    params = dict(model.named_parameters())
    return {name: params[name].shape[1] % M == 0 for name in prunable_modules(model).values()}


def check_nm_masks(model: nn.Module, mask: Mask) -> None:
    """MaskError unless every 2:4 layer keeps at most N of every M and the others stay dense."""
    for name, sparse in nm_layers(model).items():
        array = mask[name]
        if not sparse:
            if not array.all():
                raise MaskError(f"mask for '{name}' prunes weights of a layer with {array.shape[1]} input "
                                f"channels, not a multiple of {M}: it has no {N}:{M} layout and stays dense "
                                f"(keep its mask all ones)")
            continue
        grouped = np.moveaxis(array, 1, -1)  # (out, *kernel, in)
        rows = grouped.reshape(-1, M)  # in order (out, *kernel, group)
        bad = np.flatnonzero(rows.sum(axis=1) > N)
        if bad.size:
            where = np.unravel_index(int(bad[0]), (*grouped.shape[:-1], grouped.shape[-1] // M))
            out, kernel, group = int(where[0]), tuple(int(k) for k in where[1:-1]), int(where[-1])
            at = f", kernel position {kernel}" if kernel else ""
            values = [int(v) for v in rows[bad[0]]]
            raise MaskError(f"mask for '{name}' keeps more than {N} of {M} in group {group} (output {out}{at}, "
                            f"input channels {M * group}..{M * group + M - 1}): {values}; on the {N}:{M} "
                            f"track every group of {M} consecutive weights along the input dimension keeps "
                            f"at most {N} ({bad.size} bad group(s) in this layer)")


def realize_nm(model: nn.Module, mask: Mask, batch: torch.Tensor) -> Realized:
    """The model with its masks held; params and MACs as a 2:4 kernel stores and runs them."""
    params = dict(model.named_parameters())
    sparse = nm_layers(model)
    positions = layer_positions(model, batch)
    macs = sum(n * params[name].numel() * (N / M if sparse[name] else 1) for name, n in positions.items())
    stored = sum(p.numel() for p in model.parameters()) - sum(
        params[name].numel() * (M - N) // M for name, is_sparse in sparse.items() if is_sparse)
    return Realized(model=model, masks=mask, params=int(stored), macs=int(macs))
