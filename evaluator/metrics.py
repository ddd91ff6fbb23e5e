"""Model metrics of the standard protocol: size, FLOPs and memory, dense and under a mask.

All counts are for ONE input sample (batch size 1). Units:
- size, memory: elements (numbers), not bytes; `ModelMetrics.memory_bytes` gives float32 bytes.
- flops: multiply-accumulates (MACs) of Conv and Linear layers, from the shapes of a real
  forward pass (see `evaluator.flops`). `torch.utils.flop_counter` reports 2 x MACs.

Masks are `{param_name: 0/1 array of the param's shape}` (torch or numpy), keyed by the full name
from `model.named_parameters()`, covering some or all prunable parameters (the weights of
Conv1d/2d/3d and Linear layers); a missing name or `masks=None` means all ones. Counts of nonzero
weights come from the masks, never from weight values.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from evaluator.flops import prunable_modules, trace_forward

Masks = dict[str, "torch.Tensor | np.ndarray"]


@dataclass(frozen=True)
class ModelMetrics:
    size: int  # elements: every parameter
    size_nz: int  # elements: `size` minus the zeros of the masks
    compression: float  # size / size_nz
    flops: int  # MACs of Conv/Linear layers for one sample
    flops_nz: int  # the same, counting only weights the masks keep
    speedup: float  # flops / flops_nz (1.0 for a model without Conv/Linear calls)
    memory: int  # elements: size + input + every leaf module's output
    memory_nz: int  # elements: size_nz + nonzero elements of the input and leaf outputs, masked

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def memory_bytes(self) -> int:
        """`memory` as float32 bytes (4 per element)."""
        return 4 * self.memory

    @property
    def memory_nz_bytes(self) -> int:
        """`memory_nz` as float32 bytes (4 per element)."""
        return 4 * self.memory_nz


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Parameter name -> weight of every Conv1d/2d/3d and Linear layer, in model order."""
    names = set(prunable_modules(model).values())
    return {name: p for name, p in model.named_parameters() if name in names}


def _checked_masks(model: nn.Module, masks: Masks | None) -> dict[str, torch.Tensor]:
    """Masks as tensors on their parameter's device; ValueError names a bad parameter."""
    if not masks:
        return {}
    prunable = prunable_parameters(model)
    checked = {}
    for name, mask in masks.items():
        if name not in prunable:
            is_param = name in dict(model.named_parameters())
            known = "a parameter that is not prunable" if is_param else "no parameter"
            raise ValueError(f"mask for {name!r} names {known} of the model (prunable: Conv/Linear weights)")
        param = prunable[name]
        tensor = torch.tensor(mask, device=param.device) if isinstance(mask, np.ndarray) else torch.as_tensor(mask, device=param.device)
        if tensor.shape != param.shape:
            raise ValueError(
                f"mask for {name!r} has shape {tuple(tensor.shape)}, the parameter {tuple(param.shape)}"
            )
        if not bool(((tensor == 0) | (tensor == 1)).all()):
            raise ValueError(f"mask for {name!r} holds values other than 0 and 1")
        checked[name] = tensor
    return checked


def _nonzeros(masks: dict[str, torch.Tensor]) -> dict[str, int]:
    return {name: int(torch.count_nonzero(mask)) for name, mask in masks.items()}


@contextmanager
def _eval_mode(model: nn.Module):
    """model.eval() for the block, then every module's own previous mode back."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def model_metrics(model: nn.Module, example: torch.Tensor, masks: Masks | None = None) -> ModelMetrics:
    """Size, FLOPs and memory of `model` on one sample, dense and under `masks`.

    `example` is ONE sample without its batch dimension (e.g. shape (3, 32, 32)). One forward
    pass runs on the model's device, in eval mode and under `torch.inference_mode()`, with the
    masked weights swapped in through `torch.func.functional_call`: the model's weights and its
    modules' train/eval modes are as before when this returns.
    """
    checked = _checked_masks(model, masks)
    prunable = prunable_parameters(model)
    nonzeros = _nonzeros(checked)

    size = sum(p.numel() for p in model.parameters())
    size_nz = size - sum(prunable[name].numel() - nnz for name, nnz in nonzeros.items())

    param = next(model.parameters(), None)
    batch = example.unsqueeze(0).to(param.device if param is not None else "cpu")
    with torch.inference_mode(), _eval_mode(model):
        masked = {name: prunable[name] * mask.to(prunable[name].dtype) for name, mask in checked.items()}
        trace = trace_forward(model, batch, masked)

    flops = sum(n * prunable[name].numel() for name, n in trace.positions.items())
    flops_nz = sum(n * nonzeros.get(name, prunable[name].numel()) for name, n in trace.positions.items())
    return ModelMetrics(
        size=size,
        size_nz=size_nz,
        compression=size / size_nz if size_nz else float("inf"),
        flops=flops,
        flops_nz=flops_nz,
        speedup=flops / flops_nz if flops_nz else (1.0 if flops == 0 else float("inf")),
        memory=size + trace.activations,
        memory_nz=size_nz + trace.activations_nz,
    )


def layer_sparsity(model: nn.Module, masks: Masks | None) -> dict[str, float]:
    """Prunable parameter name -> fraction of its weights the mask zeroes (0.0 if unmasked)."""
    nonzeros = _nonzeros(_checked_masks(model, masks))
    return {
        name: 1.0 - nonzeros[name] / p.numel() if name in nonzeros else 0.0
        for name, p in prunable_parameters(model).items()
    }


def collapsed_layers(model: nn.Module, masks: Masks | None) -> list[str]:
    """Prunable parameter names whose mask keeps no weight at all, in model order."""
    nonzeros = _nonzeros(_checked_masks(model, masks))
    return [name for name in prunable_parameters(model) if nonzeros.get(name) == 0]
