"""The strategy API: `Pruning` (also `VisionPruning`) and `LayerPruning`, under ShrinkBench's names.

A submission subclasses `Pruning` and implements `model_masks(self) -> {module: {"weight": mask}}`;
a layerwise one also inherits `LayerPruning` and implements `layer_masks(self, module)`. The
strategy only *computes* masks: the harness validates them (`Mask.validate`), applies them and
finetunes, so there is deliberately no `apply()` here.

Pruning policy (the same for every benchmark and every entry):

- Prunable parameters are the `weight` of every `Conv1d`, `Conv2d`, `Conv3d` and `Linear` module,
  in `model.named_modules()` order. The classifier is INCLUDED: the tiny embedded models could not
  reach 64x otherwise; a layer-collapse flag elsewhere reports a layer left with no weight.
  (The built-in channel methods keep it whole, since pruning its channels removes outputs:
  channels.py.)
  (ShrinkBench skips modules marked `is_classifier`; pruneboard does not.)
- Biases, BatchNorm parameters and everything else are non-prunable and always kept.
- `fraction` is the share of the prunable weights to keep so that the WHOLE model, non-prunable
  parameters included, reaches the requested compression:
      fraction = (total_params / compression - nonprunable_params) / prunable_params
  `compression` must be >= 1; a compression the non-prunable parameters alone already exceed
  is a ValueError that gives the numbers.
- Baselines keep exactly `keep_count(fraction, n)` == round(fraction * n) weights (globally, or
  per layer for the Layer* ones).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
from torch import nn

PRUNABLE_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)

# Names a pruning parameter may not take: they would shadow the API a strategy relies on.
_RESERVED = {"model", "inputs", "outputs", "compression", "fraction", "prunable", "pruning_params",
             "input_shape", "num_classes"}


def _is_prunable(module: nn.Module) -> bool:
    return isinstance(module, PRUNABLE_TYPES) and isinstance(getattr(module, "weight", None), nn.Parameter)


def _prunable_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every prunable module, in `model.named_modules()` order.

    A weight shared by two modules is listed once, under the first module that holds it.
    """
    seen: set[int] = set()
    out = []
    for name, module in model.named_modules():
        if _is_prunable(module) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            out.append((name, module))
    return out


def prunable_parameter_names(model: nn.Module) -> list[str]:
    """Full names ("layer1.0.conv1.weight") of the prunable parameters, in model order."""
    return [f"{name}.weight" if name else "weight" for name, _ in _prunable_modules(model)]


def fraction_to_keep(compression: float, model: nn.Module, prunable_modules) -> float:
    """Share of the prunable weights to keep so the whole model reaches `compression`.

    Only the `weight` of each module in `prunable_modules` counts as prunable; every other
    parameter of `model` is non-prunable and kept. Raises ValueError when compression < 1 or
    when the non-prunable parameters alone exceed total / compression.
    """
    if isinstance(compression, bool) or not isinstance(compression, (int, float, np.integer, np.floating)):
        raise ValueError(f"compression must be a number >= 1, got {compression!r}")
    if not compression >= 1:  # also catches NaN
        raise ValueError(f"compression must be >= 1, got {compression!r}")
    total = sum(p.numel() for p in model.parameters())
    seen: set[int] = set()
    prunable = 0
    for module in prunable_modules:
        if id(module.weight) not in seen:
            seen.add(id(module.weight))
            prunable += module.weight.numel()
    nonprunable = total - prunable
    if prunable == 0:
        if compression == 1:
            return 1.0
        raise ValueError(f"compression {compression:g} cannot be reached: the model has no prunable parameters")
    target = total / compression
    fraction = (target - nonprunable) / prunable
    if fraction <= 0 or not math.isfinite(fraction):
        raise ValueError(
            f"compression {compression:g} cannot be reached: the {nonprunable} non-prunable parameters "
            f"already exceed total/compression = {total}/{compression:g} = {target:.1f}"
        )
    return min(fraction, 1.0)


def _last_width(model: nn.Module) -> int | None:
    """Outputs of the last prunable layer (a Linear's out_features, a Conv's out_channels)."""
    modules = _prunable_modules(model)
    if not modules:
        return None
    last = modules[-1][1]
    return last.out_features if isinstance(last, nn.Linear) else last.out_channels


