"""The community's published CIFAR-10 weights, pinned: `python -m evaluator import-weights`.

ShrinkBench (Blalock et al., MLSys 2020) starts its CIFAR experiments from the option-A CIFAR
ResNets published in JJGO/shrinkbench-models (akamaster's training recipe). Those checkpoints are
legacy torch pickles `{"best_prec1": float, "state_dict": {...}}` with every name prefixed
`module.` (saved from DataParallel) and the classifier called `linear` (pruneboard's is `fc`).
`import_weights` accepts exactly the pinned files (by SHA-256; any other is refused with both
hashes named), loads them with `torch.load(weights_only=True)` (no code runs), renames the keys,
loads them strictly into the benchmark's model (BatchNorm's `num_batches_tracked`, absent from
the old files, starts at 0), and writes `<benchmark>.safetensors` with its `.sha256` beside it,
the same pair `pretrain` writes, so every run verifies it as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .benchmarks import get_benchmark
from .models import get_model
from .weights import WeightsError, save_weights, sha256_file, weights_dirs


@dataclass(frozen=True)
class Published:
    file: str  # the published file's name
    sha256: str  # of the published file, as downloaded
    top1: float  # best_prec1 stored in the file, as a fraction (the publisher's, not measured here)
    source: str


PUBLISHED: dict[str, Published] = {
    "cifar10-resnet20": Published(
        "resnet20.th", "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 0.9178,
        "JJGO/shrinkbench-models@5fc1ced cifar10/resnet20.th"),
    "cifar10-resnet56": Published(
        "resnet56.th", "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 0.9362,
        "JJGO/shrinkbench-models@5fc1ced cifar10/resnet56.th"),
}
_RENAMES = (("linear.", "fc."),)


def published_for(benchmark: str) -> Published:
    if benchmark not in PUBLISHED:
        raise ValueError(f"no published weights are pinned for benchmark {benchmark!r}; "
                         f"pinned: {', '.join(PUBLISHED)}")
    return PUBLISHED[benchmark]


def convert_state_dict(raw: dict, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict under the model's names (strictly every key, nothing more)."""
    state = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        for old, new in _RENAMES:
            if key.startswith(old):
                key = new + key[len(old):]
        state[key] = value
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    model.load_state_dict(state, strict=True)  # raises naming any missing or unexpected key
    return model.state_dict()


def import_weights(benchmark_name: str, file: Path, out_dir: Path | None = None) -> tuple[Path, str]:
    """Convert the pinned published checkpoint into the benchmark's weights; (path, SHA-256)."""
    pinned = published_for(benchmark_name)
    actual = sha256_file(file)
    if actual != pinned.sha256:
        raise WeightsError(f"{file} has SHA-256 {actual}, but {benchmark_name!r} pins the published "
                           f"{pinned.file} with SHA-256 {pinned.sha256}; refusing other weights")
    checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise WeightsError(f"{file} holds no 'state_dict'")
    benchmark = get_benchmark(benchmark_name)
    model = get_model(benchmark.model)
    convert_state_dict(checkpoint["state_dict"], model)
    out_dir = Path(out_dir) if out_dir is not None else weights_dirs()[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / benchmark.weights_file
    digest = save_weights(model, path)
    path.with_suffix(".sha256").write_text(f"{digest}  {path.name}  imported from {pinned.source} "
                                           f"(SHA-256 {pinned.sha256}, published top-1 {pinned.top1:.2%})\n")
    return path, digest
