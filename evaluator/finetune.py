"""Training and evaluation as plain functions: masked finetuning, dense pretraining, scoring.

Pruned weights are held at exactly zero: they start at zero, their gradients are zeroed before
every optimizer step (one fused op) and any optimizer state they carry (momentum, Adam moments)
is zeroed once at the start, so SGD (momentum, weight decay, Nesterov), Adam and AdamW leave
them at exactly zero with no re-zeroing after the step (tested step by step). The runner checks
that every pruned weight is still zero before it scores.

On CUDA the finetuning forward runs under bf16 autocast with channels-last batches (see
`environment.Compute`); parameters, gradients, optimizer state and masks stay float32, and
scoring is float32 everywhere. On the CPU everything is float32, as in protocol 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .benchmarks import FinetuneProtocol
from .datasets.loaders import make_loader
from .environment import Compute
from .seeds import seed_everything  # noqa: F401  (re-exported)

__all__ = ["make_loader"]  # re-exported: loaders live with the datasets


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class MaskedWeights:
    """Holds the pruned entries of masked parameters at exactly zero."""

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor | np.ndarray]):
        named = dict(model.named_parameters())
        self.names = list(masks)
        self.params = [named[name] for name in self.names]
        self.masks = [torch.as_tensor(np.asarray(m) if not torch.is_tensor(m) else m)
                      .to(device=p.device, dtype=p.dtype) for p, m in zip(self.params, masks.values())]

    @torch.no_grad()
    def apply(self) -> None:
        torch._foreach_mul_(self.params, self.masks)

    @torch.no_grad()
    def mask_gradients(self) -> None:
        pairs = [(p.grad, m) for p, m in zip(self.params, self.masks) if p.grad is not None]
        if pairs:
            torch._foreach_mul_([g for g, _ in pairs], [m for _, m in pairs])

    @torch.no_grad()
    def mask_optimizer_state(self, optimizer: torch.optim.Optimizer) -> None:
        for p, m in zip(self.params, self.masks):
            for value in optimizer.state.get(p, {}).values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    value.mul_(m)

    def pruned_nonzero(self) -> dict[str, int]:
        """Pruned entries that are not exactly zero, per parameter (empty when all hold)."""
        out = {}
        for name, p, m in zip(self.names, self.params, self.masks):
            bad = int(((p.detach() != 0) & (m == 0)).sum())
            if bad:
                out[name] = bad
        return out


def make_optimizer(params, protocol: FinetuneProtocol, fused: bool | None = None) -> torch.optim.Optimizer:
    """`fused`: one fused kernel per parameter (batched runs, evaluator/batched.py); None: torch's
    default (on the CPU, one op at a time)."""
    if protocol.optimizer == "sgd":
        return torch.optim.SGD(params, lr=protocol.lr, momentum=protocol.momentum,
                               nesterov=protocol.nesterov, weight_decay=protocol.weight_decay, fused=fused)
    cls = torch.optim.Adam if protocol.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=protocol.lr, weight_decay=protocol.weight_decay, fused=fused)


def make_schedule(optimizer, protocol: FinetuneProtocol, total_steps: int):
    if protocol.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))


def finetune_one_epoch(model, loader, optimizer, schedule, device, masked: MaskedWeights | None,
                       compute: Compute | None = None) -> float:
    """One pass over `loader`; returns the mean training loss.

    `compute` (default: the device's, see `Compute`) says whether the forward runs under bf16
    autocast and batches go channels-last. The loss is summed on the device in float64 and
    read once at the end: no host sync per step, and the same sum as adding `loss.item()`s.
    """
    device = torch.device(device)
    compute = compute if compute is not None else Compute.for_device(device)
    model.train()
    total, count = torch.zeros((), dtype=torch.float64, device=device), 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if compute.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=compute.bf16):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if masked is not None:
            masked.mask_gradients()
        optimizer.step()
        schedule.step()
        total += loss.detach().double() * len(y)
        count += len(y)
    return total.item() / max(count, 1)


@dataclass(frozen=True)
class Scores:
    top1: float
    top5: float
    loss: float
    n: int


@torch.inference_mode()
def evaluate(model: nn.Module, loader, device) -> Scores:
    """Top-1, top-5 and mean loss; every sample of the loader's dataset counted exactly once.
    Always float32. Sums stay on the device (float64 for the loss) and are read once."""
    model.eval()
    device = torch.device(device)
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, top-1 hits, top-5 hits
    n = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        k = min(5, logits.shape[1])
        hits = logits.topk(k, dim=1).indices == y[:, None]
        sums += torch.stack([F.cross_entropy(logits, y, reduction="sum").double(),
                             hits[:, 0].sum().double(), hits.any(dim=1).sum().double()])
        n += len(y)
    expected = len(loader.dataset) if hasattr(loader, "dataset") else len(loader.tensors[0])
    if n != expected:
        raise RuntimeError(f"evaluation saw {n} samples but the split has {expected}")
    loss, correct1, correct5 = sums.tolist()
    return Scores(top1=int(correct1) / n, top5=int(correct5) / n, loss=loss / n, n=n)


@dataclass
class TrainResult:
    best_epoch: int  # 1-based epoch whose weights were kept (0: the starting weights)
    epochs_run: int
    val: Scores  # validation scores of the kept weights
    history: list[dict] = field(default_factory=list)


def train(model: nn.Module, train_set: Dataset, val_set: Dataset, protocol: FinetuneProtocol, *,
          device, seed: int, masks: Mapping[str, torch.Tensor] | None = None,
          optimizer: torch.optim.Optimizer | None = None,
          on_epoch: Callable[[int, dict], None] | None = None,
          compute: Compute | None = None) -> TrainResult:
    """Train under `protocol`, keep the best epoch by validation top-1 (ties: the earliest).

    With `masks`, pruned weights stay exactly zero throughout. The test split is never seen.
    `compute` defaults to the device's (`Compute.for_device`); with channels-last the model's
    4-D weights are converted in place (the same parameters, another memory layout).
    """
    compute = compute if compute is not None else Compute.for_device(device)
    if compute.channels_last:
        model.to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    train_loader = make_loader(train_set, protocol.batch_size, generator, device=device)
    val_loader = make_loader(val_set, max(protocol.batch_size, 256), device=device)
    masked = MaskedWeights(model, masks) if masks else None
    optimizer = optimizer or make_optimizer(model.parameters(), protocol)
    schedule = make_schedule(optimizer, protocol, protocol.epochs * len(train_loader))
    if masked is not None:
        masked.apply()
        masked.mask_optimizer_state(optimizer)

    best_val = evaluate(model, val_loader, device)
    best_state, best_epoch, stale, history = _copy_state(model), 0, 0, []
    epoch = 0
    for epoch in range(1, protocol.epochs + 1):
        loss = finetune_one_epoch(model, train_loader, optimizer, schedule, device, masked, compute)
        val = evaluate(model, val_loader, device)
        row = {"epoch": epoch, "train_loss": loss, "val_top1": val.top1, "val_loss": val.loss}
        history.append(row)
        if on_epoch:
            on_epoch(epoch, row)
        if val.top1 > best_val.top1:
            best_val, best_state, best_epoch, stale = val, _copy_state(model), epoch, 0
        else:
            stale += 1
            if protocol.patience and stale >= protocol.patience:
                break
    model.load_state_dict(best_state)
    return TrainResult(best_epoch=best_epoch, epochs_run=epoch, val=best_val, history=history)


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
