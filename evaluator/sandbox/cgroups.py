"""One control group per sandbox: memory (every process and the scratch tmpfs together),
processes, and CPU accounting, owned and read by the parent.

cgroup v1 (separate `memory`, `pids`, `cpuacct` hierarchies, as on this project's machines) or
v2 (one unified hierarchy, where the worker's own group lets it enable controllers for a
subgroup). Each sandbox's group is made under the worker's own group, so a host's limits on the
worker still hold. Where neither can be made, `cgroup_problem()` says why and the sandbox falls
back to per-process rlimits (said once at worker start).

What the parent decides from a group (never from what the child says): CPU seconds used
(`cpu_seconds`), whether the kernel's OOM killer struck (`oom_kills`), whether a fork was
refused at the process limit (`pids_refused`).
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from pathlib import Path

from ..env import env_str

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
_names = itertools.count()


def _own_paths() -> dict[str, str]:
    """{controller (or '' for v2): this process's group path}, from /proc/self/cgroup."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _counter(path: Path, key: str) -> int:
    """The value of `key` in a flat-keyed cgroup file ("oom_kill 2"), 0 when absent."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


class Cgroup:
    """A sandbox's group, in every hierarchy it needs. Use `Cgroup.create`, then `attach` from
    the child before it execs, `remove` after the sandbox ended."""

    def __init__(self, dirs: dict[str, Path], version: int):
        self.dirs, self.version = dirs, version

    @classmethod
    def create(cls, *, memory_bytes: int, processes: int) -> Cgroup:
        """Raises OSError where the host does not let this process make one."""
        name = f"pruneboard-{os.getpid()}-{next(_names)}"
        own = _own_paths()
        if all((ROOT / c / "cgroup.procs").exists() for c in V1_CONTROLLERS):
            dirs = {c: ROOT / c / own.get(c, "/").lstrip("/") / name for c in V1_CONTROLLERS}
            version = 1
        elif (ROOT / "cgroup.controllers").exists():
            parent = ROOT / own.get("", "/").lstrip("/")
            (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            dirs = {c: parent / name for c in V1_CONTROLLERS}
            version = 2
        else:
            raise OSError("no cgroup hierarchy is mounted at /sys/fs/cgroup")
        group = cls(dirs, version)
        try:
            for path in dict.fromkeys(dirs.values()):
                path.mkdir()
            group._limit(memory_bytes, processes)
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, memory_bytes: int, processes: int) -> None:
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        if self.version == 1:
            (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():  # no swapping past the limit either
                swap.write_text(str(memory_bytes))
            (pids / "pids.max").write_text(str(processes))
        else:
            (mem / "memory.max").write_text(str(memory_bytes))
            if (mem / "memory.swap.max").exists():
                (mem / "memory.swap.max").write_text("0")
            (pids / "pids.max").write_text(str(processes))

    def attach(self) -> None:
        """Move the calling process in (call from the child between fork and exec)."""
        pid = str(os.getpid())
        for path in dict.fromkeys(self.dirs.values()):
            (path / "cgroup.procs").write_text(pid)

    def cpu_seconds(self) -> float:
        if self.version == 1:
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        return _counter(self.dirs["cpuacct"] / "cpu.stat", "usage_usec") / 1e6

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return _counter(self.dirs["memory"] / name, "oom_kill")

    def pids_refused(self) -> int:
        return _counter(self.dirs["pids"] / "pids.events", "max")

    def pids(self) -> list[int]:
        found = set()
        for path in dict.fromkeys(self.dirs.values()):
            try:
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL everything left in the group, until it is empty."""
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for path in dict.fromkeys(self.dirs.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy for a moment after the last process died
                    time.sleep(0.05)


@functools.cache
def cgroup_problem() -> str | None:
    """None when this process can make a sandbox group here, else why not (checked once)."""
    if env_str("PRUNEBOARD_SANDBOX_CGROUP", "auto", choices=("auto", "off")) == "off":  # a typo raises
        return "PRUNEBOARD_SANDBOX_CGROUP=off"
    try:
        Cgroup.create(memory_bytes=1 << 30, processes=16).remove()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
