"""What this machine can run: for each benchmark, are its weights present and verified, and is
its data present? Cheap probes (file checks, a SHA-256 of the weights, a module lookup), never a
load of the data, so a worker can answer at start and again on every heartbeat.

    benchmark_problems(get_benchmark("cifar10-resnet20"), data_root="/data")
      -> Problems(weights="no weights for benchmark 'cifar10-resnet20': looked at ...",
                  data="CIFAR-10 not found at /data/cifar-10-batches-py; expected ...",
                  weights_sha256=None)

Every dataset of the registry has a probe here (a test checks it); a dataset without one
is reported missing, never assumed present."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .benchmarks import Benchmark
from .datasets import registry
from .datasets.mnist import FILES as MNIST_FILES
from .weights import WeightsError, expected_sha256, find_weights, sha256_file


@dataclass(frozen=True)
class Problems:
    weights: str | None  # None: present and its SHA-256 matches the pinned one
    data: str | None  # None: present
    weights_sha256: str | None  # of the verified file

    @property
    def runnable(self) -> bool:
        return self.weights is None and self.data is None


def _package(module: str, what: str) -> Callable[[Path], str | None]:
    def probe(root: Path) -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"{what} needs the Python package {module!r}, which is not installed"
        return None
    return probe


def _files(title: str, folder: str, names: tuple[str, ...]) -> Callable[[Path], str | None]:
    def probe(root: Path) -> str | None:
        try:
            registry.require_files(title, root / folder, names, f"{title}'s files there ({', '.join(names)})")
        except registry.DatasetNotFound as exc:
            return str(exc)
        return None
    return probe


def _imagenet(root: Path) -> str | None:
    base = root / "imagenet"
    for split in ("train", "val"):
        folder = base / split
        if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
            return registry.not_found_message("ImageNet", base, "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG")
    return None


DATA_PROBES: dict[str, Callable[[Path], str | None]] = {
    "digits": _package("sklearn", "scikit-learn's digits"),
    "mnist1d": _package("mnist1d", "MNIST-1D"),
    "cifar10": _files("CIFAR-10", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")),
    "cifar100": _files("CIFAR-100", "cifar-100-python", ("train", "test", "meta")),
    "mnist": _files("MNIST", "MNIST/raw", tuple(MNIST_FILES)),
    "imagenet": _imagenet,
}

_hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> SHA-256: hash a file once


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _hashes:
        _hashes[key] = sha256_file(path)
    return _hashes[key]


def weights_problem(benchmark: Benchmark) -> tuple[str | None, str | None]:
    """(problem, SHA-256): (None, sha) when the weights are there and match the pinned SHA-256."""
    try:
        path = find_weights(benchmark)
        actual, expected = _sha256(path), expected_sha256(benchmark, path)
    except (WeightsError, OSError) as exc:
        return str(exc), None
    if actual != expected:
        return (f"weights {path} have SHA-256 {actual[:12]}…, but benchmark {benchmark.name!r} "
                f"pins {expected[:12]}…"), None
    return None, actual


def data_problem(dataset: str, root: str | os.PathLike | None = None) -> str | None:
    probe = DATA_PROBES.get(dataset)
    if probe is None:
        return f"no availability probe for dataset {dataset!r} (evaluator/availability.py)"
    return probe(registry.data_root(root))


def benchmark_problems(benchmark: Benchmark, data_root: str | os.PathLike | None = None) -> Problems:
    weights, sha = weights_problem(benchmark)
    return Problems(weights=weights, data=data_problem(benchmark.dataset, data_root), weights_sha256=sha)
