"""Tensor-resident image splits: a whole split as one uint8 tensor, transformed a batch at a time.

CIFAR and MNIST fit in memory (CIFAR-10's 60,000 images are 184 MB as uint8), so they are read
once into one (N, C, H, W) uint8 tensor per split and copied to a device once. Batches are then
gathered, augmented and normalised on that device with a few tensor ops, instead of one PIL
image and a dozen small CPU ops per sample (torchvision's datasets).

The transforms are torchvision's, exactly (tested against them value for value on the CPU; on
CUDA the last bit of a pixel can differ, as torch divides by a constant through its reciprocal):
- ``pad > 0`` (CIFAR training): zero-pad by ``pad``, crop back to the image size at (top, left),
  then mirror left-right when flipped (``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``);
- always: ``/ 255``, ``- mean``, ``/ std`` per channel (``ToTensor``, ``Normalize``).

A split is shared by every run of a worker process and never written to: batches are new
tensors, and its device copies are made once and only read (``ResidentSplit.on``).
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class Stored(NamedTuple):
    """A split's tensors on one device."""

    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    mean: torch.Tensor  # (1, C, 1, 1) float32
    std: torch.Tensor  # (1, C, 1, 1) float32


def crop_flip(images: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor, pad: int) -> torch.Tensor:
    """Crops of the zero-padded (B, C, H, W) batch at ``shifts[b] = (top, left)``, each mirrored
    left-right where ``flips[b]``: one ``gather``, any dtype, on the batch's device."""
    b, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)).view(b, c, -1)
    device = images.device
    rows = shifts[:, :1] + torch.arange(h, device=device)  # (B, H) rows of the padded image
    cols = shifts[:, 1:] + torch.arange(w, device=device)  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    flat = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).view(b, 1, h * w)
    return padded.gather(2, flat.expand(b, c, h * w)).view(b, c, h, w)


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1] -> per-channel standardised; the same float ops, in the same
    order, as torchvision's ToTensor then Normalize, so the values are identical."""
    return images.to(torch.float32).div_(255).sub_(mean).div_(std)


class ResidentSplit(Dataset):
    """One split as tensors: ``images`` (N, C, H, W) uint8, ``labels`` (N,) int64.

    ``indices`` are the samples' positions in the official file order (bookkeeping only).
    ``split[i]`` is one normalised sample, augmented when ``pad`` is set with torchvision's
    draws from the global torch RNG (how a calibration batch is drawn). Batches come from
    ``evaluator.datasets.loaders.ResidentBatches``, whose draws come from the run's generator.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: Sequence[int],
                 mean: Sequence[float], std: Sequence[float], pad: int = 0):
        if images.dtype != torch.uint8 or images.dim() != 4 or len(images) != len(labels):
            raise ValueError("a resident split holds (N, C, H, W) uint8 images and N labels")
        self.images, self.labels = images, labels.to(torch.int64)
        self.indices = [int(i) for i in indices]
        self.mean, self.std, self.pad = tuple(mean), tuple(std), int(pad)
        self._stored: dict[torch.device, Stored] = {}
        self._lock = threading.Lock()

    @classmethod
    def subset(cls, images: np.ndarray, labels: np.ndarray, indices, mean, std, pad: int = 0):
        """The samples at ``indices`` of official arrays, copied into a split of their own."""
        indices = np.asarray(indices, dtype=np.int64)
        return cls(torch.from_numpy(np.ascontiguousarray(images[indices])),
                   torch.from_numpy(np.ascontiguousarray(labels[indices])), indices, mean, std, pad)

    @property
    def augmented(self) -> bool:
        return self.pad > 0


    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        stored = self.on("cpu")
        x = stored.images[i: i + 1]
        if self.pad:  # torchvision's draws, in its order: RandomCrop's top, left; then the flip
            top = torch.randint(0, 2 * self.pad + 1, size=(1,)).item()
            left = torch.randint(0, 2 * self.pad + 1, size=(1,)).item()
            flip = bool(torch.rand(1) < 0.5)
            x = crop_flip(x, torch.tensor([[top, left]]), torch.tensor([flip]), self.pad)
        return normalize(x, stored.mean, stored.std)[0], int(stored.labels[i])

    def on(self, device) -> Stored:
        """The split's tensors on ``device``, copied there on first use and kept for the process."""
        device = torch.empty(0, device=device).device  # "cuda" -> "cuda:0", one key per device
        with self._lock:
            if device not in self._stored:
                shape = (1, -1, 1, 1)
                self._stored[device] = Stored(
                    self.images.to(device), self.labels.to(device),
                    torch.tensor(self.mean, dtype=torch.float32, device=device).view(shape),
                    torch.tensor(self.std, dtype=torch.float32, device=device).view(shape))
            return self._stored[device]

    def transform(self, images: torch.Tensor, stored: Stored, shifts: torch.Tensor | None = None,
                  flips: torch.Tensor | None = None) -> torch.Tensor:
        """A gathered uint8 batch -> the float batch the model sees (augmented when given draws)."""
        if shifts is not None:
            images = crop_flip(images, shifts, flips, self.pad)
        return normalize(images, stored.mean, stored.std)
