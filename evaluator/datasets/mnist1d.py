"""MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package: nothing downloads.

``make_dataset(get_dataset_args())`` draws the standard 5,000 signals of length 40 (seed 42):
4,000 train and 1,000 test. A fixed 500 of the 4,000 (numpy ``default_rng(0)``) become the
validation split: 3,500 train, 500 val, 1,000 test. Each item is ((1, 40) float32, 0-d int64).

``mnist1d.data.get_dataset`` is never called: it downloads a pickle from GitHub.
Generating takes about two seconds, so the arrays are cached for the life of the process.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .registry import Splits, holdout_indices, register_dataset

VAL_SIZE = 500


@functools.lru_cache(maxsize=1)
def generate() -> dict[str, np.ndarray]:
    """The standard MNIST-1D arrays, read-only. Leaves the global RNGs as it found them."""
    from mnist1d.data import get_dataset_args, make_dataset  # slow import (matplotlib, scipy)

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())  # seeds `random` and `np.random` globally
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = {
        "x": data["x"].astype(np.float32)[:, None, :],
        "y": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32)[:, None, :],
        "y_test": data["y_test"].astype(np.int64),
    }
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.tensor(x), torch.tensor(y))  # copies: the cache stays intact


@register_dataset
def mnist1d(root: Path) -> Splits:
    """``root`` is not used: the data is generated."""
    a = generate()
    train_idx, val_idx = holdout_indices(len(a["y"]), VAL_SIZE)
    return Splits(
        train=_tensors(a["x"][train_idx], a["y"][train_idx]),
        val=_tensors(a["x"][val_idx], a["y"][val_idx]),
        test=_tensors(a["x_test"], a["y_test"]),
        num_classes=10,
        input_shape=(1, a["x"].shape[-1]),
    )
