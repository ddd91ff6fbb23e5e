"""The dataset registry: every dataset a benchmark can name, as fixed train/val/test splits.

    get_dataset("digits")                 -> Splits(train, val, test, num_classes, input_shape)
    get_dataset("cifar10", "/data")       -> reads /data/cifar-10-batches-py; never downloads
    get_dataset("cifar11")                -> ValueError: unknown dataset 'cifar11'; known: ...

A family registers ``def name(root: Path) -> Splits`` with ``@register_dataset`` (or
``@register_dataset("other-name")``). Registration loads nothing: data is read when
``get_dataset`` is called. The validation split is always carved out of the official training
data with a fixed permutation (numpy ``default_rng(0)``), so early stopping never sees the test
split. Data on disk that is missing raises ``DatasetNotFound``, naming the path and the layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from torch.utils.data import Dataset

DATA_ROOT_ENV = "PRUNEBOARD_DATA_ROOT"
DEFAULT_DATA_ROOT = "./data"
SPLIT_SEED = 0


@dataclass(frozen=True)
class Splits:
    train: Dataset  # items are (x: float tensor of input_shape, y: int or 0-d long tensor)
    val: Dataset  # held out from the official training data, never augmented
    test: Dataset  # the official test split
    num_classes: int
    input_shape: tuple[int, ...]  # one sample, no batch dimension


class DatasetNotFound(FileNotFoundError):
    """Data that must already be on disk is not; the message names the path and the layout."""


DATASETS: dict[str, Callable[[Path], Splits]] = {}


def register_dataset(name_or_loader: str | Callable | None = None):
    """Register a loader under its function name, or under the name given."""

    def decorator(loader: Callable[[Path], Splits], name: str | None = None):
        name = name or loader.__name__
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        DATASETS[name] = loader
        return loader

    if callable(name_or_loader):
        return decorator(name_or_loader)
    return lambda loader: decorator(loader, name_or_loader)


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else $PRUNEBOARD_DATA_ROOT, else ./data, as an absolute path."""
    if root is None:
        root = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(root).expanduser().absolute()


def get_dataset(name: str, root: str | os.PathLike | None = None) -> Splits:
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}") from None
    return loader(data_root(root))


# Helpers shared by the families that read data from disk.


def require_files(title: str, folder: Path, names: Sequence[str], layout: str) -> None:
    """Raise DatasetNotFound unless every file in ``names`` is inside ``folder``."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        detail = "" if not folder.is_dir() else f" (missing: {', '.join(missing)})"
        raise DatasetNotFound(not_found_message(title, folder, layout) + detail)


def not_found_message(title: str, path: Path, layout: str) -> str:
    return (
        f"{title} not found at {path}; expected {layout}. "
        f"Set {DATA_ROOT_ENV} or pass --data-root. Nothing is downloaded."
    )


def holdout_indices(n: int, n_val: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: ``n_val`` of ``range(n)`` drawn by a fixed permutation, both sorted."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def holdout_size(n_train: int, cap: int = 5000) -> int:
    """The validation share of an official training set: 5000, or 10% of a smaller one."""
    return min(cap, n_train // 10)


class TransformedSubset(Dataset):
    """``base[i]`` for i in ``indices``, with ``transform`` applied to the input.

    One base dataset (loaded once, without a transform) serves both the augmented training
    subset and the plain validation subset. ``indices`` stays readable for bookkeeping.
    """

    def __init__(self, base: Dataset, indices: Sequence[int], transform: Callable | None):
        self.base = base
        self.indices = [int(i) for i in indices]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        x, y = self.base[self.indices[i]]
        return (self.transform(x) if self.transform else x), y
