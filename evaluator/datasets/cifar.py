"""CIFAR-10 and CIFAR-100 from the python version of the archives, already extracted on disk.

    <root>/cifar-10-batches-py/   data_batch_1..5, test_batch, batches.meta
    <root>/cifar-100-python/      train, test, meta

Train: the official training set less a held-out validation split of ``min(5000, 10%)``
images (5,000 for the real 50,000; the 10% rule lets tiny fixtures in the same layout work),
drawn by numpy ``default_rng(0)``, with the standard augmentation (random 32x32 crop of the
4-pixel zero-padded image, horizontal flip). Val: the held-out images, not augmented.
Test: the official test set. All three are normalised by the training set's channel mean/std.

Presence of every file is checked first, so a missing dataset raises DatasetNotFound with the
layout. torchvision's MD5 check is then skipped (see ``_Unchecked``): it would re-hash about
180 MB on every load and it rejects small fixtures in the same layout.
"""

from __future__ import annotations

import pickle
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

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)


class _Unchecked:
    """Mixin for torchvision's CIFAR classes: trust files whose presence was already checked.

    Overrides two private methods of torchvision 0.29 (pinned); the fake-CIFAR test guards them.
    """

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        with open(Path(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class _CIFAR10(_Unchecked, tvd.CIFAR10):
    pass


class _CIFAR100(_Unchecked, tvd.CIFAR100):
    pass


def _splits(cls, title: str, root: Path, num_classes: int, mean, std) -> Splits:
    files = [name for name, _md5 in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    layout = f"the python version of {title} extracted there ({', '.join(files)})"
    require_files(title, root / cls.base_folder, files, layout)

    normalize = [T.ToTensor(), T.Normalize(mean, std)]
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), *normalize])
    plain = T.Compose(normalize)
    official_train = cls(root, train=True, download=False)
    official_test = cls(root, train=False, download=False)
    n = len(official_train)
    train_idx, val_idx = holdout_indices(n, holdout_size(n))
    return Splits(
        train=TransformedSubset(official_train, train_idx, augment),
        val=TransformedSubset(official_train, val_idx, plain),
        test=TransformedSubset(official_test, range(len(official_test)), plain),
        num_classes=num_classes,
        input_shape=(3, 32, 32),
    )


@register_dataset
def cifar10(root: Path) -> Splits:
    return _splits(_CIFAR10, "CIFAR-10", root, 10, CIFAR10_MEAN, CIFAR10_STD)


@register_dataset
def cifar100(root: Path) -> Splits:
    return _splits(_CIFAR100, "CIFAR-100", root, 100, CIFAR100_MEAN, CIFAR100_STD)
