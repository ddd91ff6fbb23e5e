"""What every run records about where and how it ran."""

from __future__ import annotations

import functools
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from . import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def code_version() -> str:
    """`<package version>+g<commit>[.dirty]` in a git checkout, the package version otherwise."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" + (".dirty" if dirty else "")


@functools.cache
def cpu_name() -> str:
    """The CPU's model name ("AMD EPYC 7763 64-Core Processor"), from /proc/cpuinfo on Linux;
    the platform's processor or machine name elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_name(device) -> str:
    """The GPU's name on CUDA, else the CPU's model name."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


def environment(device: torch.device) -> dict:
    device = torch.device(device)
    name = machine_name(device)
    return {
        "code_version": code_version(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda or "",
        "device": device.type,
        "device_name": name,
        "torch_threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled() or device.type == "cpu",
        "precision": Compute.for_device(device).precision,
        "channels_last": Compute.for_device(device).channels_last,
    }


@dataclass(frozen=True)
class Compute:
    """How finetuning computes on a device; fixed by the protocol per device kind, recorded.

    On CUDA: the forward and the loss under bf16 autocast (on GPUs that compute bf16 natively),
    the backward following it; parameters, their gradients, the optimizer state and the masks
    stay float32, so a pruned weight's gradient is masked to exactly zero as in float32. Conv
    weights and image batches in channels-last memory format. Scoring (validation and test) is
    always float32. On the CPU, the reference: float32, contiguous, as in protocol 1.
    """

    bf16: bool = False  # forward under torch.autocast(dtype=torch.bfloat16)
    channels_last: bool = False  # 4-D weights and batches in channels-last (NHWC) memory format

    @classmethod
    def for_device(cls, device) -> Compute:
        if torch.device(device).type != "cuda":
            return cls()
        return cls(bf16=torch.cuda.is_bf16_supported(including_emulation=False), channels_last=True)

    @property
    def precision(self) -> str:
        return "bf16 autocast" if self.bf16 else "fp32"


def configure_determinism(device: torch.device) -> None:
    """Same seed, same device kind -> same result: deterministic kernels where CUDA has a choice."""
    if torch.device(device).type == "cuda":
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
