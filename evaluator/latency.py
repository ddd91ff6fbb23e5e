"""Measured latency: a pruned model timed against its dense model, in one process, interleaved.

Theoretical speedup (evaluator/metrics.py) counts the MACs of kept weights; this times forward
passes. Per batch size: `warmup` forwards of each model, then `repetitions` rounds of (dense,
pruned), each forward timed on its own; the figure is each model's median, in milliseconds.
Interleaving puts both models under the same machine load at the same moments, so a neighbour's
burst slows both and their ratio holds. Eval mode, `torch.inference_mode()`.

On the CPU torch's thread count is fixed for the measurement (PRUNEBOARD_LATENCY_THREADS, default
1: one thread is what a shared machine can give each run alike) and torch's previous count comes
back afterwards. On CUDA each forward is timed with CUDA events.

A masked model runs as dense weights with zeros, so an unstructured mask measures about 1x: that
is the honest figure. Where a sparse kernel exists for the device and the weights' pattern (the
`KERNELS` registry), the pruned model is converted to it first and the result names it.

    latency = measure_latency(model, ctx.fresh_model(), example)
    latency.speedup(64)   # dense ms / pruned ms at batch 64
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .env import env_int
from .environment import machine_name
from .metrics import _eval_mode

BATCH_SIZES = (1, 64)
THREADS_VARIABLE = "PRUNEBOARD_LATENCY_THREADS"
DENSE_KERNEL = "dense"


@dataclass(frozen=True)
class Latency:
    """One measurement of a pruned model against its dense model."""

    batch_sizes: tuple[int, ...]  # (1, 64)
    pruned_ms: dict[int, float]  # median milliseconds per forward, by batch size
    dense_ms: dict[int, float]  # the same for the dense model
    threads: int  # torch CPU threads fixed for the measurement
    device: str  # "cpu" or "cuda"
    device_name: str  # CPU model or GPU name
    torch_version: str
    kernel: str  # "dense" (masks as dense weights) or the sparse kernel used
    repetitions: int  # timed forwards of each model per batch size

    def speedup(self, batch: int) -> float:
        """Dense median / pruned median at `batch` (> 1: the pruned model is faster)."""
        return self.dense_ms[batch] / self.pruned_ms[batch]


# --- sparse kernels ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SparseKernel:
    """A way to run a pruned model's zeros as a sparse computation on some device."""

    name: str  # what the record says, with the count of layers it took: "2:4 semi-structured (3 layers)"
    device: str  # the device type it runs on
    convert: Callable[[nn.Module], int]  # rewrites the model's weights in place; layers converted


KERNELS: list[SparseKernel] = []


def register_kernel(kernel: SparseKernel) -> SparseKernel:
    KERNELS.append(kernel)
    return kernel


def two_of_four(weight: torch.Tensor) -> bool:
    """At most 2 nonzeros in every group of 4 consecutive weights along the input dimension."""
    out_features, in_features = weight.shape
    if in_features % 4:
        return False
    return bool(((weight.reshape(out_features, -1, 4) != 0).sum(-1) <= 2).all())


def _semi_structured(model: nn.Module) -> int:
    """Each Linear whose weight is 2:4 and of a shape the kernel takes gets a semi-structured
    sparse weight (cuSPARSELt or CUTLASS, as torch picks; float32 only has CUTLASS)."""
    from torch.sparse import SparseSemiStructuredTensorCUTLASS, to_sparse_semi_structured

    converted = 0
    for module in model.modules():
        if not isinstance(module, nn.Linear) or not two_of_four(module.weight):
            continue
        weight = module.weight.detach().contiguous()
        try:
            sparse = (SparseSemiStructuredTensorCUTLASS.from_dense(weight) if weight.dtype == torch.float32
                      else to_sparse_semi_structured(weight))
        except RuntimeError:  # a shape or dtype the kernel does not take: the layer stays dense
            continue
        module.weight = nn.Parameter(sparse, requires_grad=False)
        converted += 1
    return converted


if hasattr(torch.sparse, "to_sparse_semi_structured"):
    register_kernel(SparseKernel("2:4 semi-structured", "cuda", _semi_structured))


