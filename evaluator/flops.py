"""Forward-pass counting for `evaluator.metrics`: Conv/Linear MACs and activation elements.

Everything comes from the shapes one real forward pass produces (forward hooks), so padding,
stride, dilation, groups, extra leading dimensions of a Linear input and a module called more
than once are handled by construction. Units: output *positions* (MACs = positions x weight
elements) and tensor *elements*, never bytes.

Not counted, by definition: bias adds, normalisation, activations, pooling, residual adds, and
any weight used outside its module's forward (e.g. `nn.MultiheadAttention` calls its `out_proj`
weight functionally, so no hook sees it). Outputs of non-leaf modules are not activations: they
are the outputs of their leaves, or of functional ops (residual adds, `torch.flatten`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PRUNABLE_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def prunable_modules(model: nn.Module) -> dict[nn.Module, str]:
    """Conv/Linear module -> full name of its weight in `model.named_parameters()`.

    A weight shared by several modules (tied weights) keeps the one name that
    `named_parameters()` gives it; in model order."""
    param_names = {id(p): name for name, p in model.named_parameters()}
    return {
        module: param_names[id(module.weight)]
        for module in model.modules()
        if isinstance(module, PRUNABLE_TYPES) and id(module.weight) in param_names
    }


@dataclass(frozen=True)
class ForwardTrace:
    """What one forward pass of one sample (batch size 1) touched."""

    positions: dict[str, int]  # prunable weight name -> output positions, summed over calls
    activations: int  # elements: the input + every leaf module's output, per call
    activations_nz: int  # nonzero elements among `activations`


def _tensors(value):
    """Tensors inside a module's output (a tensor, or tuples/lists/dicts of them)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def trace_forward(
    model: nn.Module, batch: torch.Tensor, parameters: dict[str, torch.Tensor] | None = None
) -> ForwardTrace:
    """Run `model(batch)` once with forward hooks and count positions and activations.

    `batch` already has its batch dimension of 1. `parameters` (name -> tensor) replace the
    model's own for this call only, through `torch.func.functional_call`; the model's
    parameters are never written. The caller chooses the grad/inference and train/eval mode.
    """
    weight_names = prunable_modules(model)
    positions = dict.fromkeys(weight_names.values(), 0)
    numels = [batch.numel()]
    # Nonzero counts stay tensors until the end: one device sync, not one per module.
    nonzeros = [torch.count_nonzero(batch)]

    def hook(module, _inputs, output):
        if module in weight_names:
            out_features = module.out_features if isinstance(module, nn.Linear) else module.out_channels
            positions[weight_names[module]] += output.numel() // out_features
        if module in leaves:
            for tensor in _tensors(output):
                numels.append(tensor.numel())
                nonzeros.append(torch.count_nonzero(tensor))

    leaves = {m for m in model.modules() if next(m.children(), None) is None}
    handles = [m.register_forward_hook(hook) for m in leaves | weight_names.keys()]
    try:
        if parameters:
            torch.func.functional_call(model, parameters, (batch,), strict=False)
        else:
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return ForwardTrace(
        positions=positions,
        activations=sum(numels),
        activations_nz=int(torch.stack(nonzeros).sum()),
    )
