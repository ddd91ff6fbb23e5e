"""How the sandbox child is isolated: bubblewrap, an unprivileged uid of its own, rlimits.

Under bubblewrap the child sees, read-only, only what it runs (`evaluator.sandbox.mounts`: the
interpreter, the standard library, the packages it imports, the shared libraries, `evaluator/`
at a neutral path; never a whole prefix, so no data set whatever the install layout), its
inputs read-only at /input, a size-capped tmpfs at /scratch (its working folder) and at /tmp,
both gone when the sandbox ends, no /proc (only /proc/cpuinfo), its own network namespace (no network at all), its
own PID, IPC and UTS namespaces, an empty environment, and it dies with its parent. bwrap's
options travel through a memfd (`args_fd`), so no host path is on a command line. Run as root, the worker drops the child to a uid of
its sandbox slot's own (`UidSlot`), so no limit counted per uid is shared between users.

Memory, processes and CPU are limited per sandbox through a cgroup where the host allows one
(`evaluator.sandbox.cgroups`); the rlimits set here are backstops, or the fallback where it does not.
Every limit is a setting (`evaluator.sandbox.limits`).
"""

from __future__ import annotations

import fcntl
import functools
import os
import resource
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from ..env import env_bool, env_int, env_str
from . import mounts
from .errors import SandboxUnavailable
from .limits import Limits

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRATCH = "/scratch"  # the child's working folder: a size-capped tmpfs, gone with the sandbox
INPUT = "/input"  # the parent's input files, read-only
DEFAULT_UID_BASE = 200_000  # sandbox slot N runs as uid BASE + N (root workers)
UID_SLOTS = 256


def sandbox_mode() -> str:
    """"bwrap", or "none" where an operator explicitly allows unsandboxed runs.

    PRUNEBOARD_SANDBOX=bwrap (default) | none; "none", or bubblewrap failing to start, needs
    PRUNEBOARD_ALLOW_UNSANDBOXED=1, else untrusted code is refused (SandboxUnavailable).
    """
    wanted = env_str("PRUNEBOARD_SANDBOX", "bwrap")
    allow = env_bool("PRUNEBOARD_ALLOW_UNSANDBOXED", False)  # "on" is true, "maybe" an error
    if wanted not in ("bwrap", "none"):
        raise SandboxUnavailable(f"PRUNEBOARD_SANDBOX={wanted!r}; known: bwrap, none")
    problem = "PRUNEBOARD_SANDBOX=none" if wanted == "none" else bwrap_problem()
    if problem is None:
        return "bwrap"
    if allow:
        return "none"
    raise SandboxUnavailable(
        f"untrusted code is refused: the sandbox cannot run ({problem}). Install Debian's "
        "bubblewrap, or set PRUNEBOARD_ALLOW_UNSANDBOXED=1 to run strategies without it "
        "(every such result is marked unsandboxed).")


@functools.cache
def bwrap_problem() -> str | None:
    """None when bubblewrap can build a sandbox here, else what went wrong."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed"
    result = subprocess.run([bwrap, *_namespaces(), "--ro-bind", "/", "/", *_SYSTEM_MOUNTS, "true"],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return f"bwrap fails: {result.stderr.strip()[:300]}"
    return None


# No /proc of its own: the child could read its parent's command line and mount table there
# (server paths), and inside a container whose /proc Docker masks, the kernel refuses to mount
# one. It sees /proc/cpuinfo alone (torch's CPU detection reads it) and a minimal /dev.
_SYSTEM_MOUNTS = ["--perms", "0755", "--dir", "/proc", "--ro-bind-try", "/proc/cpuinfo", "/proc/cpuinfo",
                  "--dev", "/dev"]


def _namespaces() -> list[str]:
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")  # unprivileged bubblewrap needs a user namespace
    return flags


def _hidden_data() -> list[Path]:
    """Package folders that hold or generate benchmark data: emptied should one of them be inside
    what the child sees (`evaluator.sandbox.mounts` binds none of their packages: a second fence)."""
    hidden = []
    for module, sub in (("sklearn", "datasets/data"), ("sklearn", "datasets/descr"), ("mnist1d", "")):
        spec = __import__("importlib.util").util.find_spec(module)
        if spec and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / sub
            if path.exists():
                hidden.append(path)
    return hidden


def _dirs_for(path: Path, made: set[str]) -> list[str]:
    """bwrap makes missing parent folders 0700; make them 0755 so the unprivileged child passes."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) != "/" and str(parent) not in made:
            made.add(str(parent))
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def bwrap_command(argv: list[str], inputs: Path, env: dict[str, str], *, uid: int | None,
                  scratch_bytes: int, status_fd: int) -> list[str]:
    """The bubblewrap command line. The child sees only what `evaluator.sandbox.mounts.plan()` lists
    (read-only), `inputs` (the parent's folder) read-only at /input, and fresh tmpfs of
    `scratch_bytes` each at /scratch and /tmp, gone with the sandbox. No /proc: the child reads
    neither the parent's command line nor the mount table (and a container that refuses a fresh
    procfs still runs it). bwrap (trusted) writes the child's pid to `status_fd` once started.
    Pass the result through `args_fd` so that no host path is in any process's command line."""
    plan = mounts.plan()
    made: set[str] = {"/tmp"}  # already a fresh tmpfs
    size = str(scratch_bytes)
    # A private /tmp first: binds below may live under /tmp (a checkout there) and must stay
    # visible on top of it.
    cmd = [shutil.which("bwrap"), "--perms", "01777", "--size", size, "--tmpfs", "/tmp",
           "--perms", "0755", "--dir", "/etc"]
    for system in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"):
        cmd += ["--ro-bind-try", system, system]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{name}") if os.path.islink(f"/{name}") else None
        cmd += ["--symlink", target, f"/{name}"] if target else []
    for tree in plan.trees:
        cmd += _dirs_for(Path(tree), made) + ["--ro-bind", tree, tree]
    for folder in plan.emptied:
        cmd += ["--perms", "0755", "--tmpfs", folder]
    for host, inside in plan.entries:
        cmd += _dirs_for(Path(inside), made) + ["--ro-bind", host, inside]
    for path in _hidden_data():
        if mounts.reachable(str(path), plan):
            cmd += ["--tmpfs", str(path)]
    cmd += ["--ro-bind", str(inputs), INPUT,
            "--perms", "01777", "--size", size, "--tmpfs", SCRATCH, "--chdir", SCRATCH,
            *_SYSTEM_MOUNTS, *_namespaces(), "--die-with-parent",
            "--new-session", "--clearenv", "--json-status-fd", str(status_fd)]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd.append("--")
    if uid is not None:
        cmd += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}",
                f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs"]
    return cmd + argv


