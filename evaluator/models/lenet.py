"""LeNet-5 for MNIST (input (1, 28, 28)): LeCun et al. 1998's 6-16-120-84 layout, modernised.

The 32x32 input of the paper is replaced by padding the first 5x5 convolution (28 stays 28);
ReLU replaces the scaled tanh, max-pooling the trainable subsampling, and the C3 layer connects
all 6 maps to all 16 instead of LeCun's partial connection table. (Han et al. 2015's "LeNet-5"
is a different, wider Caffe net with 20/50 filters and 500 hidden units; it is not this one.)
28 -> conv 6 -> pool 14 -> conv 16 -> 10 -> pool 5 -> fc 120 -> fc 84 -> fc 10; 61,706 params.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model


@register_model(input_shape=(1, 28, 28), num_classes=10)
def lenet5(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )
