"""The 1-D ConvNet of the MNIST-1D paper (Greydanus 2020, ``ConvBase``), widened to 128 channels.

Input (1, 40). Three Conv1d layers with stride 2 and ReLU (kernel 5, then 3 and 3, padding 1)
take the length 40 -> 19 -> 10 -> 5, and a Linear reads the flattened 128 x 5 features.

The paper uses 25 channels (about 5k parameters). The benchmark prunes every Conv/Linear weight
and keeps the biases, up to 64x compression of the whole model, so the biases must stay under a
quarter of total / 64. With C channels the biases grow like 3C and the weights like 6C^2, which
needs C >= 122; at C = 64 the 202 biases would be 46% of the 64x budget. At C = 128:
105,738 parameters, 394 biases, budget quarter 413.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model, scaled

CHANNELS = 128
LENGTH = 40


@register_model(input_shape=(1, LENGTH), num_classes=10, width=1.0)
def mnist1d_cnn(num_classes: int = 10, width: float = 1.0) -> nn.Module:
    """`width` multiplies the channels, rounded (0.25: 32 channels)."""
    c = scaled(CHANNELS, width)
    return nn.Sequential(
        nn.Conv1d(1, c, kernel_size=5, stride=2, padding=1),  # 40 -> 19
        nn.ReLU(),
        nn.Conv1d(c, c, kernel_size=3, stride=2, padding=1),  # 19 -> 10
        nn.ReLU(),
        nn.Conv1d(c, c, kernel_size=3, stride=2, padding=1),  # 10 -> 5
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c * 5, num_classes),
    )
