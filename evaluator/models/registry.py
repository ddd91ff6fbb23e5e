"""The model registry: every architecture a benchmark can name, with its input shape.

A family module registers a builder with ``@register_model(input_shape=..., num_classes=...)``;
the builder's function name is the model's name and it takes ``num_classes``.

    get_model("cifar_resnet20")            -> nn.Module with 10 outputs
    get_model("cifar_resnet20", 100)       -> the same architecture with 100 outputs
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


MODELS: dict[str, ModelSpec] = {}


def register_model(*, input_shape: tuple[int, ...], num_classes: int):
    """Register the decorated builder under its function name."""

    def decorator(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = build.__name__
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = ModelSpec(name, build, tuple(input_shape), num_classes)
        return build

    return decorator


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None


def get_model(name: str, num_classes: int | None = None) -> nn.Module:
    """A freshly initialised model; ``num_classes`` defaults to the registered one."""
    spec = _spec(name)
    return spec.build(num_classes=spec.num_classes if num_classes is None else num_classes)


def model_input_shape(name: str) -> tuple[int, ...]:
    """The shape of one input sample, without the batch dimension."""
    return _spec(name).input_shape


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