def args_fd(command: list[str]) -> tuple[list[str], int]:
    """`command` (from `bwrap_command`) with its options moved into a pipe that bwrap reads to
    its end (`--args FD`): returns the short command line and the pipe's read end, to pass to
    bwrap and close once it started. What stays on the command line is the program and its own
    arguments. A pipe, not a file: what the child inherits of it is already read, empty."""
    split = command.index("--")
    data = b"".join(arg.encode() + b"\0" for arg in command[1:split])
    read, write = os.pipe()
    try:
        fcntl.fcntl(write, 1031, max(len(data), 1 << 16))  # F_SETPIPE_SZ: the whole list fits
        os.write(write, data)
    except OSError:
        os.close(read)
        raise
    finally:
        os.close(write)
    return [command[0], "--args", str(read), *command[split:]], read


def prepare_inputs(inputs: Path) -> None:
    """Let the unprivileged child read (never write) the parent's input files."""
    inputs.chmod(0o755)
    for path in inputs.iterdir():
        path.chmod(0o644)  # safetensors writes 0600


class UidSlot:
    """A uid of its own for each concurrent sandbox on this host (root workers only), so
    RLIMIT_NPROC and file ownership never pool one user's sandbox with another's.

    Slot N (uid PRUNEBOARD_SANDBOX_UID_BASE + N) is held through an exclusive flock on a file
    in a root-owned folder; processes a dead holder left behind under that uid are killed
    when the slot is taken."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and os.geteuid() == 0  # uid None: the child keeps the worker's
        self.uid: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> UidSlot:
        if not self.enabled:
            return self
        folder = Path(env_str("PRUNEBOARD_SANDBOX_SLOT_DIR", "/tmp/pruneboard-sandbox-slots"))
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise SandboxUnavailable(f"{folder} must be a folder owned by root, writable by root only")
        base = env_int("PRUNEBOARD_SANDBOX_UID_BASE", DEFAULT_UID_BASE, minimum=0)
        for n in range(UID_SLOTS):
            fd = os.open(folder / f"slot-{n}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = base + n, fd
            kill_processes_of(self.uid)
            return self
        raise SandboxUnavailable(f"all {UID_SLOTS} sandbox uid slots are busy")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            kill_processes_of(self.uid)
            os.close(self._fd)  # releases the lock


def processes_of(uids: set[int]) -> list[int]:
    """Pids of the processes running as any of `uids`."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid in uids:
                    found.append(int(pid))
            except OSError:
                continue
    return found


def kill_processes_of(uid: int) -> None:
    for pid in processes_of({uid}):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _own_process_count() -> int:
    """Threads of every process of the worker's own uid (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in processes_of({os.getuid()}):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


def resource_limiter(limits: Limits, *, own_uid: bool, cpu_total: int, cgroup=None):
    """A preexec_fn: move into the sandbox's cgroup, then set the rlimits (inherited through
    bwrap and setpriv), and make the sandbox the OOM killer's first choice (oom_score_adj
    1000). With a cgroup, memory and processes are the group's (every process of the sandbox
    and its tmpfs and memfds together) and the rlimits are backstops; without one, memory is an
    address-space limit per process, and what a strategy keeps in memfds or tmpfs files is
    capped only per file (RLIMIT_FSIZE) and by the number of open files (RLIMIT_NOFILE)."""
    # RLIMIT_NPROC counts every process of the real uid: exact for a uid of the sandbox's own,
    # and on top of what the worker's own user already runs otherwise.
    nproc = limits.processes if own_uid else _own_process_count() + limits.processes
    memory = limits.memory_mib * 1024 * 1024

    def apply():
        # The OOM killer's first choice is the sandbox (inherited by bwrap and every process of
        # the child's), never the worker: memory in memfds and tmpfs is nobody's RSS.
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
        if cgroup is not None:
            cgroup.attach()
        else:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_total, cpu_total + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mib * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply
