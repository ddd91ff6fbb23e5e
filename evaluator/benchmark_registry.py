"""The benchmark registry's types and its dict: what a result on pruneboard holds constant.

A benchmark fixes the dataset and its splits, the architecture, the pretrained weights (by
SHA-256), the finetuning protocol, the compressions and the seeds. Everything but the mask.
The entries are registered by the catalogue, evaluator/benchmarks.py (with each benchmark's
other tracks, evaluator/tracks.py); import names from there, so that every name resolves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

# Bump when the evaluation protocol changes in a way that changes results (metrics definitions,
# finetuning loop, calibration batch selection). Stored with every run; the README says why each
# version changed. 2: CIFAR's crop/flip and ImageNet's augmentation draw from the run's
# generator (evaluator/datasets/draws.py), and on CUDA finetuning runs under bf16 autocast with
# channels-last; CPU runs of the embedded benchmarks and of MNIST record the same numbers as in 1.
# 3: the embedded targets' runs on a CPU are finetuned and scored in batches (evaluator/batched.py:
# stacked weights, one batched matmul for all runs, a fused optimizer step): a run's figures are
# the same whichever runs share its batch, and differ from 2's by float reassociation only (the
# matmuls and the optimizer's update sum and round in another order); other targets as in 2.
PROTOCOL_VERSION = 3

COMPRESSIONS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)
DEFAULT_TRACK = "after"  # the comparison setup every benchmark offers (evaluator/tracks.py)


@dataclass(frozen=True)
class FinetuneProtocol:
    """How a model is trained: the pretraining of the dense model, or the masked finetuning."""

    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 1e-2  # initial learning rate, per batch of `batch_size`
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0  # L2 for sgd/adam, decoupled for adamw
    epochs: int = 10  # passes over the training split
    batch_size: int = 128  # samples per step
    schedule: str = "cosine"  # constant | cosine (per step, to 0 at the last step)
    patience: int = 0  # early stopping: stop after this many epochs without a better
    #                    validation top-1; 0 runs every epoch. The best validation epoch is
    #                    always the one kept (selection uses the validation split only).

    def __post_init__(self):
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; known: sgd, adam, adamw")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown schedule {self.schedule!r}; known: constant, cosine")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


@dataclass(frozen=True)
class Benchmark:
    name: str
    dataset: str  # evaluator.datasets name
    model: str  # evaluator.models name
    finetune: FinetuneProtocol
    pretrain: FinetuneProtocol
    weights_sha256: str | None = None  # None: not fixed in the registry (see weights.py)
    reference_top1: float | None = None  # dense test top-1 of the fixed weights, in [0, 1]
    compressions: tuple[int, ...] = COMPRESSIONS
    seeds: tuple[int, ...] = SEEDS
    calibration_size: int = 128  # training samples handed to the strategy
    embedded: bool = False  # runs anywhere from PyPI packages alone, in minutes on a CPU
    queue: str = "gpu"  # which workers take its runs: cpu | gpu
    time_limit_s: int = 6 * 3600  # a run's hard time limit on a worker (soft: 60 s earlier)
    mask_seconds: float = 600  # a strategy's wall-clock budget for one job's masks (sandbox)
    description: str = ""
    # The comparison setup (evaluator/tracks.py): a target of another track than the default is
    # this registry's entry for (base, track), named "base/track"; its `finetune` is what trains
    # the masked network on that track and `weights_name` the file its strategy sees.
    track: str = DEFAULT_TRACK
    base: str = ""  # the benchmark this is a track of ("": itself)
    weights_name: str = ""  # "": <name>.safetensors

    def __post_init__(self):
        if not self.base:
            object.__setattr__(self, "base", self.name)

    @property
    def weights_file(self) -> str:
        return self.weights_name or f"{self.name}.safetensors"

    def protocol_dict(self) -> dict:
        """Everything about how runs are scored, for hashing and for the record. The default
        track adds nothing, so the runs made before tracks existed keep their identity."""
        protocol = {
            "protocol_version": PROTOCOL_VERSION,
            "dataset": self.dataset,
            "model": self.model,
            "finetune": dataclasses.asdict(self.finetune),
            "calibration_size": self.calibration_size,
        }
        if self.track != DEFAULT_TRACK:
            protocol["track"] = self.track
        return protocol

    def protocol_hash(self) -> str:
        blob = json.dumps(self.protocol_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def task_seconds(self) -> int:
        """The hard time limit of one run's task on a worker: `time_limit_s` plus the window of
        the batch of masks its sandbox may compute for the run's siblings (evaluator/sandbox/limits.py)."""
        from .sandbox import Limits

        return Limits.from_environment(self.mask_seconds).task_seconds(self.time_limit_s)


def run_identity(
    *, benchmark: Benchmark, weights_sha256: str, strategy_sha256: str, compression: float, seed: int
) -> str:
    """A run's identity: the same inputs always name the same run, anything else a new one."""
    blob = json.dumps(
        {
            "benchmark": benchmark.name,
            "protocol": benchmark.protocol_dict(),
            "weights_sha256": weights_sha256,
            "strategy_sha256": strategy_sha256,
            "compression": float(compression),
            "seed": int(seed),
        },
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def result_key(*, benchmark: Benchmark, weights_sha256: str, masks_sha256: str, seed: int,
               device: str = "cpu") -> str:
    """What a run's figures are a function of: the run target and its protocol (the evaluator's
    protocol version included), the weights, the masks, the seed (data order) and the kind of
    device (a CUDA finetune runs under bf16 autocast, so its figures are not a CPU run's). Not
    the strategy: two runs with the same key finetune and score identically, so the figures are
    computed once and shared (evaluator/sharing.py). Not the requested compression either: it
    only names what the strategy was asked for (`compression_requested`, `compression_error`
    are each run's own)."""
    blob = json.dumps(
        {
            "benchmark": benchmark.name,
            "protocol": benchmark.protocol_dict(),
            "weights_sha256": weights_sha256,
            "masks_sha256": masks_sha256,
            "seed": int(seed),
            "device": str(device).split(":")[0],
        },
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    if benchmark.name in BENCHMARKS:
        raise ValueError(f"benchmark {benchmark.name!r} registered twice")
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def longest_time_limit() -> int:
    """The longest time limit of any run's task (`Benchmark.task_seconds`)."""
    return max(b.task_seconds() for b in BENCHMARKS.values())


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        known = ", ".join(sorted(BENCHMARKS))
        raise ValueError(f"unknown benchmark {name!r}; known: {known}") from None


def list_benchmarks() -> list[Benchmark]:
    """Every run target, each benchmark's tracks right after it (the default track first)."""
    bases = list(dict.fromkeys(b.base for b in BENCHMARKS.values()))
    return sorted(BENCHMARKS.values(), key=lambda b: (bases.index(b.base), b.track != DEFAULT_TRACK))
