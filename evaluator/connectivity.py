"""Effective compression: only weights on a path from the input to the output compute anything.

A kept weight that no input reaches, or whose output reaches no network output (its layer's
inputs all pruned upstream, or everything it feeds pruned downstream), changes nothing. The
counts follow the model's own graph by running it: the masked network is turned into a
*connectivity network*, run once forward on an all-ones input of one sample's shape in float64,
and the sum of its outputs R is differentiated. Every value in it is >= 0 and an edge carries a
positive value exactly when there is a path through it, so a kept weight is on an
input-to-output path exactly when dR/dw > 0. How each layer type is treated:

- Conv1d/2d/3d and Linear: the weight is replaced by its 0/1 mask (a kept weight counts as 1,
  whatever its value); the bias by 0 (a bias is a source of its own, not a path from the input).
- BatchNorm (eval mode): the identity per channel (mean 0, variance 1, eps 0, weight 1, bias 0):
  it passes connectivity channel by channel.
- Max pooling: replaced by average pooling of the same window, so every position of a window is
  connected (max pooling's gradient would reach one position only).
- ReLU and other activations, average pooling, flattening, residual additions (every branch of a
  sum is a path), concatenation, the option-A shortcut's subsampling and zero padding: as they
  compute; on non-negative inputs they keep positive values positive and zeros zero.
- Any other parameter: 1 when named like a weight, 0 when named `bias`. Other normalisations
  (LayerNorm, GroupNorm) subtract a mean and are not supported; no benchmark model has one.

effective_compression = size / (size_nz - kept weights off every path); effective_speedup =
flops / (flops_nz counting only the weights on a path); `disconnected` when no path is left
(then effective_speedup is None: nothing the masks keep computes an output).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .flops import trace_forward

_MAX_TO_AVG = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}
_ADAPTIVE = {nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d,
             nn.AdaptiveMaxPool3d: nn.AdaptiveAvgPool3d}


def _avg_pool(module: nn.Module) -> nn.Module | None:
    kind = type(module)
    if kind in _MAX_TO_AVG:
        return _MAX_TO_AVG[kind](module.kernel_size, module.stride, module.padding, ceil_mode=module.ceil_mode)
    if kind in _ADAPTIVE:
        return _ADAPTIVE[kind](module.output_size)
    return None


def connectivity_network(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """A float64 eval-mode copy of `model` as described in the module's docstring."""
    net = copy.deepcopy(model).double().eval()
    for name, module in list(net.named_modules()):
        replacement = _avg_pool(module)
        if replacement is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(net.get_submodule(parent_name) if parent_name else net, child, replacement)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eps = 0.0
                if module.running_mean is not None:
                    module.running_mean.zero_()
                    module.running_var.fill_(1.0)
        for name, param in net.named_parameters():
            if name in masks:
                param.copy_(masks[name].to(param.device, torch.float64))
            elif name.rpartition(".")[2] == "bias":
                param.zero_()
            else:
                param.fill_(1.0)
    return net


def on_path(model: nn.Module, example: torch.Tensor, masks: dict[str, torch.Tensor],
            names: list[str]) -> dict[str, torch.Tensor]:
    """Prunable weight name -> boolean tensor: kept by its mask and on an input-output path.
    `masks` maps prunable names to 0/1 tensors (a missing name keeps the whole weight)."""
    full = {n: masks[n] if n in masks else torch.ones_like(dict(model.named_parameters())[n]) for n in names}
    net = connectivity_network(model, full)
    params = dict(net.named_parameters())
    for p in net.parameters():
        p.requires_grad_(False)
    weights = [params[n].requires_grad_(True) for n in names]
    batch = torch.ones((1, *example.shape), dtype=torch.float64, device=weights[0].device if weights else "cpu")
    with torch.enable_grad():
        out = net(batch)
        grads = torch.autograd.grad(out.sum(), weights, allow_unused=True) if weights else []
    return {n: (torch.zeros_like(w, dtype=torch.bool) if g is None else (g > 0) & (full[n].to(g.device) > 0))
            for n, w, g in zip(names, weights, grads)}


def effective_metrics(model: nn.Module, example: torch.Tensor, masks: dict[str, torch.Tensor],
                      size: int, size_nz: int, flops: int) -> dict:
    """effective_compression, effective_speedup and disconnected (see the module's docstring)."""
    from .metrics import _eval_mode, prunable_parameters

    prunable = prunable_parameters(model)
    names = list(prunable)
    effective = on_path(model, example, masks, names)
    kept = {n: int(torch.count_nonzero(masks[n])) if n in masks else prunable[n].numel() for n in names}
    off_path = sum(kept[n] - int(effective[n].sum()) for n in names)
    param = next(model.parameters(), None)
    batch = example.unsqueeze(0).to(param.device if param is not None else "cpu")
    with torch.inference_mode(), _eval_mode(model):
        positions = trace_forward(model, batch).positions
    flops_eff = sum(positions.get(n, 0) * int(effective[n].sum()) for n in names)
    size_eff = size_nz - off_path
    disconnected = bool(names) and not any(bool(effective[n].any()) for n in names)
    return {
        "effective_compression": size / size_eff if size_eff else None,
        "effective_speedup": flops / flops_eff if flops_eff else None,
        "disconnected": disconnected,
    }
