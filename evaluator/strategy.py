"""Running a strategy class: the one function the sandbox child and trusted baselines share.

Every job starts from the same state, so no result can depend on which jobs ran before it:
- a model freshly built by `build_model()` with the pinned weights loaded (so an earlier job's
  `.double()`, `.to(...)`, registered hooks, replaced submodules or attributes are gone);
- in **eval mode** (`model.training` is False in every module; dropout off, BatchNorm uses its
  running statistics), every parameter with `requires_grad=True`, autograd enabled and float32
  as torch's default dtype;
- its own seed's calibration batch, as fresh tensors (changing them in place reaches no other job);
- the strategy class, its bases and the module that defines it with the attributes they had
  before the job (attributes assigned during a job are undone afterwards; an object mutated in
  place is not: keep no state outside `self`).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable

import torch

from .pruning import Mask, Pruning
from .seeds import seed_everything

_MISSING = object()


@contextmanager
def _attributes_restored(cls: type):
    """Undo, after the block, every attribute assigned or deleted on cls, its bases and its module."""
    owners = [k for k in cls.__mro__ if k is not object]
    module = sys.modules.get(cls.__module__)
    saved = [(k, dict(vars(k))) for k in owners]
    saved_module = dict(vars(module)) if module is not None else None
    try:
        yield
    finally:
        for klass, before in saved:
            for name in set(vars(klass)) - set(before):
                try:
                    delattr(klass, name)
                except (AttributeError, TypeError):
                    pass
            for name, value in before.items():
                if name not in ("__dict__", "__weakref__") and vars(klass).get(name, _MISSING) is not value:
                    setattr(klass, name, value)
        if saved_module is not None:
            for name in set(vars(module)) - set(saved_module):
                del vars(module)[name]
            vars(module).update(saved_module)


def fresh_model(build_model: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A new model with the pinned weights, in eval mode, every parameter requiring grad."""
    model = build_model()
    model.load_state_dict(state)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def strategy_masks(cls: type[Pruning], build_model: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor],
                   inputs: torch.Tensor, targets: torch.Tensor, compression: float, seed: int,
                   num_classes: int) -> Mask:
    """Masks of `cls` at `compression` on a fresh model (see the module's docstring), seeded."""
    model = fresh_model(build_model, state)
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with _attributes_restored(cls), torch.enable_grad():
            seed_everything(seed)
            strategy = cls(model, inputs.clone(), targets.clone(), compression=compression, seed=seed,
                           input_shape=tuple(inputs.shape[1:]), num_classes=num_classes)
            output = strategy.model_masks()
            return Mask.from_strategy_output(model, output)
    finally:
        torch.set_default_dtype(dtype)
