"""The structured track: masks of whole output channels, and the smaller network they make.

A mask on this track keeps or prunes each output channel of a Conv weight (each output neuron of
a Linear weight) whole; `check_channel_masks` refuses anything else, naming the layer and the
first offending channel. The classifier (the last Conv/Linear layer) keeps every output unit:
the classes are not the strategy's to remove.

`remove_channels` then *removes* the pruned channels with Torch-Pruning's dependency graph
(Fang et al., CVPR 2023): the pruned filters go with their biases and the batch norms that
follow, the next layer loses the input channels that read them (through flattening, pooling and
residual additions), and what results is a smaller dense network that runs at a smaller cost
on any hardware. Channels coupled by a residual addition are one channel: the masks must prune
them together, or they are refused. A layer whose outputs the graph cannot follow (e.g. into a
zero-padding shortcut) must keep every channel.

Removal equals masking, checked on every run: on a batch, the removed network's output equals
that of the masked network whose removed channels' biases and batch-norm shifts are zeroed too
(a pruned filter's bias would otherwise still feed the next layer a constant). On a mismatch the
run fails as the evaluator's fault, not the strategy's.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .flops import prunable_modules
from .pruning.mask import Mask, MaskError
from .realize import Realized, dense_macs

# The removed network's output may differ from the masked one's by float rounding only.
RTOL, ATOL = 1e-4, 1e-5


class RemovalMismatch(RuntimeError):
    """Removing the channels changed what the network computes (the evaluator's fault)."""


def pruned_channels(array: np.ndarray) -> np.ndarray:
    """Indices of the output channels (axis 0) a whole-channel mask prunes."""
    return np.flatnonzero(~array.reshape(array.shape[0], -1).any(axis=1))


def channel_masks(model: nn.Module, keep: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Masks from keep sets, the structured track's second format: {"layer.weight": [indices of
    the output channels kept]}; a prunable weight not named keeps every channel. A strategy
    returns `channel_masks(self.model, keep)` from `model_masks()`. MaskError names a bad layer
    or index."""
    weights = {name: tuple(p.shape) for name, p in model.named_parameters()}
    prunable = list(prunable_modules(model).values())
    for name in keep:
        if name not in prunable:
            raise MaskError(f"keep set for {name!r}: not a prunable weight (prunable: {', '.join(prunable)})")
    masks = {}
    for name in prunable:
        shape = weights[name]
        if name not in keep:
            masks[name] = np.ones(shape, dtype=bool)
            continue
        indices = list(keep[name])
        bad = [i for i in indices if not isinstance(i, (int, np.integer)) or not 0 <= i < shape[0]]
        if bad:
            raise MaskError(f"keep set for '{name}' holds {bad[0]!r}, not a channel index in 0..{shape[0] - 1}")
        mask = np.zeros(shape, dtype=bool)
        mask[indices] = True
        masks[name] = mask
    return masks


def check_channel_masks(model: nn.Module, mask: Mask) -> None:
    """MaskError unless every mask is constant per output channel, keeps a channel in every
    layer and keeps every output unit of the classifier."""
    names = list(prunable_modules(model).values())
    for name in names:
        rows = mask[name].reshape(mask[name].shape[0], -1)
        kept, full = rows.any(axis=1), rows.all(axis=1)
        partial = np.flatnonzero(kept & ~full)
        if partial.size:
            j = int(partial[0])
            raise MaskError(
                f"mask for '{name}' prunes part of output channel {j} ({int(rows[j].sum())} of "
                f"{rows.shape[1]} weights kept); on the structured track a mask keeps or prunes whole "
                f"output channels ({partial.size} channel(s) of this layer are partial)")
        if not kept.any():
            raise MaskError(f"mask for '{name}' prunes every output channel; a layer keeps at least one")
    classifier = names[-1]
    cut = pruned_channels(mask[classifier])
    if cut.size:
        raise MaskError(f"mask for '{classifier}' prunes output unit {int(cut[0])} of the classifier; its "
                        f"outputs are the classes and are never removed (keep its mask all ones)")


def _tp():
    import torch_pruning

    return torch_pruning


def _plan(model: nn.Module, mask: Mask, batch: torch.Tensor):
    """The dependency graph of `model` and, per group to prune, (root module, channel indices)."""
    tp = _tp()
    names = prunable_modules(model)
    dg = tp.DependencyGraph().build_dependency(model, example_inputs=batch, verbose=False)
    covered, plan, order = set(), [], list(names)
    for group in dg.get_all_groups(root_module_types=(nn.modules.conv._ConvNd, nn.Linear)):
        members = [dep.target.module for dep, _ in group
                   if dep.target.module in names and dg.is_out_channel_pruning_fn(dep.handler)]
        covered.update(members)
        cuts = {m: tuple(pruned_channels(mask[names[m]]).tolist()) for m in members}
        first = min(members, key=order.index)  # errors name the layers in model order
        widths = {m.weight.shape[0] for m in members}
        cutting = [m for m in sorted(members, key=order.index) if cuts[m]]
        if len(widths) > 1 and cutting:  # joined through an op that changes the channel count
            wider = max(members, key=lambda m: (m.weight.shape[0], -order.index(m)))
            raise MaskError(
                f"mask for '{names[cutting[0]]}' prunes output channels of a stream the dependency graph "
                f"cannot follow: it joins '{names[wider]}' through a shortcut that changes the channel "
                f"count (zero padding); keep the masks of this stream all ones")
        for other in sorted(members, key=order.index):
            if cuts[other] != cuts[first]:
                diff = sorted(set(cuts[other]) ^ set(cuts[first]))[0]
                raise MaskError(
                    f"masks for '{names[first]}' and '{names[other]}' differ at output channel {diff}: their "
                    f"outputs are added (a residual connection), so they are one channel to keep or prune "
                    f"together")
        if cuts[first]:
            plan.append((first, list(cuts[first])))
    for module, name in names.items():
        if module not in covered and pruned_channels(mask[name]).size:
            raise MaskError(f"mask for '{name}' prunes output channels the dependency graph cannot remove "
                            f"(its outputs go where channels cannot be followed, e.g. a zero-padding "
                            f"shortcut); keep its mask all ones")
    return dg, plan


@torch.no_grad()
def _zero_removed(reference: nn.Module, dg, plan, names_of: dict) -> None:
    """In `reference`, zero every per-channel parameter (weights, biases, batch-norm scale and
    shift) that removing the planned channels deletes on the output side."""
    modules = dict(reference.named_modules())
    for root, idxs in plan:
        group = dg.get_pruning_group(root, dg.get_pruner_of_module(root).prune_out_channels, idxs)
        for dep, dep_idxs in group:
            if not dg.is_out_channel_pruning_fn(dep.handler) or dep.target.module not in names_of:
                continue
            target = modules[names_of[dep.target.module]]
            for param in (getattr(target, "weight", None), getattr(target, "bias", None)):
                if isinstance(param, torch.Tensor) and param.dim() >= 1:
                    param[list(map(int, dep_idxs))] = 0


def remove_channels(model: nn.Module, mask: Mask, batch: torch.Tensor) -> nn.Module:
    """A copy of `model` with the channels the masks prune removed (MaskError for masks the
    dependencies forbid); RemovalMismatch when its output on `batch` is not the masked one's."""
    check_channel_masks(model, mask)
    model = copy.deepcopy(model).eval()
    reference = copy.deepcopy(model)
    names_of = {m: n for n, m in model.named_modules()}
    with torch.no_grad():
        for name, param in reference.named_parameters():
            if name in mask:
                param.mul_(torch.tensor(mask[name], dtype=param.dtype, device=param.device))
    dg, plan = _plan(model, mask, batch)
    _zero_removed(reference, dg, plan, names_of)
    try:
        for root, idxs in plan:
            dg.get_pruning_group(root, dg.get_pruner_of_module(root).prune_out_channels, idxs).prune()
        with torch.inference_mode():
            want, got = reference(batch), model(batch)
    except RuntimeError as exc:
        raise RemovalMismatch(f"removing the channels broke the network ({exc}); the evaluator's fault, "
                              f"reported") from exc
    if got.shape != want.shape or not torch.allclose(got, want, rtol=RTOL, atol=ATOL * max(1.0, want.abs().max().item())):
        worst = (got - want).abs().max().item() if got.shape == want.shape else float("nan")
        raise RemovalMismatch(f"the network with channels removed computes another output than the masked "
                              f"network (largest difference {worst:.3g}); the evaluator's fault, reported")
    return model


def realize_removed(model: nn.Module, mask: Mask, batch: torch.Tensor) -> Realized:
    """The structured track's network: the channels removed, dense, nothing held."""
    removed = remove_channels(model, mask, batch)
    return Realized(model=removed, masks=None, params=sum(p.numel() for p in removed.parameters()),
                    macs=dense_macs(removed, batch))


def structured_reach(model_name: str) -> float:
    """The highest compression (size / size_nz) whole-channel masks can reach on the model, at
    best: the classifier's weight, every non-prunable parameter and one output channel of every
    other Conv/Linear layer kept. An upper bound (couplings may forbid it); built on the meta device."""
    from .models import model_parameters

    params = model_parameters(model_name)
    prunable = [(name, shape) for name, (kind, shape) in params.items()
                if kind in ("Conv1d", "Conv2d", "Conv3d", "Linear") and name.endswith(".weight")]
    size = sum(int(np.prod(shape)) for _, shape in params.values())
    fixed = size - sum(int(np.prod(shape)) for _, shape in prunable)
    classifier = int(np.prod(prunable[-1][1]))
    least = sum(int(np.prod(shape[1:])) for _, shape in prunable[:-1])
    return size / (fixed + classifier + least)
