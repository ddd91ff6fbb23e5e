"""What every run records about where and how it ran."""

from __future__ import annotations

import functools
import platform
import subprocess
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


def environment(device: torch.device) -> dict:
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "code_version": code_version(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda or "",
        "device": device.type,
        "device_name": name,
        "torch_threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled() or device.type == "cpu",
    }


def configure_determinism(device: torch.device) -> None:
    """Same seed, same device kind -> same result: deterministic kernels where CUDA has a choice."""
    if torch.device(device).type == "cuda":
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
