"""The randomness of one shuffled epoch, drawn on the CPU from the run's seeded generator.

Drawn on the CPU, the same seed gives the same batches on every device. At the start of an
epoch the generator gives, in this order:
1. a 64-bit epoch seed; 2. the epoch's order (``randperm``); 3. a second ``randperm``, discarded.
These are exactly the draws torch's DataLoader made from that generator in protocol 1 (its
workers' base seed, the sampler's permutation, then the permutation its sampler computes for a
second pass it never yields), so every epoch's order is protocol 1's.

The epoch seed seeds the epoch's other randomness (protocol 2; in protocol 1 it came from the
global RNG, one sample at a time, so it depended on which process decoded the sample):
- CIFAR: crop offsets ``randint(0, 2*pad+1, (n, 2))`` (top, left), then flips
  ``rand(n) < 0.5``, one of each per position of the epoch's order;
- on-disk datasets: one seed per position, ``randint(0, 2**62, (n,))``, under which that
  sample's transforms run.
"""

from __future__ import annotations

import torch


def epoch_order(n: int, generator: torch.Generator) -> tuple[int, torch.Tensor]:
    """(epoch seed, order of the n samples) for the next epoch of ``generator``."""
    epoch_seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator))
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)  # protocol 1's discarded draw: keeps later epochs' order
    return epoch_seed, order


def crop_flip_draws(n: int, epoch_seed: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(shifts (n, 2) int64 top/left in [0, 2*pad], flips (n,) bool) for one epoch."""
    generator = torch.Generator().manual_seed(epoch_seed)
    shifts = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    return shifts, torch.rand(n, generator=generator) < 0.5


def sample_seeds(n: int, epoch_seed: int) -> torch.Tensor:
    """One seed per position of the epoch, for transforms that draw from the global RNG."""
    return torch.randint(0, 2**62, (n,), generator=torch.Generator().manual_seed(epoch_seed))
