"""The boundary around untrusted strategy code: one public face for the worker, the CLI and
Celery. Everything else in this package is the boundary's own business.

    from evaluator.sandbox import compute_jobs, StrategySource, StrategyError, SandboxUnavailable

- jobs.py: the parent side (`compute_jobs`, `compute_masks`): inputs written, the child
  started, its answers taken;
- child.py: the child side, run as `python -m evaluator.sandbox.child INPUT_DIR FD`;
- channel.py: the one way back out, bounded messages on a pipe the parent owns;
- supervise.py: the parent's watch over a running child (limits decided from its own evidence);
- isolation.py, mounts.py: bubblewrap, the child's uid, rlimits, what it sees of the file system;
- cgroups.py: a cgroup per sandbox where the host allows it;
- limits.py: the per-sandbox limits and their environment variables;
- hygiene.py: the worker's start-up checks and clean-up of what a killed worker left;
- errors.py: StrategyError (the submitter's) and SandboxUnavailable (the host's).
"""

from .cgroups import cgroup_problem
from .errors import SandboxUnavailable, StrategyError
from .hygiene import clean_stale, memory_problem
from .isolation import bwrap_problem, sandbox_mode
from .jobs import JobOutcome, StrategySource, compute_jobs, compute_masks, limits_report, sandbox_label
from .limits import Limits, describe_limit
from .channel import mask_bytes, pack_bits, unpack_bits

__all__ = ["compute_jobs", "compute_masks", "StrategySource", "JobOutcome", "StrategyError", "SandboxUnavailable",
           "Limits", "describe_limit", "sandbox_label", "limits_report", "sandbox_mode", "bwrap_problem",
           "cgroup_problem", "memory_problem", "clean_stale",
           "pack_bits", "unpack_bits", "mask_bytes"]
