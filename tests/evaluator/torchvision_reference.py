"""Protocol 1's CIFAR-10 and MNIST pipeline, kept as the reference for the tensor-resident one.

torchvision's datasets (one PIL image per sample) and transforms, batched by torch's
DataLoader: what `evaluator/datasets` did before the splits became tensors. The tests compare
the new pipeline with it value for value; `benchmarks/data_pipeline.py` and
`benchmarks/gpu_epoch.py` time it as "old".
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets as tvd
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from evaluator.datasets.cifar import CIFAR10_MEAN, CIFAR10_STD, PAD
from evaluator.datasets.mnist import MEAN as MNIST_MEAN
from evaluator.datasets.mnist import STD as MNIST_STD
from evaluator.datasets.registry import Splits, TransformedSubset, holdout_indices, holdout_size


class CIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10 without its MD5 check, which rejects files in the layout that are
    not the real archive (as protocol 1's loader did)."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        with open(Path(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]


def cifar10_splits(root: Path) -> Splits:
    normalize = [T.ToTensor(), T.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    augment = T.Compose([T.RandomCrop(32, padding=PAD), T.RandomHorizontalFlip(), *normalize])
    train, test = CIFAR10(root, train=True), CIFAR10(root, train=False)
    train_idx, val_idx = holdout_indices(len(train), holdout_size(len(train)))
    return Splits(TransformedSubset(train, train_idx, augment),
                  TransformedSubset(train, val_idx, T.Compose(normalize)),
                  TransformedSubset(test, range(len(test)), T.Compose(normalize)), 10, (3, 32, 32))


def mnist_splits(root: Path) -> Splits:
    plain = T.Compose([T.ToTensor(), T.Normalize(MNIST_MEAN, MNIST_STD)])
    train, test = tvd.MNIST(root, train=True), tvd.MNIST(root, train=False)
    train_idx, val_idx = holdout_indices(len(train), holdout_size(len(train)))
    return Splits(TransformedSubset(train, train_idx, plain), TransformedSubset(train, val_idx, plain),
                  TransformedSubset(test, range(len(test)), plain), 10, (1, 28, 28))


def loader(dataset, batch_size: int, generator: torch.Generator | None = None, workers: int = 0):
    """Protocol 1's `make_loader` for an on-disk dataset (its default: no worker processes)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=generator is not None,
                      generator=generator, num_workers=workers, persistent_workers=workers > 0)


def crop_flip(subset: TransformedSubset, position: int, top: int, left: int, flip: bool) -> torch.Tensor:
    """Sample `position` of a CIFAR training subset with the crop at (top, left) of the padded
    image and the flip given, through torchvision's functional transforms on the PIL image."""
    image, _ = subset.base[subset.indices[position]]  # a PIL image: the base has no transform
    image = TF.crop(TF.pad(image, PAD), top, left, 32, 32)
    if flip:
        image = TF.hflip(image)
    return TF.normalize(TF.to_tensor(image), CIFAR10_MEAN, CIFAR10_STD)
