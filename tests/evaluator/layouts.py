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



def pattern_images(n, shape, rng):
    """uint8 images a model can learn: noise plus a faint square whose position is the label."""
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 200, (n, *shape), dtype=np.uint8)
    side = shape[-1]
    for k in range(10):
        r, c = 2 + (k // 5) * (side // 2), 2 + (k % 5) * (side // 6)
        images[labels == k, ..., r:r + 5, c:c + 4] += 55
    return images, labels


def write_cifar10(root, per_batch, test, seed=1):
    """A learnable CIFAR-10 in the python-version layout: 5 training batches of `per_batch`
    images and a test batch of `test` (``pattern_images``)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test)]:
        images, labels = pattern_images(n, (3, 32, 32), rng)
        write_pickle(folder / name, {"data": images.reshape(n, -1), "labels": labels.tolist()})
    write_pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})


def write_mnist(root, train, test, seed=0):
    """A learnable MNIST in torchvision's raw IDX layout (``pattern_images``)."""
    raw, rng = root / "MNIST" / "raw", np.random.default_rng(seed)
    for prefix, n in (("train", train), ("t10k", test)):
        images, labels = pattern_images(n, (28, 28), rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 0x803)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 0x801)
