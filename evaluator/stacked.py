"""Several runs of one small model as one: stacked weights, one forward and backward per step.

A run's parameters are rows of one buffer per parameter, shape (runs, P) with P the parameter's
size rounded up to a multiple of PAD elements (the padding is zero, its mask zero, its gradient
zero). Every elementwise op (the optimizer's update, gradient masking) then runs over whole
SIMD vectors only: no element of a run ever falls in a vector loop's scalar tail or at a thread's
chunk boundary that its companions moved, so a run's figures do not depend on which runs share
its batch, nor on its place in it (tested). The model's layers read views of the rows:

- Linear: one batched matmul over the runs (``baddbmm``), each run's batch times its own weights;
- Conv1d/Conv2d: each run's convolution on its own (the sequential kernel, per run);
- ReLU, max-pooling, Flatten: on the runs' batches as one batch (they act per sample).

A model is stackable when it is an ``nn.Sequential`` of those layers alone (no dropout, no
BatchNorm: nothing random, no running statistics), as the embedded benchmarks' models are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAD = 64  # elements: a multiple of every float32 SIMD loop's step (AVX-512 unrolled: 32)
PER_SAMPLE = (nn.ReLU, nn.MaxPool1d, nn.MaxPool2d, nn.Flatten)
CONVS = {nn.Conv1d: F.conv1d, nn.Conv2d: F.conv2d}


def stackable(model: nn.Module) -> bool:
    """An nn.Sequential of Linear, Conv1d/2d (zero padding), ReLU, max-pooling and Flatten."""
    if not isinstance(model, nn.Sequential):
        return False
    for layer in model:
        if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                return False
        elif not isinstance(layer, (nn.Linear, *PER_SAMPLE)):
            return False
    return True


class Stack:
    """The stacked parameters of `runs` copies of `model` (one row per run), their masks, and
    the forward pass of all runs at once."""

    def __init__(self, model: nn.Module, runs: int, masks: list[dict[str, torch.Tensor]]):
        self.model, self.runs = model, runs
        self.shapes = {name: p.shape for name, p in model.named_parameters()}
        # Linear weights are stored transposed, (in, out) per run: the batched matmul reads them
        # as they lie, and its backward writes their gradient as they lie (no transposing copy)
        self.transposed = {f"{i}.weight" for i, layer in enumerate(model) if isinstance(layer, nn.Linear)}
        self.rows: dict[str, torch.Tensor] = {}  # name -> (runs, P) leaf
        self.masks: dict[str, torch.Tensor] = {}  # name -> (runs, P) 0/1, only masked names
        for name, p in model.named_parameters():
            width = -(-p.numel() // PAD) * PAD
            rows = torch.zeros(runs, width, dtype=p.dtype, device=p.device)
            rows[:, :p.numel()] = self._stored(name, p.detach()).reshape(1, -1)
            self.rows[name] = rows.requires_grad_(True)
            if any(name in m for m in masks):
                mask = torch.zeros_like(rows, requires_grad=False)
                for r, m in enumerate(masks):
                    mask[r, :p.numel()] = self._stored(name, m[name]).reshape(-1) if name in m else 1
                self.masks[name] = mask
        self.apply_masks()

    def _stored(self, name: str, t: torch.Tensor) -> torch.Tensor:
        return t.t() if name in self.transposed else t

    def view(self, name: str) -> torch.Tensor:
        """The parameter of every run as stored: (runs, *shape), Linear weights (runs, in, out)."""
        shape, rows = self.shapes[name], self.rows[name]
        if rows.shape[1] != shape.numel():  # padded: a slice (its backward copies, small params only)
            rows = rows[:, :shape.numel()]
        return rows.view(self.runs, *(shape[::-1] if name in self.transposed else shape))

    def run_state(self, r: int) -> dict[str, torch.Tensor]:
        """Run r's parameters, as the model's state dict names and shapes them (copies)."""
        return {name: self._stored(name, self.view(name)[r].detach()).contiguous().clone() for name in self.shapes}

    def params(self) -> list[torch.Tensor]:
        return list(self.rows.values())

    @torch.no_grad()
    def apply_masks(self) -> None:
        for name, mask in self.masks.items():
            self.rows[name].mul_(mask)

    @torch.no_grad()
    def mask_gradients(self) -> None:
        for name, mask in self.masks.items():
            grad = self.rows[name].grad
            if grad is not None:
                grad.mul_(mask)

    @torch.no_grad()
    def pruned_nonzero(self, r: int) -> dict[str, int]:
        out = {}
        for name, mask in self.masks.items():
            bad = int(((self.rows[name][r] != 0) & (mask[r] == 0)).sum())
            if bad:
                out[name] = bad
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (runs, batch, *sample) -> logits (runs, batch, classes), each run its own weights."""
        runs, batch = x.shape[:2]
        for i, layer in enumerate(self.model):
            if isinstance(layer, nn.Linear):
                w = self.view(f"{i}.weight")  # (runs, in, out)
                if layer.bias is not None:
                    x = torch.baddbmm(self.view(f"{i}.bias").unsqueeze(1), x, w)
                else:
                    x = torch.bmm(x, w)
            elif type(layer) in CONVS:
                conv, w = CONVS[type(layer)], self.view(f"{i}.weight")
                b = self.view(f"{i}.bias") if layer.bias is not None else [None] * runs
                x = torch.stack([conv(x[r], w[r], b[r], layer.stride, layer.padding, layer.dilation, layer.groups)
                                 for r in range(runs)])
            else:
                x = layer(x.flatten(0, 1)).unflatten(0, (runs, batch))
        return x
