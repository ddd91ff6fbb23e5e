"""Files in the datasets' real on-disk layouts, for fakes (the tests, benchmarks/cuda_check.py)."""

import pickle

import numpy as np


def write_pickle(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


def write_idx(path, array, magic):
    """An uncompressed IDX file (MNIST): magic, the dimensions, then the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())
