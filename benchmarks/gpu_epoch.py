"""Seconds per CIFAR-10 finetuning epoch on a GPU, old vs new pipeline, and masked vs dense.

Writes a synthetic CIFAR-10 of 50,000 training and 10,000 test images in the real on-disk
layout (45,000 train and 5,000 validation after the held-out split), then for CIFAR ResNet-20
and ResNet-56, under the benchmark's finetuning protocol (SGD, Nesterov, batch 128) with the
runner's determinism settings and random masks keeping 1/8 of the weights:
- old: protocol 1's loop, torchvision's CIFAR10 + PIL transforms batched by torch's DataLoader
  in the run's process (protocol 1's default; and with `--old-workers` decode processes),
  fp32, contiguous, `loss.item()` every step;
- new: the tensor-resident split on the device, `finetune.finetune_one_epoch` with the
  device's `Compute` (bf16 autocast and channels-last on CUDA);
- dense: the new pipeline without masks, for the masked/dense ratio.
Then ResNet-20 trains one new-pipeline epoch twice from the same seed and prints how far the
two sets of weights are apart (0 when the device computes deterministically).
An epoch is one training pass over the 45,000 images plus scoring the 5,000 validation images,
as `train` does. Goal (issue 13): a ResNet-20 epoch in <= 1.5 s on an H100-class GPU.
Ends with `seconds=X.XX`, the new ResNet-20 epoch.
Run (GPU machine): `python benchmarks/gpu_epoch.py [--device cuda] [--old-workers 8]`
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluator.benchmarks import get_benchmark  # noqa: E402
from evaluator.datasets import get_dataset  # noqa: E402
from evaluator.environment import Compute, configure_determinism, environment  # noqa: E402
from evaluator.finetune import (MaskedWeights, evaluate, finetune_one_epoch, make_loader,  # noqa: E402
                                make_optimizer, make_schedule)
from evaluator.models import get_model  # noqa: E402
from tests.evaluator import torchvision_reference as reference  # noqa: E402
from tests.evaluator.layouts import write_cifar10  # noqa: E402

PROTOCOL = get_benchmark("cifar10-resnet20").finetune


def old_one_epoch(model, loader, optimizer, schedule, device, masked) -> float:
    """Protocol 1's `finetune_one_epoch`, as it was."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if masked is not None:
            masked.mask_gradients()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / max(count, 1)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name, kind, splits, device, masked_run: bool, epochs: int, workers: int = 0) -> float:
    """Median seconds of one epoch (training pass + validation scoring), after a warm-up epoch."""
    torch.manual_seed(0)
    model = get_model(name).to(device)
    compute = Compute.for_device(device) if kind != "old" else Compute()
    if compute.channels_last:
        model.to(memory_format=torch.channels_last)
    masks = {n: (torch.rand_like(p) > 0.875).float() for n, p in model.named_parameters() if p.dim() > 1}
    masked = MaskedWeights(model, masks) if masked_run else None
    optimizer = make_optimizer(model.parameters(), PROTOCOL)
    generator = torch.Generator().manual_seed(0)
    if kind == "old":
        train = reference.loader(splits.train, PROTOCOL.batch_size, generator, workers=workers)
        val = reference.loader(splits.val, 256, workers=workers)
    else:
        train = make_loader(splits.train, PROTOCOL.batch_size, generator, device=device)
        val = make_loader(splits.val, 256, device=device)
    schedule = make_schedule(optimizer, PROTOCOL, (epochs + 1) * len(train))
    if masked is not None:
        masked.apply()
    times = []
    for epoch in range(epochs + 1):
        sync(device)
        start = time.perf_counter()
        if kind == "old":
            old_one_epoch(model, train, optimizer, schedule, device, masked)
        else:
            finetune_one_epoch(model, train, optimizer, schedule, device, masked, compute)
        evaluate(model, val, device)
        sync(device)
        if epoch:  # the first epoch warms up (allocator, kernels, workers)
            times.append(time.perf_counter() - start)
    if masked is not None:
        assert not masked.pruned_nonzero(), "pruned weights moved"
    seconds = statistics.median(times)
    label = f"{kind}{f' ({workers} decode workers)' if kind == 'old' else ''}"
    steps = math.ceil(len(splits.train) / PROTOCOL.batch_size)
    print(f"  {label:<24} {seconds:7.2f} s/epoch  {seconds / steps * 1e3:7.2f} ms/step  "
          f"{len(splits.train) / seconds:9.0f} images/s", flush=True)
    return seconds


def repeatability(splits, device) -> float:
    """Max |difference| of ResNet-20's weights after one training pass run twice from one seed."""
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = get_model("cifar_resnet20").to(device)
        compute = Compute.for_device(device)
        if compute.channels_last:
            model.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(model.parameters(), PROTOCOL)
        loader = make_loader(splits.train, PROTOCOL.batch_size, torch.Generator().manual_seed(0), device=device)
        schedule = make_schedule(optimizer, PROTOCOL, len(loader))
        finetune_one_epoch(model, loader, optimizer, schedule, device, None, compute)
        weights.append(torch.cat([p.detach().float().flatten() for p in model.parameters()]))
    return float((weights[0] - weights[1]).abs().max())


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--device", default="cuda")
    cli.add_argument("--per-batch", type=int, default=10_000, help="images per training file (x5)")
    cli.add_argument("--models", default="cifar_resnet20,cifar_resnet56")
    cli.add_argument("--epochs", type=int, default=2, help="timed epochs of the new pipeline")
    cli.add_argument("--old-workers", type=int, default=min(8, len(os.sched_getaffinity(0))),
                     help="decode processes for the second old measurement (0: skip it)")
    args = cli.parse_args()
    device = torch.device(args.device)
    configure_determinism(device)
    start = time.perf_counter()
    root = Path(tempfile.mkdtemp())
    write_cifar10(root, per_batch=args.per_batch, test=args.per_batch)
    new_splits, old_splits = get_dataset("cifar10", root), reference.cifar10_splits(root)
    env = environment(device)
    print(f"{env['device_name']} | torch {env['torch_version']} | cuda {env['cuda_version'] or '-'} | "
          f"new: {env['precision']}, channels_last {env['channels_last']} | "
          f"{len(new_splits.train)} train + {len(new_splits.val)} val images", flush=True)
    results = {}
    for name in args.models.split(","):
        print(name, flush=True)
        old = measure(name, "old", old_splits, device, True, 1)
        if args.old_workers:
            measure(name, "old", old_splits, device, True, 1, workers=args.old_workers)
        new = measure(name, "new", new_splits, device, True, args.epochs)
        dense = measure(name, "new, dense", new_splits, device, False, args.epochs)
        results[name] = new
        print(f"  old/new {old / new:.1f}x; masked/dense step ratio {new / dense:.3f}", flush=True)
    print(f"same seed twice, one epoch of ResNet-20: max |weight difference| "
          f"{repeatability(new_splits, device):.3g}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")
    print(f"seconds={results.get('cifar_resnet20', min(results.values())):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
