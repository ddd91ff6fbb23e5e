"""scikit-learn's 8x8 handwritten digits: 1,797 images that ship with scikit-learn.

Pixels 0..16 are scaled to [0, 1]; each item is ((1, 8, 8) float32, 0-d int64 label).
A fixed permutation (numpy ``default_rng(0)``) splits them 60 / 20 / 20: 1,078 train,
359 val, 360 test (the test split takes the rounding remainder). No augmentation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .registry import SPLIT_SEED, Splits, register_dataset

TRAIN_SHARE, VAL_SHARE = 0.6, 0.2


def split_indices(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) positions into the 1,797 samples of ``load_digits``."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_train, n_val = int(TRAIN_SHARE * n), int(VAL_SHARE * n)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


@register_dataset
def digits(root: Path) -> Splits:
    """``root`` is not used: the data comes with scikit-learn."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

    bunch = load_digits()
    x = torch.tensor(bunch.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(bunch.target, dtype=torch.int64)
    train, val, test = (TensorDataset(x[i], y[i]) for i in split_indices(len(y)))
    return Splits(train, val, test, num_classes=10, input_shape=(1, 8, 8))