def with_kernel(model: nn.Module, device: torch.device) -> tuple[nn.Module, str]:
    """The model to time and its kernel's name: a converted copy where a registered kernel of
    the device takes some of its layers, else the model itself and "dense"."""
    for kernel in KERNELS:
        if kernel.device != device.type:
            continue
        candidate = copy.deepcopy(model)
        converted = kernel.convert(candidate)
        if converted:
            return candidate, f"{kernel.name} ({converted} layer{'s' if converted > 1 else ''})"
    return model, DENSE_KERNEL


# --- timing -----------------------------------------------------------------------------------

def _timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """A function that runs a call once and returns its milliseconds."""
    if device.type == "cuda":
        def timed(call):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    else:
        def timed(call):
            t0 = time.perf_counter_ns()
            call()
            return (time.perf_counter_ns() - t0) / 1e6
    return timed


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _same_layout(dense: nn.Module, pruned: nn.Module) -> nn.Module:
    """`dense`, or a copy in channels-last memory format when the pruned model's conv weights are
    (CUDA finetuning converts them, evaluator.environment.Compute): both time in one layout."""
    def channels_last(model):
        return any(p.dim() == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last)
                   for p in model.parameters())

    if channels_last(pruned) and not channels_last(dense):
        return copy.deepcopy(dense).to(memory_format=torch.channels_last)
    return dense


def latency_threads() -> int:
    """The CPU threads latency is measured with (PRUNEBOARD_LATENCY_THREADS, default 1)."""
    return env_int(THREADS_VARIABLE, 1, minimum=1)


def measure_latency(pruned: nn.Module, dense: nn.Module, example: torch.Tensor, *,
                    batch_sizes=BATCH_SIZES, repetitions: int = 30, warmup: int = 5,
                    threads: int | None = None) -> Latency:
    """Time `pruned` against `dense` (both on the same device) at each batch size.

    `example` is ONE input sample without its batch dimension (as `model_metrics` takes it); a
    batch of b is b copies of it. The models' weights and train/eval modes are as before when
    this returns, and so is torch's thread count."""
    if repetitions < 1 or warmup < 0:
        raise ValueError(f"repetitions must be at least 1 and warmup at least 0, got {repetitions}, {warmup}")
    device = _device_of(pruned)
    if _device_of(dense) != device:
        raise ValueError(f"the pruned model is on {device}, the dense one on {_device_of(dense)}: "
                         "time them on one device")
    threads = latency_threads() if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    dense = _same_layout(dense, pruned)
    fast, kernel = with_kernel(pruned, device)
    timed = _timer(device)
    pruned_ms, dense_ms = {}, {}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode(), _eval_mode(pruned), _eval_mode(dense), _eval_mode(fast):
            for batch in batch_sizes:
                x = example.to(device).unsqueeze(0).expand(batch, *example.shape).contiguous()
                for _ in range(warmup):
                    dense(x)
                    fast(x)
                times = {"dense": [], "pruned": []}
                for _ in range(repetitions):
                    times["dense"].append(timed(lambda: dense(x)))
                    times["pruned"].append(timed(lambda: fast(x)))
                dense_ms[batch] = statistics.median(times["dense"])
                pruned_ms[batch] = statistics.median(times["pruned"])
    finally:
        torch.set_num_threads(previous)
    return Latency(batch_sizes=tuple(batch_sizes), pruned_ms=pruned_ms, dense_ms=dense_ms, threads=threads,
                   device=device.type, device_name=machine_name(device), torch_version=torch.__version__,
                   kernel=kernel, repetitions=repetitions)


def latency_columns(latency: Latency) -> dict:
    """The run record's latency columns (evaluator/record.py) from a measurement at 1 and 64."""
    return {
        "latency_ms_b1": latency.pruned_ms[1], "latency_ms_b64": latency.pruned_ms[64],
        "dense_latency_ms_b1": latency.dense_ms[1], "dense_latency_ms_b64": latency.dense_ms[64],
        "measured_speedup_b1": latency.speedup(1), "measured_speedup_b64": latency.speedup(64),
        "latency_threads": latency.threads, "latency_device": f"{latency.device_name} ({latency.device})",
        "latency_kernel": latency.kernel,
    }
