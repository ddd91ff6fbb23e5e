"""The CIFAR ResNets of He et al. 2016 ("Deep Residual Learning", section 4.2), depth 6n + 2.

A 3x3 convolution with 16 filters, then three stages of n basic blocks with 16, 32 and 64
filters on 32x32, 16x16 and 8x8 maps, then global average pooling and a fully connected layer.

Shortcuts are **option A**, as in the paper's CIFAR experiments: identity where shapes match,
and where a stage halves the map and doubles the width, the input is subsampled (stride 2) and
zero-padded with the missing channels. Option A adds no parameters, which is what gives the
paper's counts (0.27M, 0.46M, 0.85M, 1.7M): with 10 classes ResNet-20 has 269,722 parameters,
-32 464,154, -56 853,018 and -110 1,727,962.

Initialisation: He (kaiming) normal for the convolutions, ones/zeros for BatchNorm, PyTorch's
default for the final layer. ReLUs are not in-place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


class PadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and zero-pad the channels from ``cin`` up to ``cout``."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        changes_shape = stride != 1 or cin != cout
        self.shortcut = PadShortcut(cin, cout, stride) if changes_shape else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2, not {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(16, 16, n, stride=1)
        self.layer2 = self._stage(16, 32, n, stride=2)
        self.layer3 = self._stage(32, 64, n, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _stage(cin: int, cout: int, blocks: int, stride: int) -> nn.Sequential:
        first = BasicBlock(cin, cout, stride)
        return nn.Sequential(first, *(BasicBlock(cout, cout, 1) for _ in range(blocks - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model(input_shape=(3, 32, 32), num_classes=10)
def cifar_resnet20(num_classes: int = 10) -> nn.Module:
    return CifarResNet(20, num_classes)


@register_model(input_shape=(3, 32, 32), num_classes=10)
def cifar_resnet32(num_classes: int = 10) -> nn.Module:
    return CifarResNet(32, num_classes)


@register_model(input_shape=(3, 32, 32), num_classes=10)
def cifar_resnet56(num_classes: int = 10) -> nn.Module:
    return CifarResNet(56, num_classes)


@register_model(input_shape=(3, 32, 32), num_classes=10)
def cifar_resnet110(num_classes: int = 10) -> nn.Module:
    return CifarResNet(110, num_classes)
