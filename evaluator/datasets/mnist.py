"""MNIST from the four uncompressed IDX files, already on disk in torchvision's layout.

    <root>/MNIST/raw/   train-images-idx3-ubyte, train-labels-idx1-ubyte,
                        t10k-images-idx3-ubyte,  t10k-labels-idx1-ubyte

Train: the official 60,000 less a held-out validation split of ``min(5000, 10%)`` images
(5,000 here), drawn by numpy ``default_rng(0)``. Val: those 5,000. Test: the official 10,000.
Images become (1, 28, 28) tensors normalised by the training mean/std (0.1307, 0.3081).
No augmentation: LeNet-5 on MNIST is conventionally trained without it.
"""

from __future__ import annotations

from pathlib import Path

from torchvision import datasets as tvd
from torchvision import transforms as T

from .registry import (
    Splits,
    TransformedSubset,
    holdout_indices,
    holdout_size,
    register_dataset,
    require_files,
)

MEAN, STD = (0.1307,), (0.3081,)
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@register_dataset
def mnist(root: Path) -> Splits:
    layout = f"the four uncompressed MNIST IDX files there ({', '.join(FILES)})"
    require_files("MNIST", root / "MNIST" / "raw", FILES, layout)

    plain = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    official_train = tvd.MNIST(root, train=True, download=False)
    official_test = tvd.MNIST(root, train=False, download=False)
    n = len(official_train)
    train_idx, val_idx = holdout_indices(n, holdout_size(n))
    return Splits(
        train=TransformedSubset(official_train, train_idx, plain),
        val=TransformedSubset(official_train, val_idx, plain),
        test=TransformedSubset(official_test, range(len(official_test)), plain),
        num_classes=10,
        input_shape=(1, 28, 28),
    )