def get_params(module: nn.Module, recurse: bool = False) -> dict[str, np.ndarray]:
    """{name: numpy copy} of a module's parameters (its own only, unless `recurse`)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.named_parameters(recurse=recurse)}


class Pruning(ABC):
    """Base class of every strategy; ShrinkBench's `Pruning` and `VisionPruning` in one.

    `Pruning(model, inputs=None, outputs=None, compression=1, **pruning_params)` stores every
    extra keyword as an attribute, ShrinkBench style (the harness passes `seed`). `inputs` and
    `outputs` are a calibration batch from the training split: an input tensor and integer labels.

    `input_shape` is one sample's shape (e.g. (1, 8, 8)) and `num_classes` the number of
    outputs, so a data-free method needs no calibration batch: the harness passes both; a
    hand-made instance takes them from `inputs` and from the last prunable layer's outputs.
    """

    seed: int = 0  # the harness passes seed=...; a default keeps hand-made instances usable
    # Which masks the strategy makes: "unstructured" (any 0/1 mask), "channels" (whole output
    # channels, see channels.py) or "N:M" such as "2:4" (nm.py). Tracks read it to choose which
    # built-ins they show; the harness validates the masks, not this label.
    pattern: str = "unstructured"

    def __init__(self, model: nn.Module, inputs=None, outputs=None, compression: float = 1, *,
                 input_shape: tuple[int, ...] | None = None, num_classes: int | None = None, **pruning_params):
        self.model = model
        self.inputs = inputs
        self.outputs = outputs
        self.compression = compression
        if input_shape is None and inputs is not None:
            input_shape = tuple(inputs.shape[1:])
        self.input_shape = None if input_shape is None else tuple(int(n) for n in input_shape)
        self.num_classes = int(num_classes) if num_classes is not None else _last_width(model)
        self.pruning_params = list(pruning_params)
        for key, value in pruning_params.items():
            if key in _RESERVED or callable(getattr(type(self), key, None)):
                raise TypeError(f"pruning parameter '{key}' would shadow {type(self).__name__}.{key}")
            setattr(self, key, value)
        self.prunable = self.prunable_modules()
        self.fraction = fraction_to_keep(compression, model, self.prunable)

    @abstractmethod
    def model_masks(self):
        """Return {module: {"weight": 0/1 array of the weight's shape}} for every prunable module."""

    def can_prune(self, module: nn.Module) -> bool:
        # The harness requires a mask for every Conv/Linear weight; narrowing this only changes
        # `self.prunable` and `self.fraction`, not what Mask.validate expects.
        return _is_prunable(module)

    def prunable_modules(self) -> list[nn.Module]:
        return [m for _, m in _prunable_modules(self.model) if self.can_prune(m)]

    def module_params(self, module: nn.Module, native: bool = False) -> dict[str, np.ndarray]:
        """{"weight": ndarray} for a prunable module; all its own parameters for any other."""
        params = {"weight": module.weight} if _is_prunable(module) else dict(module.named_parameters(recurse=False))
        if native:
            return params
        return {k: v.detach().cpu().numpy().copy() for k, v in params.items()}

    def params(self, only_prunable: bool = True, native: bool = False) -> dict:
        """{module: {"weight": ndarray}} for the prunable modules (numpy copies unless native)."""
        modules = self.prunable if only_prunable else [m for m in self.model.modules() if list(m.parameters(False))]
        return {m: self.module_params(m, native=native) for m in modules}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in self.pruning_params)
        return f"{type(self).__name__}(compression={self.compression!r}{extra})"


VisionPruning = Pruning


class LayerPruning(Pruning):
    """A strategy that decides each layer alone: implement `layer_masks(self, module)`."""

    @abstractmethod
    def layer_masks(self, module: nn.Module):
        """Return {"weight": mask} for one prunable module (None to skip it)."""

    def model_masks(self, prunable=None):
        modules = self.prunable if prunable is None else prunable
        masks = {}
        for module in modules:
            layer = self.layer_masks(module)
            if layer is not None:
                masks[module] = layer
        return masks
