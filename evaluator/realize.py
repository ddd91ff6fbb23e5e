"""What a track makes of (model, masks): the network that is finetuned and scored.

Most tracks hold the masks on the model as it is (`held_masks`): the network run has the dense
shape, its pruned weights held at zero. The structured track removes the pruned channels
(evaluator/structured.py) and runs a smaller dense network; the 2:4 track holds its masks but
counts the MACs a semi-structured sparse kernel does (evaluator/nm.py).

    realized = track.realize(model, mask, batch)      # batch: a few training samples
    train(realized.model, ..., masks=realized.masks)  # None: nothing to hold, the network is dense
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .flops import trace_forward
from .pruning.mask import Mask


@dataclass
class Realized:
    model: nn.Module  # the network finetuned and scored
    masks: Mask | None  # masks held at zero while finetuning; None: the network is dense
    params: int  # elements of the parameters of the network run (a sparse kernel's stored values)
    macs: int  # multiply-accumulates of its Conv/Linear layers for one input, as it is run


def layer_positions(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Prunable weight name -> output positions of one input (MACs = positions x weight elements)."""
    param = next(model.parameters())
    with torch.inference_mode():
        was_training = model.training
        model.eval()
        try:
            return trace_forward(model, example[:1].to(param.device)).positions
        finally:
            model.train(was_training)


def dense_macs(model: nn.Module, example: torch.Tensor) -> int:
    weights = dict(model.named_parameters())
    return sum(n * weights[name].numel() for name, n in layer_positions(model, example).items())


def held_masks(model: nn.Module, mask: Mask, example: torch.Tensor) -> Realized:
    """The model as it is, its pruned weights held at zero: every weight stored and multiplied."""
    return Realized(model=model, masks=mask, params=sum(p.numel() for p in model.parameters()),
                    macs=dense_macs(model, example))
