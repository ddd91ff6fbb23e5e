"""Old vs new CIFAR-10 training data pipeline on the CPU, in one run (synthetic data, real layout).

Old: protocol 1's, torchvision's CIFAR10 (one PIL image per sample) with RandomCrop(32, 4),
RandomHorizontalFlip, ToTensor and Normalize, batched by torch's DataLoader in the run's process
(its default, PRUNEBOARD_LOADER_WORKERS=0). New: the tensor-resident split, gathered, cropped,
flipped and normalised a batch at a time (evaluator/datasets/resident.py). Both batch 128,
shuffled by a seeded generator. Measures, rounds alternating so machine noise hits both alike:
1. the data step alone (the time to produce one training batch);
2. a whole finetuning step of CIFAR ResNet-20 (the batch, forward, backward, masked SGD step).
Ends with `ratio=X.XXX`: new / old time of the data step.
Run: `.venv/bin/python benchmarks/data_pipeline.py [--threads 2]`
"""

from __future__ import annotations

import argparse
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
from evaluator.finetune import MaskedWeights, make_loader, make_optimizer  # noqa: E402
from evaluator.models import get_model  # noqa: E402
from tests.evaluator import torchvision_reference as reference  # noqa: E402
from tests.evaluator.layouts import write_cifar10  # noqa: E402

BATCH = 128


def batches(loader):
    """Batches forever: a new epoch (new draws) whenever one ends."""
    while True:
        yield from loader


def time_data(stream, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        next(stream)
    return (time.perf_counter() - start) / count


def time_steps(stream, model, optimizer, masked, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        masked.mask_gradients()
        optimizer.step()
    return (time.perf_counter() - start) / count


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    cli.add_argument("--per-batch", type=int, default=10_000, help="images per training file (x5)")
    args = cli.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp())
    write_cifar10(root, per_batch=args.per_batch, test=1000)
    t0 = time.perf_counter()
    old_split = reference.cifar10_splits(root).train
    t_old = time.perf_counter() - t0
    t0 = time.perf_counter()
    new_split = get_dataset("cifar10", root).train
    t_new = time.perf_counter() - t0
    print(f"synthetic CIFAR-10 layout, {len(new_split)} training images; load: old {t_old:.2f} s, "
          f"new {t_new:.2f} s; {args.threads} threads")
    streams = {"old": batches(reference.loader(old_split, BATCH, torch.Generator().manual_seed(0))),
               "new": batches(make_loader(new_split, BATCH, torch.Generator().manual_seed(0)))}

    data = {k: [] for k in streams}
    for _ in range(5):
        for kind, stream in streams.items():
            data[kind].append(time_data(stream, 20))
    old, new = statistics.median(data["old"]), statistics.median(data["new"])
    print(f"data step (one batch of {BATCH}): old {old * 1e3:.2f} ms, new {new * 1e3:.2f} ms, "
          f"new/old {new / old:.3f} ({old / new:.1f}x faster)")

    torch.manual_seed(0)
    model = get_model("cifar_resnet20")
    masks = {n: (torch.rand_like(p) > 0.875).float() for n, p in model.named_parameters() if p.dim() > 1}
    masked = MaskedWeights(model, masks)
    optimizer = make_optimizer(model.parameters(), get_benchmark("cifar10-resnet20").finetune)
    model.train()
    steps = {k: [] for k in streams}
    for kind, stream in streams.items():  # warm-up, both paths
        time_steps(stream, model, optimizer, masked, 2)
    for _ in range(3):
        for kind, stream in streams.items():
            steps[kind].append(time_steps(stream, model, optimizer, masked, 4))
    s_old, s_new = statistics.median(steps["old"]), statistics.median(steps["new"])
    print(f"finetuning step of ResNet-20 (data + forward + backward + masked SGD): old "
          f"{s_old * 1e3:.1f} ms, new {s_new * 1e3:.1f} ms, new/old {s_new / s_old:.3f}")
    print(f"ratio={new / old:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
