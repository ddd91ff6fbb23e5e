"""CIFAR-10 and CIFAR-100 from the python version of the archives, already extracted on disk.

    <root>/cifar-10-batches-py/   data_batch_1..5, test_batch, batches.meta
    <root>/cifar-100-python/      train, test, meta

Train: the official training set less a held-out validation split of ``min(5000, 10%)``
images (5,000 for the real 50,000; the 10% rule lets tiny fixtures in the same layout work),
drawn by numpy ``default_rng(0)``, with the standard augmentation (random 32x32 crop of the
4-pixel zero-padded image, horizontal flip). Val: the held-out images, not augmented.
Test: the official test set. All three are normalised by the training set's channel mean/std.

Presence of every file is checked first, so a missing dataset raises DatasetNotFound with the
layout. The batch files are read once into uint8 tensors (``resident.py``): every image is
the same as torchvision's ``CIFAR10`` gives, with no MD5 check (it would re-hash about 180 MB
on every load, and it rejects small fixtures in the same layout).
"""

from __future__ import annotations

from pathlib import Path

from .readers import read_cifar
from .registry import Splits, holdout_indices, holdout_size, register_dataset, require_files
from .resident import ResidentSplit

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
PAD = 4  # pixels of zero padding around the random crop


def _splits(title: str, folder: Path, train_files: list[str], test_files: list[str], meta: str,
            label_key: str, num_classes: int, mean, std) -> Splits:
    files = [*train_files, *test_files, meta]
    layout = f"the python version of {title} extracted there ({', '.join(files)})"
    require_files(title, folder, files, layout)
    images, labels = read_cifar(folder, train_files, label_key)
    test_images, test_labels = read_cifar(folder, test_files, label_key)
    train_idx, val_idx = holdout_indices(len(labels), holdout_size(len(labels)))
    return Splits(
        train=ResidentSplit.subset(images, labels, train_idx, mean, std, pad=PAD),
        val=ResidentSplit.subset(images, labels, val_idx, mean, std),
        test=ResidentSplit.subset(test_images, test_labels, range(len(test_labels)), mean, std),
        num_classes=num_classes,
        input_shape=(3, 32, 32),
    )


@register_dataset
def cifar10(root: Path) -> Splits:
    return _splits("CIFAR-10", root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)],
                   ["test_batch"], "batches.meta", "labels", 10, CIFAR10_MEAN, CIFAR10_STD)


@register_dataset
def cifar100(root: Path) -> Splits:
    return _splits("CIFAR-100", root / "cifar-100-python", ["train"], ["test"], "meta",
                   "fine_labels", 100, CIFAR100_MEAN, CIFAR100_STD)
