"""Running a strategy class: the one function the sandbox child and trusted baselines share."""

from __future__ import annotations

import torch

from .seeds import seed_everything
from .pruning import Mask, Pruning


def strategy_masks(cls: type[Pruning], model: torch.nn.Module, state: dict[str, torch.Tensor],
                   inputs: torch.Tensor, targets: torch.Tensor, compression: float, seed: int) -> Mask:
    """Masks of `cls` at `compression`, from freshly loaded weights, every generator seeded."""
    model.load_state_dict(state)  # fresh weights: an earlier job cannot leave changes behind
    seed_everything(seed)
    strategy = cls(model, inputs, targets, compression=compression, seed=seed)
    return Mask.from_strategy_output(model, strategy.model_masks())
