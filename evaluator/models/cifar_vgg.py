"""CIFAR-VGG: Zagoruyko 2015, "92.45% on CIFAR-10 in Torch" (cifar.torch, vgg_bn_drop.lua).

VGG-16's thirteen 3x3 convolutions (64-64 / 128-128 / 256x3 / 512x3 / 512x3, a 2x2 max-pool
after each group), each followed by BatchNorm and ReLU, so five pools take 32x32 to 1x1; then a
512-wide classifier: Dropout 0.5, Linear 512->512, BatchNorm, ReLU, Dropout 0.5, Linear.

A faithful port, as ShrinkBench's ``vgg_bn_drop`` is: the original's dropout after every
convolution except the last of each group (0.3 in the first group, 0.4 after) is kept, as are
Torch's BatchNorm eps of 1e-3, ceil-mode pooling and the MSR init of the convolutions
(normal with std sqrt(2 / (k * k * out_channels)), zero bias). About 15.0M parameters.
Dropout is only active in train mode, so it draws from the finetuning seed's RNG.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_model

# (width, convolutions) of each group; a max-pool follows each group.
GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
BN_EPS = 1e-3  # Torch7's default


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout, eps=BN_EPS), nn.ReLU()]


class CifarVGG(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for group, (width, convs) in enumerate(GROUPS):
            for i in range(convs):
                layers += conv_bn_relu(cin, width)
                if i < convs - 1:
                    layers.append(nn.Dropout(0.3 if group == 0 else 0.4))
                cin = width
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(512, 512),
            nn.BatchNorm1d(512, eps=BN_EPS),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


@register_model(input_shape=(3, 32, 32), num_classes=10)
def cifar_vgg(num_classes: int = 10) -> nn.Module:
    return CifarVGG(num_classes)
