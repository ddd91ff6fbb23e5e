"""Datasets read from disk a sample at a time (ImageNet): torch's DataLoader, decode workers.

Workers: ``PRUNEBOARD_LOADER_WORKERS``, a count, or ``auto`` (the default): the CPU cores this
process may use divided by ``PRUNEBOARD_GPU_CONCURRENCY`` (runs a GPU worker executes at once,
default 1), at least 1. ``0`` decodes in the run's own process.

The worker count does not change results. A shuffled loader gives each position of the epoch a
seed of its own (``draws.sample_seeds``) and the sample's random transforms run under it, in
whichever process decodes it; torch's DataLoader alone seeds each worker once, so a sample's
augmentation would depend on which worker, and how many, there were.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .draws import epoch_order, sample_seeds

WORKERS_ENV = "PRUNEBOARD_LOADER_WORKERS"
CONCURRENCY_ENV = "PRUNEBOARD_GPU_CONCURRENCY"


def _count(name: str, default: str, minimum: int) -> str | int:
    value = os.environ.get(name, "").strip() or default
    if value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        count = minimum - 1
    if count < minimum:
        raise ValueError(f"{name}={value!r} is not a whole number >= {minimum}"
                         + (" or 'auto'" if name == WORKERS_ENV else ""))
    return count


def loader_workers() -> int:
    """Decode worker processes per loader, from the environment (see the module's docstring)."""
    workers = _count(WORKERS_ENV, "auto", minimum=0)
    if workers != "auto":
        return workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // _count(CONCURRENCY_ENV, "1", minimum=1))


class SeededSampler(Sampler):
    """(index, seed) pairs of an epoch: the order and the seeds come from the run's generator."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        epoch_seed, order = epoch_order(self.n, self.generator)
        return zip(order.tolist(), sample_seeds(self.n, epoch_seed).tolist())


class SeededItems(Dataset):
    """``dataset[i]``; for an ``(i, seed)`` key, computed with the global torch RNG seeded by
    ``seed`` (and restored after, so the caller's random state is left alone)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            return self.dataset[key]
        i, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[i]


def decode_loader(dataset: Dataset, batch_size: int, generator: torch.Generator | None, device=None):
    workers = loader_workers()
    sampler = SeededSampler(len(dataset), generator) if generator is not None else None
    cuda = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
    # A private generator: the DataLoader's own seed draw must touch neither the run's generator
    # (the sampler draws from it) nor the global RNG (the model's dropout draws from it).
    return DataLoader(SeededItems(dataset), batch_size=batch_size, sampler=sampler,
                      generator=torch.Generator(), num_workers=workers,
                      persistent_workers=workers > 0, pin_memory=cuda)
