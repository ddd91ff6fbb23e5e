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


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(out)))


class ResidualNet(nn.Module):
    """A stem, two residual blocks with batch norm (identity shortcuts), pooling, a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.block1, self.block2 = ResidualBlock(8), ResidualBlock(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.block2(self.block1(torch.relu(self.bn(self.stem(x)))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def residual_net():
    """ResidualNet with batch-norm statistics and affine parameters drawn away from 1 and 0,
    in eval mode, so a removal that mishandled batch norm would show."""
    torch.manual_seed(0)
    net = ResidualNet()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
            module.weight.data.normal_()
            module.bias.data.normal_()
    return net.eval()
