"""Deterministic pretraining of a benchmark's dense model: the fixed weights every run starts from."""

from __future__ import annotations

from pathlib import Path

import torch

from .benchmarks import Benchmark, get_benchmark
from .datasets import get_dataset
from .environment import configure_determinism
from .finetune import default_device, evaluate, make_loader, seed_everything, train
from .models import get_model
from .weights import save_weights, weights_dirs


def pretrain(benchmark: Benchmark, *, out_dir: Path | None = None, device=None, data_root=None,
             seed: int = 0, width: float | None = None, log=print) -> tuple[Path, str, float]:
    """Train from a seeded init under `benchmark.pretrain`; write `<name>.safetensors` and its
    `.sha256`; returns (path, sha256, test top-1). Selection uses the validation split.
    `width`: a network of the benchmark's dense frontier instead (evaluator/frontier.py), written
    as `frontier/<name>@<width>.safetensors`; the benchmark's own width is its own weights."""
    from .frontier import frontier_point

    file = benchmark.weights_file
    if width is not None:
        point = frontier_point(benchmark.name, width)  # ValueError names the family's widths
        if point.weights_of:
            raise ValueError(f"width {width:g} is {benchmark.name}'s own network: "
                             f"`pretrain {benchmark.name}` writes its weights")
        file = point.weights_file
    device = torch.device(device) if device else default_device()
    configure_determinism(device)
    splits = get_dataset(benchmark.dataset, root=data_root)
    seed_everything(seed)
    model = get_model(benchmark.model, num_classes=splits.num_classes, width=width).to(device)
    result = train(model, splits.train, splits.val, benchmark.pretrain, device=device, seed=seed,
                   on_epoch=lambda e, row: log(f"epoch {e}: train loss {row['train_loss']:.4f}, "
                                               f"val top-1 {row['val_top1']:.4f}"))
    test = evaluate(model, make_loader(splits.test, 256), device)
    path = Path(out_dir or weights_dirs()[0]) / file
    sha = save_weights(model, path)
    log(f"kept epoch {result.best_epoch} (val top-1 {result.val.top1:.4f}); "
        f"test top-1 {test.top1:.4f}; wrote {path} sha256 {sha}")
    return path, sha, test.top1


def initialize(benchmark: Benchmark, *, out_dir: Path | None = None, seed: int = 0,
               log=print) -> tuple[Path, str]:
    """Write the init track's weights of `benchmark` (or of its base, for a target): the seeded
    initialization `pretrain` starts from, before any training, as `<base>.init.safetensors`
    plus its `.sha256`. Deterministic: the same bytes every time (no data, no device)."""
    from .tracks import initial_weights_file

    base = get_benchmark(benchmark.base)
    seed_everything(seed)
    model = get_model(base.model)
    path = Path(out_dir or weights_dirs()[0]) / initial_weights_file(base)
    sha = save_weights(model, path)
    log(f"wrote {path} sha256 {sha}")
    return path, sha
