"""The model registry: every architecture a benchmark can name, with its input shape.

A family module registers a builder with ``@register_model(input_shape=..., num_classes=...)``;
the builder's function name is the model's name and it takes ``num_classes``. A builder that
also takes ``width`` registers its default (``width=512``): the default builds the benchmark's
own model, a smaller one a narrower network of the same kind (the dense frontier,
evaluator/frontier.py).

    get_model("cifar_resnet20")            -> nn.Module with 10 outputs
    get_model("cifar_resnet20", 100)       -> the same architecture with 100 outputs
    get_model("digits_mlp", width=64)      -> the MLP with 64 hidden units per layer
    get_model("resnet21")                  -> ValueError: unknown model 'resnet21'; known: ...

Builders use PyTorch's standard initialisation (or the one their paper names), so two builds
after the same ``torch.manual_seed`` are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]  # build(num_classes=...) -> a freshly initialised module
    input_shape: tuple[int, ...]  # one sample, no batch dimension, e.g. (3, 32, 32)
    num_classes: int  # the default number of outputs
    width: float | None = None  # the default of the builder's `width` (None: it has none)


MODELS: dict[str, ModelSpec] = {}


def register_model(*, input_shape: tuple[int, ...], num_classes: int, width: float | None = None):
    """Register the decorated builder under its function name; `width`: the default of its
    `width` argument, for a builder that has one."""

    def decorator(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = build.__name__
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = ModelSpec(name, build, tuple(input_shape), num_classes, width)
        return build

    return decorator


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None


def scaled(channels: int, width: float) -> int:
    """`channels` times a width multiplier, rounded to the nearest whole channel (at least 1)."""
    return max(1, round(channels * width))


def get_model(name: str, num_classes: int | None = None, *, width: float | None = None) -> nn.Module:
    """A freshly initialised model; ``num_classes`` defaults to the registered one, ``width``
    (for a model that has one) to the registered width: today's model."""
    spec = _spec(name)
    num_classes = spec.num_classes if num_classes is None else num_classes
    if width is None:
        return spec.build(num_classes=num_classes)
    if spec.width is None:
        raise ValueError(f"model {name!r} has no width; the models with one: "
                         f"{', '.join(n for n in list_models() if MODELS[n].width is not None)}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 64 * spec.width:
        raise ValueError(f"width of {name!r} must be a number in (0, {64 * spec.width:g}], got {width!r}")
    return spec.build(num_classes=num_classes, width=width)


def model_input_shape(name: str) -> tuple[int, ...]:
    """The shape of one input sample, without the batch dimension."""
    return _spec(name).input_shape


def model_width(name: str) -> float | None:
    """The model's default width (None: it has no width parameter)."""
    return _spec(name).width


def model_parameters(name: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every parameter of the model by its name ("0.weight", "layer1.0.conv1.weight"): the type
    of the module that holds it ("Linear", "Conv2d") and its shape. Built on torch's meta
    device: no weight is allocated or initialised."""
    import torch

    with torch.device("meta"):
        model = get_model(name)
    return {f"{module_name}.{param_name}" if module_name else param_name: (type(module).__name__, tuple(p.shape))
            for module_name, module in model.named_modules()
            for param_name, p in module.named_parameters(recurse=False)}


def list_models() -> list[str]:
    return sorted(MODELS)
