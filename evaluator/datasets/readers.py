"""Raw readers for the on-disk layouts of CIFAR and MNIST: files in, one uint8 array out.

No PIL and no per-image work: a CIFAR batch file is one pickled (N, 3072) uint8 array, an IDX
file is a header and the bytes. Both give (N, C, H, W) uint8 images and int64 labels, in file
order, which is the order torchvision's ``CIFAR10``/``MNIST`` datasets index them in.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

# IDX type codes (the third byte of the magic number) -> numpy dtype, big-endian on disk.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An uncompressed IDX file (MNIST): two zero bytes, the type, the rank, the sizes, the data."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an uncompressed IDX file")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(rank))
    data = np.frombuffer(raw, dtype=_IDX_TYPES[raw[2]], offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: the header says {shape}, the file holds {data.size} values")
    return data.reshape(shape)


def read_mnist(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 28, 28) uint8 images and int64 labels of ``<prefix>-images/labels-idx?-ubyte``."""
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte").astype(np.uint8)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte").astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} {prefix} images but {len(labels)} labels")
    return images[:, None], labels


def read_cifar(folder: Path, files: list[str], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 32, 32) uint8 images and int64 labels of the python-version batch files, in order."""
    images, labels = [], []
    for name in files:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(entry[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)
