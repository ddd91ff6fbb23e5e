"""MNIST from the four uncompressed IDX files, already on disk in torchvision's layout.

    <root>/MNIST/raw/   train-images-idx3-ubyte, train-labels-idx1-ubyte,
                        t10k-images-idx3-ubyte,  t10k-labels-idx1-ubyte

Train: the official 60,000 less a held-out validation split of ``min(5000, 10%)`` images
(5,000 here), drawn by numpy ``default_rng(0)``. Val: those 5,000. Test: the official 10,000.
Images become (1, 28, 28) tensors normalised by the training mean/std (0.1307, 0.3081).
No augmentation: LeNet-5 on MNIST is conventionally trained without it. The files are read
once into uint8 tensors (``resident.py``), the same images torchvision's ``MNIST`` gives.
"""

from __future__ import annotations

from pathlib import Path

from .readers import read_mnist
from .registry import Splits, holdout_indices, holdout_size, register_dataset, require_files
from .resident import ResidentSplit

MEAN, STD = (0.1307,), (0.3081,)
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@register_dataset
def mnist(root: Path) -> Splits:
    folder = root / "MNIST" / "raw"
    layout = f"the four uncompressed MNIST IDX files there ({', '.join(FILES)})"
    require_files("MNIST", folder, FILES, layout)
    images, labels = read_mnist(folder, "train")
    test_images, test_labels = read_mnist(folder, "t10k")
    train_idx, val_idx = holdout_indices(len(labels), holdout_size(len(labels)))
    return Splits(
        train=ResidentSplit.subset(images, labels, train_idx, MEAN, STD),
        val=ResidentSplit.subset(images, labels, val_idx, MEAN, STD),
        test=ResidentSplit.subset(test_images, test_labels, range(len(test_labels)), MEAN, STD),
        num_classes=10,
        input_shape=(1, 28, 28),
    )
