"""Tiny models for scikit-learn's 8x8 digits (input (1, 8, 8), values in [0, 1]).

The benchmark prunes every Conv/Linear weight and keeps every other parameter, and asks for
compressions up to 64x of the *whole* model. The widths are chosen so that the parameters that
cannot be pruned (biases) stay under a quarter of the 64x budget (total / 64 / 4):

    digits_mlp  64-512-512-10       301,066 params, 1,034 biases (budget quarter 1,176)
    digits_cnn  conv32-conv64-fc128 151,306 params,   234 biases (budget quarter   591)

A 64-256-128-10 MLP would not do: its 394 biases are half of its 64x budget of 794.
No dropout and no BatchNorm, so the only randomness in finetuning is the data order.
ReLUs are not in-place, so forward hooks on a layer see its output unchanged.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model, scaled

MLP_HIDDEN = 512  # digits_mlp's hidden units


@register_model(input_shape=(1, 8, 8), num_classes=10, width=MLP_HIDDEN)
def digits_mlp(num_classes: int = 10, width: int = MLP_HIDDEN) -> nn.Module:
    """A two-hidden-layer ReLU MLP on the flattened 64 pixels, `width` units in each hidden layer
    (the dense frontier's smaller networks, evaluator/frontier.py, are narrower)."""
    width = int(width)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, num_classes),
    )


@register_model(input_shape=(1, 8, 8), num_classes=10, width=1.0)
def digits_cnn(num_classes: int = 10, width: float = 1.0) -> nn.Module:
    """PyTorch's classic MNIST example CNN (conv32, conv64, max-pool, fc128, fc), sized for 8x8.

    The 3x3 convolutions are padded so the 8x8 image keeps its size until the 2x2 pool (-> 4x4),
    and the example's dropout is left out. `width` multiplies every layer's channels (and the
    hidden units), rounded: 0.5 gives conv16-conv32-fc64.
    """
    c1, c2, hidden = (scaled(n, width) for n in (32, 64, 128))
    return nn.Sequential(
        nn.Conv2d(1, c1, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 4 * 4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
