"""Fixed pretrained weights: where they live, and the checksum every run verifies before use.

Weights are safetensors files named `<benchmark>.safetensors` (no pickle: loading cannot run
code). They are looked for in `$PRUNEBOARD_WEIGHTS_DIR` (if set), then in the repo's `weights/`.
The embedded benchmarks' SHA-256 is pinned in the registry; a standard benchmark whose registry
entry has none is pinned by the `<benchmark>.sha256` file that `pretrain` writes beside its weights.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .benchmarks import Benchmark

REPO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


class WeightsError(RuntimeError):
    pass


def weights_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("PRUNEBOARD_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["PRUNEBOARD_WEIGHTS_DIR"]))
    dirs.append(REPO_WEIGHTS)
    return dirs


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _maker(benchmark: Benchmark) -> str:
    """The command that writes the benchmark's weights: `init` for initial weights."""
    from .tracks import get_track

    kind = get_track(benchmark.track).weights
    return f"{'init' if kind == 'initial' else 'pretrain'} {benchmark.base}"


def find_weights(benchmark: Benchmark) -> Path:
    for folder in weights_dirs():
        path = folder / benchmark.weights_file
        if path.is_file():
            return path
    looked = ", ".join(str(d / benchmark.weights_file) for d in weights_dirs())
    raise WeightsError(
        f"no weights for benchmark {benchmark.name!r}: looked at {looked}. "
        f"Produce them with `python -m evaluator {_maker(benchmark)}` where its data is, "
        f"or set PRUNEBOARD_WEIGHTS_DIR to the folder that holds {benchmark.weights_file}."
    )


def expected_sha256(benchmark: Benchmark, path: Path) -> str:
    if benchmark.weights_sha256:
        return benchmark.weights_sha256
    sidecar = path.with_suffix(".sha256")
    if not sidecar.is_file():
        raise WeightsError(
            f"benchmark {benchmark.name!r} pins no SHA-256 in the registry and {sidecar} is "
            f"missing; `python -m evaluator {_maker(benchmark)}` writes it"
        )
    return sidecar.read_text().split()[0]


def verified_weights(benchmark: Benchmark) -> tuple[dict[str, torch.Tensor], str]:
    """The benchmark's state dict and its SHA-256, after checking it against the pinned one."""
    path = find_weights(benchmark)
    actual = sha256_file(path)
    expected = expected_sha256(benchmark, path)
    if actual != expected:
        raise WeightsError(
            f"weights {path} have SHA-256 {actual}, but benchmark {benchmark.name!r} pins "
            f"{expected}; refusing to run on different weights"
        )
    return load_file(str(path)), actual


def save_weights(model: torch.nn.Module, path: Path) -> str:
    """Write a state dict as safetensors plus a `.sha256` sidecar; returns the SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    sha = sha256_file(path)
    path.with_suffix(".sha256").write_text(f"{sha}  {path.name}\n")
    return sha
