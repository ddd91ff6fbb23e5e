"""The boundary around untrusted strategy code (parent side).

In: the parent writes the model's name and weights, the calibration batches (training split
only), the jobs and the strategy file into a folder of its own, mounted read-only in the
sandbox. Out: only bounded messages on a pipe the parent owns (`evaluator.sandbox.channel`): per job,
masks of exactly the model's size, or a short error report. The parent never opens a path the
child could have created or replaced, and the child's scratch space is a tmpfs that dies with
the sandbox. `evaluator.sandbox.supervise` watches the child (per-job time and CPU budgets, limits
decided from the parent's own evidence); `evaluator.sandbox.isolation` and `evaluator.sandbox.cgroups` build
the sandbox. Every failure of the child's is the submitter's (StrategyError); anything else
raised here is the platform's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ..models import get_model
from ..pruning import Mask, MaskError, get_builtin
from ..strategy import strategy_masks
from .cgroups import Cgroup, cgroup_problem
from .channel import mask_layout
from .errors import StrategyError
from .isolation import INPUT, UidSlot, args_fd, bwrap_command, prepare_inputs, resource_limiter, sandbox_mode
from .limits import Limits
from .mounts import CHECKOUT
from .supervise import Watch

__all__ = ["StrategyError", "StrategySource", "JobOutcome", "compute_jobs", "compute_masks",
           "sandbox_label", "limits_report"]
REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class JobOutcome:
    """One (compression, seed) job of a batch."""

    result: Mask | StrategyError | None  # None: not started (the batch's window closed first)
    seconds: float  # this job's own mask time: from its clock's start to its result, s


def child_environment(workdir: str, checkout: str = str(REPO_ROOT)) -> dict[str, str]:
    """Nothing of the parent's environment (no database, broker, secrets) reaches the child;
    `checkout` is where it finds the `evaluator` package."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": checkout,
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
    """Masks for each (compression, seed) job, or the StrategyError that job ended with
    (`compute_jobs`, every job computed, without the seconds)."""
    outcomes = compute_jobs(source, model_name=model_name, num_classes=num_classes,
                            state_dict=state_dict, calibration=calibration, jobs=jobs, limits=limits)
    return [outcome.result for outcome in outcomes]


def compute_jobs(source: StrategySource, *, model_name: str, num_classes: int,
                 state_dict: dict[str, torch.Tensor],
                 calibration: dict[int, tuple[torch.Tensor, torch.Tensor]],
                 jobs: list[tuple[float, int]], limits: Limits | None = None,
                 window: float | None = None) -> list[JobOutcome]:
    """Per (compression, seed) job: its masks, or the StrategyError it ended with, and its own
    mask seconds.

    `calibration` maps a seed to its (inputs, targets) batch from the training split; the
    child gets only the seeds its jobs use. `limits` default to the operator's settings (pass
    `Limits.from_environment(benchmark.mask_seconds)` for a benchmark's time budget).
    `window`: seconds (after the file loaded) within which a job may still be started with
    its whole budget; the jobs left when it closes are not started (result None). None: all.
    Raises SandboxUnavailable where untrusted code cannot be isolated and that is not allowed.
    Masks from the child are rebuilt from bits of the model's exact layout; the caller still
    validates them (shapes against its model, the compression reached).
    Built-in baselines are trusted code from this repository: they run in this process, through
    the same `strategy_masks` function as the child (no process start-up per run).
    """
    if source.baseline:
        return _baseline_masks(source.baseline, model_name, num_classes, state_dict, calibration, jobs)
    limits = limits or Limits.from_environment()
    mode = sandbox_mode()
    layout = mask_layout(get_model(model_name, num_classes=num_classes))
    inputs = Path(tempfile.mkdtemp(prefix=f"pruneboard-sandbox-{os.getpid()}-"))
    try:
        _write_inputs(inputs, source, model_name, num_classes, state_dict, calibration, jobs)
        return _run_child(inputs, jobs, layout, limits, mode, window)
    finally:
        shutil.rmtree(inputs)  # only the parent ever wrote here: the child saw it read-only


