"""Small networks and batches shared by the pruning tests."""

import torch
from torch import nn


def small_cnn():
    """8,496 prunable weights and 58 non-prunable parameters: 64x is reachable."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 10),
    )


def calibration_batch():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(32, 3, 8, 8, generator=generator), torch.randint(0, 10, (32,), generator=generator)
