"""The boundary around untrusted strategy code (parent side).

A strategy file's masks are computed in a child process (`evaluator.sandbox_child`) that receives
only: the model's name and weights, the calibration batch from the *training* split, the
compressions and seeds. It hands back masks as `.npz` files (numeric arrays, loaded with
`allow_pickle=False`, so loading cannot run code) or an error report as JSON. The child has
exited before the parent validates, applies, finetunes and scores anything. It runs under
bubblewrap with resource limits (see `evaluator.isolation`), its environment empty but for
PATH and PYTHONPATH, its working directory a scratch folder deleted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from .isolation import (SCRATCH, Limits, bwrap_command, describe_limit, prepare_scratch,
                        resource_limiter, sandbox_mode)
from .models import get_model
from .pruning import Mask, MaskError, get_baseline
from .strategy import strategy_masks

REPO_ROOT = Path(__file__).resolve().parent.parent
_OUTPUT_TAIL = 4000  # characters of the child's stdout/stderr kept for an error message


class StrategyError(RuntimeError):
    """The strategy's own code failed; `message` is for the submitter, `traceback` their frames."""

    def __init__(self, message: str, traceback: str = "", limit: str = ""):
        super().__init__(message)
        self.message, self.traceback, self.limit = message, traceback, limit

    @classmethod
    def from_report(cls, path: Path) -> StrategyError:
        data = json.loads(path.read_text())
        return cls(data["message"], data.get("traceback", ""), data.get("limit", ""))


@dataclass(frozen=True)
class StrategySource:
    """Either a built-in baseline (by registry name) or a strategy file, optionally `:Class`."""

    baseline: str | None = None
    path: Path | None = None
    class_name: str | None = None

    @classmethod
    def from_spec(cls, spec: str) -> StrategySource:
        """`FILE.py` or `FILE.py:ClassName`."""
        path, _, class_name = spec.partition(":")
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"strategy file {file} does not exist")
        return cls(path=file.resolve(), class_name=class_name or None)

    @property
    def label(self) -> str:
        if self.baseline:
            return self.baseline
        return self.path.stem + (f":{self.class_name}" if self.class_name else "")

    def sha256(self) -> str:
        if self.baseline:
            return "baseline:" + self.baseline
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def sandbox_label(source: StrategySource) -> str:
    """How a source's masks are computed: 'trusted' (built-in baseline, in process), 'bwrap', or
    'none' (an operator allowed unsandboxed runs; such results are marked on the site)."""
    return "trusted" if source.baseline else sandbox_mode()


def child_environment(workdir: str) -> dict[str, str]:
    """Nothing of the parent's environment (no database, broker, secrets) reaches the child."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "HOME": workdir,
        "TMPDIR": workdir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",  # what it printed before dying reaches the error report
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
    }


def compute_masks(source: StrategySource, *, model_name: str, num_classes: int,
                  state_dict: dict[str, torch.Tensor],
                  calibration: dict[int, tuple[torch.Tensor, torch.Tensor]],
                  jobs: list[tuple[float, int]],
                  limits: Limits | None = None) -> list[Mask | StrategyError]:
    """Masks for each (compression, seed) job, or the StrategyError that job ended with.

    `calibration` maps a seed to its (inputs, targets) batch from the training split.
    Raises SandboxUnavailable where untrusted code cannot be isolated and that is not allowed.
    The child checked the masks, but it is untrusted: the caller validates them again.
    Built-in baselines are trusted code from this repository: they run in this process, through
    the same `strategy_masks` function as the child (no process start-up per run).
    """
    if source.baseline:
        return _baseline_masks(source.baseline, model_name, num_classes, state_dict, calibration, jobs)
    limits = limits or Limits.from_environment()
    mode = sandbox_mode()
    with tempfile.TemporaryDirectory(prefix="pruneboard-sandbox-") as tmp:
        work = Path(tmp)
        save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
                  str(work / "weights.safetensors"))
        arrays = {}
        for seed, (inputs, targets) in calibration.items():
            arrays[f"inputs_{seed}"] = inputs.cpu().numpy()
            arrays[f"targets_{seed}"] = targets.cpu().numpy()
        np.savez(work / "calibration.npz", **arrays)
        strategy = {"baseline": source.baseline, "class_name": source.class_name}
        if source.path is not None:
            (work / "strategy.py").write_bytes(source.path.read_bytes())
            strategy["file"] = "strategy.py"
        job = {"model": model_name, "num_classes": num_classes, "strategy": strategy,
               "jobs": [{"compression": float(c), "seed": int(s)} for c, s in jobs],
               "limits": limits.as_dict()}
        (work / "job.json").write_text(json.dumps(job))
        prepare_scratch(work)

        failure = _run_child(work, limits, mode)
        return [failure or _job_result(work, i) for i in range(len(jobs))]


def _baseline_masks(name, model_name, num_classes, state_dict, calibration, jobs):
    cls = get_baseline(name)
    model = get_model(model_name, num_classes=num_classes)
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    results = []
    for compression, seed in jobs:
        inputs, targets = (t.cpu() for t in calibration[seed])
        try:
            results.append(strategy_masks(cls, model, state, inputs, targets, compression, seed))
        except (MaskError, ValueError) as exc:
            results.append(StrategyError(f"{type(exc).__name__}: {exc}"))
    return results


def _run_child(work: Path, limits: Limits, mode: str) -> StrategyError | None:
    inside = SCRATCH if mode == "bwrap" else str(work)
    argv = [sys.executable, "-m", "evaluator.sandbox_child", inside]
    env = child_environment(inside)
    command = bwrap_command(argv, work, env) if mode == "bwrap" else argv
    timed_out = False
    with open(work / "output.log", "wb") as log:
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=resource_limiter(limits, mode))
        try:
            code = proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait()
    if timed_out:
        return StrategyError(f"the strategy {describe_limit('time', limits)}", limit="time")
    if (work / "error.json").exists():
        return StrategyError.from_report(work / "error.json")
    return _exit_failure(code, limits, _tail(work / "output.log"))


# How a child killed by a signal is reported (bwrap passes the child's signal on as 128 + N).
_SIGNAL_LIMITS = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file size", signal.SIGKILL: "memory"}


def _exit_failure(code: int, limits: Limits, output: str) -> StrategyError | None:
    if code == 0:
        return None
    number = -code if code < 0 else code - 128 if 128 < code < 160 else None
    if number is not None and number in _SIGNAL_LIMITS:
        kind = _SIGNAL_LIMITS[number]
        return StrategyError(f"the strategy {describe_limit(kind, limits)}", output, limit=kind)
    if number is not None:
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        return StrategyError(f"the strategy process crashed (killed by signal {number}, {name}) "
                             "before returning masks", output)
    return StrategyError(f"the strategy process exited with status {code} before returning masks", output)


def _job_result(work: Path, index: int) -> Mask | StrategyError:
    report = work / f"error-{index}.json"
    if report.exists():
        return StrategyError.from_report(report)
    path = work / f"masks-{index}.npz"
    if not path.exists():
        return StrategyError("the strategy process ended before returning masks",
                             _tail(work / "output.log"))
    try:
        return Mask.load(path)
    except MaskError as exc:
        return StrategyError(f"the masks handed back could not be read: {exc}")


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - _OUTPUT_TAIL))
        return f.read().decode("utf-8", "replace")