def _write_inputs(inputs, source, model_name, num_classes, state_dict, calibration, jobs) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
              str(inputs / "weights.safetensors"))
    arrays = {}
    for seed in sorted({s for _, s in jobs}):
        x, y = calibration[seed]
        arrays[f"inputs_{seed}"] = x.cpu().numpy()
        arrays[f"targets_{seed}"] = y.cpu().numpy()
    np.savez(inputs / "calibration.npz", **arrays)
    (inputs / "strategy.py").write_bytes(source.path.read_bytes())
    job = {"model": model_name, "num_classes": num_classes,
           "strategy": {"file": "strategy.py", "class_name": source.class_name},
           "jobs": [{"compression": float(c), "seed": int(s)} for c, s in jobs]}
    (inputs / "job.json").write_text(json.dumps(job))
    prepare_inputs(inputs)


def _baseline_masks(name, model_name, num_classes, state_dict, calibration, jobs):
    cls = get_builtin(name)
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    results = []
    for compression, seed in jobs:
        inputs, targets = (t.cpu() for t in calibration[seed])
        t0 = time.perf_counter()
        try:
            result = strategy_masks(cls, lambda: get_model(model_name, num_classes=num_classes), state,
                                    inputs, targets, compression, seed, num_classes)
        except (MaskError, ValueError) as exc:
            result = StrategyError(f"{type(exc).__name__}: {exc}")
        results.append(JobOutcome(result, time.perf_counter() - t0))
    return results


def _run_child(inputs: Path, jobs, layout, limits: Limits, mode: str, window) -> list[JobOutcome]:
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    status_r, status_w = os.pipe()
    args_r = -1  # bwrap's options (isolation.args_fd)
    scratch = None if mode == "bwrap" else Path(tempfile.mkdtemp(prefix=f"pruneboard-scratch-{os.getpid()}-"))
    cgroup = _make_cgroup(limits)
    try:
        with UidSlot(enabled=mode == "bwrap") as slot:
            where = INPUT if mode == "bwrap" else str(inputs)
            argv = [sys.executable, "-m", "evaluator.sandbox.child", where, str(result_w)]
            if mode == "bwrap":
                env = child_environment("/scratch", CHECKOUT)
                command, args_r = args_fd(bwrap_command(argv, inputs, env, uid=slot.uid,
                                                        scratch_bytes=limits.scratch_mib << 20,
                                                        status_fd=status_w))
            else:
                env = child_environment(str(scratch))
                command = argv
            limiter = resource_limiter(limits, own_uid=slot.uid is not None, cgroup=cgroup,
                                       cpu_total=int(limits.cpu_seconds * len(jobs) + 2 * limits.startup_seconds))
            proc = subprocess.Popen(command, cwd=scratch or inputs, env=env, stdin=subprocess.DEVNULL,
                                    stdout=output_w, stderr=output_w,
                                    pass_fds=(result_w, status_w) + ((args_r,) if args_r >= 0 else ()),
                                    start_new_session=True, preexec_fn=limiter)
            for fd in (result_w, output_w, status_w, args_r):
                if fd >= 0:
                    os.close(fd)
            result_w = output_w = status_w = args_r = -1
            watch = Watch(proc, result_r, output_r, list(jobs), layout, limits, cgroup, window)
            results = watch.run()
            if mode == "bwrap":
                _check_bwrap_started(status_r, watch)
            return [JobOutcome(r, s) for r, s in zip(results, watch.seconds)]
    finally:
        for fd in (result_r, output_r, status_r, result_w, output_w, status_w, args_r):
            if fd >= 0:
                os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        if scratch is not None:  # unsandboxed: the child could have made any tree here
            subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)


def _make_cgroup(limits: Limits) -> Cgroup | None:
    if cgroup_problem() is not None:
        return None
    return Cgroup.create(memory_bytes=limits.memory_mib << 20, processes=limits.processes)


def _check_bwrap_started(status_r: int, watch: Watch) -> None:
    """bubblewrap (trusted) reports the child's pid once it started it. Without that report the
    sandbox itself failed: the platform's error, never booked to the submitter."""
    os.set_blocking(status_r, False)
    try:
        status = os.read(status_r, 4096)
    except BlockingIOError:
        status = b""
    if b'"child-pid"' not in status:
        raise RuntimeError(f"the sandbox did not start: {watch.printed()[-500:]}")


def limits_report() -> str:
    """One line for the worker's start-up log: how sandbox limits are enforced here."""
    problem = cgroup_problem()
    if problem is None:
        return "sandbox limits: one cgroup per sandbox (memory with scratch and memfds, processes, CPU)"
    return (f"sandbox limits: no cgroup can be made here ({problem}); falling back to "
            "per-process rlimits (memory as address space per process, memfds and tmpfs only per "
            "file, processes per sandbox uid, CPU for the whole batch)")
