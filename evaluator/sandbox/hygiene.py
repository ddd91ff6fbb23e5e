"""What a worker checks and cleans before it runs any sandbox (called once at worker start).

- The sandbox's memory limit must fit in what the worker can give: a limit larger than the
  worker's own cgroup limit (memory.max / memory.limit_in_bytes, its ancestors' included) or
  than the machine's RAM would let a strategy push the *worker's* group out of memory first,
  and memory held in memfds or tmpfs is nobody's RSS, so the kernel's OOM killer would pick the
  biggest process: the worker. `memory_problem` says so, and the worker refuses to start.
  (Each sandbox child also runs with oom_score_adj 1000: `evaluator.sandbox.isolation.resource_limiter`.)
- A worker killed mid-run (SIGKILL, the OOM killer, a power cut) leaves its sandbox cgroups
  (`pruneboard-<pid>-<n>`) and input folders (`/tmp/pruneboard-sandbox-<pid>-...`) behind:
  `clean_stale` removes those whose owner pid is dead, and kills what is left in such a group.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import cgroups
from .limits import Limits, _mib

UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a number near 2**63
_STALE_GROUP = re.compile(r"^pruneboard-(\d+)-\d+$")
_STALE_FOLDER = re.compile(r"^pruneboard-(?:sandbox|scratch)-(\d+)-")


def _group_limit(path: Path) -> int | None:
    for name in ("memory.max", "memory.limit_in_bytes"):
        try:
            text = (path / name).read_text().strip()
        except OSError:
            continue
        if text != "max" and int(text) < UNLIMITED:
            return int(text)
    return None


def worker_memory_bytes(root: Path = cgroups.ROOT) -> tuple[int, str]:
    """(bytes, what limits them): the least of the machine's RAM and the memory limit of this
    process's cgroup and each of its ancestors."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    best, where = ram, "the machine's RAM"
    try:
        own = cgroups._own_paths()
    except OSError:
        own = {}
    for controller in ("memory", ""):
        if controller not in own:
            continue
        base = root / controller if controller else root
        group = base / own[controller].lstrip("/")
        for folder in [group, *group.parents]:
            if not str(folder).startswith(str(base)):
                break
            limit = _group_limit(folder)
            if limit is not None and limit < best:
                best, where = limit, f"the worker's cgroup memory limit ({folder})"
    return best, where


def memory_problem(limits: Limits | None = None) -> str | None:
    """None when the sandbox's memory limit fits in what the worker can give, else why not."""
    limits = limits or Limits.from_environment()
    available, where = worker_memory_bytes()
    wanted = limits.memory_mib << 20
    if wanted <= available:
        return None
    return (f"PRUNEBOARD_SANDBOX_MEMORY_MB={limits.memory_mib} ({_mib(limits.memory_mib)}) is more "
            f"than this worker can give: {where} is {available / (1 << 30):.2f} GiB. A strategy could then "
            f"push the worker itself out of memory; set PRUNEBOARD_SANDBOX_MEMORY_MB below it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(tmp: str | None = None, root: Path = cgroups.ROOT) -> list[str]:
    """Remove the sandbox cgroups and temp folders of dead worker processes; returns them."""
    removed = []
    try:
        own = cgroups._own_paths()
    except OSError:
        own = {}
    folders = {(root / c if c else root) / own[c].lstrip("/")
               for c in (*cgroups.V1_CONTROLLERS, "") if c in own}
    for folder in folders:
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            match = _STALE_GROUP.match(child.name)
            if match and child.is_dir() and not _alive(int(match.group(1))):
                cgroups.Cgroup({"memory": child, "pids": child, "cpuacct": child}, 1).remove()
                removed.append(str(child))
    tmp = Path(tmp or tempfile.gettempdir())
    for child in tmp.iterdir():
        match = _STALE_FOLDER.match(child.name)
        if match and child.is_dir() and not child.is_symlink() and not _alive(int(match.group(1))):
            # a child's scratch (unsandboxed runs) may hold any tree: never follow it elsewhere
            subprocess.run(["rm", "-rf", "--one-file-system", str(child)], check=False)
            if child.exists():
                shutil.rmtree(child, ignore_errors=True)
            removed.append(str(child))
    return removed
