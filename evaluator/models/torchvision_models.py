"""ImageNet architectures from torchvision (input (3, 224, 224)), always randomly initialised.

``weights=None`` is passed explicitly: nothing is ever downloaded; a benchmark's pretrained
weights come from the project's own weight store, checked by SHA-256.

torchvision builds its ReLUs in-place. In VGG-16 they follow Conv2d and Linear layers directly,
so a forward hook that keeps a layer's output (activation-based pruning) would see it rectified
afterwards. Every ReLU is therefore switched to out-of-place; the function is the same.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model


def _tv():
    """torchvision, imported on first use: it costs a second of start-up that the sandbox
    child (which imports every model family) should not pay for a small model."""
    from torchvision import models

    return models


def out_of_place(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return model


@register_model(input_shape=(3, 224, 224), num_classes=1000)
def resnet18(num_classes: int = 1000) -> nn.Module:
    return out_of_place(_tv().resnet18(weights=None, num_classes=num_classes))


@register_model(input_shape=(3, 224, 224), num_classes=1000)
def resnet50(num_classes: int = 1000) -> nn.Module:
    return out_of_place(_tv().resnet50(weights=None, num_classes=num_classes))


@register_model(input_shape=(3, 224, 224), num_classes=1000)
def vgg16(num_classes: int = 1000) -> nn.Module:
    return out_of_place(_tv().vgg16(weights=None, num_classes=num_classes))
