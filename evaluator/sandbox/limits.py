"""The sandbox's limits: per job, per sandbox, every one a setting, each reported by name.

Time is a budget *per job* (one (compression, seed) pair), not per child: a child that computes
21 jobs gets each job's budget afresh when the job before it returns, so a slow job fails alone
and the masks already sent are kept. A benchmark sets its own mask-time budget
(`Benchmark.mask_seconds`, fitted to its model); `PRUNEBOARD_SANDBOX_TIMEOUT` overrides it for
every benchmark. In a worker, one run's sandbox also computes the masks of its queued
siblings, within a window (`Limits.window`) that the run task's time limit covers
(`Limits.task_seconds`). Memory counts every process of the sandbox and its scratch tmpfs together
(a cgroup, see `evaluator.sandbox.cgroups`); where no cgroup can be made it falls back to an
address-space rlimit per process.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from ..env import EnvError, env_float, env_int

STARTUP_SECONDS = 60.0  # to load Python, torch and the strategy file, before the first job's clock starts
BATCH_SECONDS = 300.0  # a worker's batch: the window within which its sandbox may start another job


def _env_number(name: str, default, cast=int):
    """A positive number from the environment (evaluator.env: a malformed one raises EnvError)."""
    value = (env_int if cast is int else env_float)(name, default)
    if value <= 0:
        raise EnvError(f"{name} must be positive, got {os.environ[name]!r}")
    return value


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 600  # PRUNEBOARD_SANDBOX_TIMEOUT, else the benchmark's: wall-clock per job
    cpu_seconds: int = 1200  # PRUNEBOARD_SANDBOX_CPU_SECONDS, else 2 x wall: CPU per job, all processes
    memory_mib: int = 8192  # PRUNEBOARD_SANDBOX_MEMORY_MB: all processes + scratch, together
    scratch_mib: int = 256  # PRUNEBOARD_SANDBOX_SCRATCH_MB: size of /scratch, and of /tmp
    file_mib: int = 64  # PRUNEBOARD_SANDBOX_FILE_MB: largest single file written
    processes: int = 128  # PRUNEBOARD_SANDBOX_PROCESSES: processes and threads of the sandbox
    open_files: int = 256  # PRUNEBOARD_SANDBOX_OPEN_FILES: per process
    startup_seconds: float = STARTUP_SECONDS  # PRUNEBOARD_SANDBOX_STARTUP_SECONDS
    batch_seconds: float = BATCH_SECONDS  # PRUNEBOARD_SANDBOX_BATCH_SECONDS: see `window`

    @classmethod
    def from_environment(cls, mask_seconds: float | None = None) -> Limits:
        """The operator's settings; `mask_seconds` is the benchmark's per-job time budget."""
        wall = _env_number("PRUNEBOARD_SANDBOX_TIMEOUT", mask_seconds or cls.wall_seconds, float)
        return cls(
            wall_seconds=wall,
            cpu_seconds=_env_number("PRUNEBOARD_SANDBOX_CPU_SECONDS", int(2 * wall)),
            memory_mib=_env_number("PRUNEBOARD_SANDBOX_MEMORY_MB", cls.memory_mib),
            scratch_mib=_env_number("PRUNEBOARD_SANDBOX_SCRATCH_MB", cls.scratch_mib),
            file_mib=_env_number("PRUNEBOARD_SANDBOX_FILE_MB", cls.file_mib),
            processes=_env_number("PRUNEBOARD_SANDBOX_PROCESSES", cls.processes),
            open_files=_env_number("PRUNEBOARD_SANDBOX_OPEN_FILES", cls.open_files),
            startup_seconds=_env_number("PRUNEBOARD_SANDBOX_STARTUP_SECONDS", cls.startup_seconds, float),
            batch_seconds=_env_number("PRUNEBOARD_SANDBOX_BATCH_SECONDS", cls.batch_seconds, float),
        )

    @property
    def window(self) -> float:
        """Seconds of a worker's batch after the strategy file loaded: a job of the batch is
        started only if its whole budget ends within them (the run's own job always is), so a
        run's task holds its worker for at most `startup_seconds + window` of mask time,
        whatever the strategy does; the jobs left wait for a batch of their own."""
        return max(self.batch_seconds, self.wall_seconds)

    def task_seconds(self, run_seconds: float) -> int:
        """The time limit of a run's task on a worker: the run's own limit (`run_seconds`,
        finetuning and scoring) plus its batch of masks, so that a batch never outlives it."""
        return int(run_seconds + self.startup_seconds + self.window)

    def as_dict(self) -> dict:
        return asdict(self)


def _mib(value: int) -> str:
    return f"{value / 1024:g} GiB" if value >= 1024 else f"{value} MiB"


def describe_limit(kind: str, limits: Limits) -> str:
    """The submitter's message for a limit, naming it and its value."""
    return {
        "memory": f"ran out of memory (limit {_mib(limits.memory_mib)}, all processes and "
                  f"scratch files together)",
        "cpu": f"used more CPU time than allowed (limit {limits.cpu_seconds} CPU seconds a job)",
        "time": f"did not finish within the time limit ({limits.wall_seconds:g} s a job)",
        "processes": f"tried to start more processes or threads than allowed (limit {limits.processes})",
    }[kind]
