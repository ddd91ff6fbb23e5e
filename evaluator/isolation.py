"""How the sandbox child is isolated: bubblewrap, resource limits, an unprivileged user.

Under bubblewrap the child sees a read-only view of the system (/usr) and of the Python it
runs (the interpreter, the virtualenv, the `evaluator` package; no datasets: sklearn's bundled
digits and the mnist1d generator are hidden), a private writable scratch folder (deleted
afterwards), a private /tmp, its own network namespace (no network at all), its own PID, IPC and
UTS namespaces, an empty environment, and it dies with its parent. Run as root, the worker drops
the child to uid/gid 65534 (nobody) inside the sandbox, so the process limit applies to it alone.

Every limit is a setting (environment variable, see `Limits.from_environment`) and hitting one
is reported by name, e.g. "ran out of memory (limit 8 GiB)".
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_UID = 65534  # nobody
SCRATCH = "/scratch"  # where the child sees its working folder


class SandboxUnavailable(RuntimeError):
    """Untrusted code cannot be isolated here, and running it unsandboxed is not allowed."""


def _env_number(name: str, default: float, cast=int):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 600  # PRUNEBOARD_SANDBOX_TIMEOUT: wall-clock time to return masks
    cpu_seconds: int = 1200  # PRUNEBOARD_SANDBOX_CPU_SECONDS: CPU time, all threads together
    memory_mib: int = 8192  # PRUNEBOARD_SANDBOX_MEMORY_MB: address space (torch alone maps ~3 GiB)
    file_mib: int = 64  # PRUNEBOARD_SANDBOX_FILE_MB: largest file written (output included)
    processes: int = 128  # PRUNEBOARD_SANDBOX_PROCESSES: processes and threads
    open_files: int = 256  # PRUNEBOARD_SANDBOX_OPEN_FILES

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(
            wall_seconds=_env_number("PRUNEBOARD_SANDBOX_TIMEOUT", cls.wall_seconds, float),
            cpu_seconds=_env_number("PRUNEBOARD_SANDBOX_CPU_SECONDS", cls.cpu_seconds),
            memory_mib=_env_number("PRUNEBOARD_SANDBOX_MEMORY_MB", cls.memory_mib),
            file_mib=_env_number("PRUNEBOARD_SANDBOX_FILE_MB", cls.file_mib),
            processes=_env_number("PRUNEBOARD_SANDBOX_PROCESSES", cls.processes),
            open_files=_env_number("PRUNEBOARD_SANDBOX_OPEN_FILES", cls.open_files),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def describe_limit(kind: str, limits: Limits | dict) -> str:
    """The submitter's message for a limit, naming it and its value."""
    lim = limits if isinstance(limits, dict) else limits.as_dict()
    memory = lim["memory_mib"]
    size = f"{memory / 1024:g} GiB" if memory >= 1024 else f"{memory} MiB"
    return {
        "memory": f"ran out of memory (limit {size})",
        "cpu": f"used more CPU time than allowed (limit {lim['cpu_seconds']} CPU seconds)",
        "time": f"did not finish within the time limit ({lim['wall_seconds']:g} s)",
        "file size": f"wrote more than the file size limit ({lim['file_mib']} MiB; printed output counts)",
        "processes": f"tried to start more processes or threads than allowed (limit {lim['processes']})",
        "open files": f"opened more files than allowed (limit {lim['open_files']})",
    }[kind]


def sandbox_mode() -> str:
    """"bwrap", or "none" where an operator explicitly allows unsandboxed runs.

    PRUNEBOARD_SANDBOX=bwrap (default) | none; "none", or bubblewrap failing to start, needs
    PRUNEBOARD_ALLOW_UNSANDBOXED=1, else untrusted code is refused (SandboxUnavailable).
    """
    wanted = os.environ.get("PRUNEBOARD_SANDBOX", "bwrap")
    allow = os.environ.get("PRUNEBOARD_ALLOW_UNSANDBOXED", "0").lower() in ("1", "true", "yes")
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
    result = subprocess.run([bwrap, *_namespaces(), "--ro-bind", "/", "/", "true"],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return f"bwrap fails: {result.stderr.strip()[:300]}"
    return None


def _namespaces() -> list[str]:
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")  # unprivileged bubblewrap needs a user namespace
    return flags


def _hidden_data() -> list[Path]:
    """Package folders that hold or generate benchmark data: the child must not read them."""
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


def bwrap_command(argv: list[str], work: Path, env: dict[str, str]) -> list[str]:
    made: set[str] = {"/tmp"}  # already a fresh tmpfs
    binds = [Path(sys.prefix), Path(sys.base_prefix), REPO_ROOT / "evaluator"]
    # A private /tmp first: binds below may live under /tmp (a checkout there) and must stay
    # visible on top of it.
    cmd = [shutil.which("bwrap"), "--perms", "01777", "--tmpfs", "/tmp", "--perms", "0755", "--dir", "/etc"]
    for system in ("/usr", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        cmd += ["--ro-bind-try", system, system]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{name}") if os.path.islink(f"/{name}") else None
        cmd += ["--symlink", target, f"/{name}"] if target else ["--ro-bind-try", f"/{name}", f"/{name}"]
    for path in dict.fromkeys(binds):
        cmd += _dirs_for(path, made) + ["--ro-bind", str(path), str(path)]
    for path in _hidden_data():
        cmd += ["--tmpfs", str(path)]
    cmd += ["--bind", str(work), SCRATCH, "--chdir", SCRATCH, "--proc", "/proc", "--dev", "/dev",
            *_namespaces(), "--die-with-parent",
            "--new-session", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd.append("--")
    if os.geteuid() == 0:
        cmd += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_UID}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs"]
    return cmd + argv


def prepare_scratch(work: Path) -> None:
    """Let the unprivileged child read its inputs and write its masks in the scratch folder."""
    for path in work.iterdir():
        path.chmod(0o644)  # safetensors writes 0600
    if os.geteuid() == 0:
        os.chown(work, SANDBOX_UID, SANDBOX_UID)


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                continue
    return count


def resource_limiter(limits: Limits, mode: str):
    """A preexec_fn that sets the child's rlimits (inherited through bwrap and setpriv)."""
    # RLIMIT_NPROC counts every process of the real uid: exact for the sandbox user, and on
    # top of what the worker's own user already runs otherwise.
    dropped = mode == "bwrap" and os.geteuid() == 0
    nproc = limits.processes if dropped else _own_process_count() + limits.processes
    memory = limits.memory_mib * 1024 * 1024

    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mib * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply
