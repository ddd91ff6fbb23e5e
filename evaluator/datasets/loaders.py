"""Batches of a split for training and scoring: ``make_loader`` picks how, by the split's kind.

- ``ResidentSplit`` (CIFAR, MNIST): ``ResidentBatches`` gathers, augments and normalises each
  batch on the run's device: no worker processes, no per-sample work, no host-to-device copy.
- ``TensorDataset`` (the embedded benchmarks): slices of the tensors, as before.
- anything else (ImageNet): torch's DataLoader with decode workers (``decoded.py``).

A shuffled loader draws each epoch's randomness from the run's generator as ``draws.py`` says:
the order of every epoch is protocol 1's, and MNIST's batches are identical to protocol 1's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, TensorDataset

from .decoded import decode_loader
from .draws import crop_flip_draws, epoch_order
from .resident import ResidentSplit


class ResidentBatches:
    """Batches of a ResidentSplit on ``device``: shuffled and augmented by ``generator`` when
    given, else in order (an augmented split needs a generator: its draws must be seeded)."""

    def __init__(self, dataset: ResidentSplit, batch_size: int, generator: torch.Generator | None,
                 device=None):
        if dataset.augmented and generator is None:
            raise ValueError("an augmented split is batched with the run's seeded generator")
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator
        self.device = torch.device(device or "cpu")

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        data, n, size = self.dataset, len(self.dataset), self.batch_size
        stored = data.on(self.device)
        if self.generator is None:
            for start in range(0, n, size):
                images = stored.images[start:start + size]
                yield data.transform(images, stored), stored.labels[start:start + size].clone()
            return
        epoch_seed, order = epoch_order(n, self.generator)
        draws = crop_flip_draws(n, epoch_seed, data.pad) if data.augmented else ()
        order, draws = order.to(self.device), [t.to(self.device) for t in draws]
        for start in range(0, n, size):
            idx = order[start:start + size]
            aug = [t[start:start + size] for t in draws]
            yield (data.transform(stored.images.index_select(0, idx), stored, *aug),
                   stored.labels.index_select(0, idx))


class TensorBatches:
    """Batches of a TensorDataset by slicing, without per-sample collation (tiny datasets)."""

    def __init__(self, dataset: TensorDataset, batch_size: int, generator: torch.Generator | None):
        self.tensors, self.batch_size, self.generator = dataset.tensors, batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.tensors[0]) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.generator is not None else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                idx = order[start:start + self.batch_size]
                yield tuple(t[idx] for t in self.tensors)


def make_loader(dataset: Dataset, batch_size: int, generator: torch.Generator | None = None,
                device=None):
    """Shuffled (seeded by ``generator``) when a generator is given, in order otherwise.
    Resident splits batch on ``device`` (default: the CPU); other loaders yield CPU batches."""
    if isinstance(dataset, ResidentSplit):
        return ResidentBatches(dataset, batch_size, generator, device)
    if isinstance(dataset, TensorDataset):
        return TensorBatches(dataset, batch_size, generator)
    return decode_loader(dataset, batch_size, generator, device)
