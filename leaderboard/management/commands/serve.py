"""`manage.py serve`: the whole product on one machine. Migrates, starts the web server, the
local Celery workers for the runs (one per core this process may use, `--workers`, each with
torch on cores / workers threads) and one for control work (the dispatcher and the reaper, with
the beat that schedules them: they never wait behind a run), seeds the baselines of the
embedded benchmarks (they fill in in the background), prints the address, and stops every
process on Ctrl-C or SIGTERM.

It owns its processes: each child gets SIGTERM from the kernel when this process dies, however
it dies (PR_SET_PDEATHSIG), so no worker or beat outlives it; on Ctrl-C or SIGTERM it gives its
children STOP_GRACE_SECONDS to stop, then kills what is left (a worker in the middle of a run:
the run goes back to waiting after its lease); and it holds a lock on var/serve.lock, so a
second `serve` on the same var/ refuses to start (never two beats)."""

import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PRUNEBOARD_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PRUNEBOARD_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="web server only")
        parser.add_argument("--no-seed", action="store_true", help="do not seed the baselines")
        parser.add_argument("--workers", type=int, default=settings.PRUNEBOARD_RUN_WORKERS or None,
                            help="run workers (default PRUNEBOARD_RUN_WORKERS, or one per core "
                                 "this process may use)")

    def handle(self, *args, host, port, no_worker, no_seed, workers, **options):
        if workers is not None and workers < 1:
            raise CommandError(f"--workers must be 1 or more (got {workers})")
        self._lock = _hold_lock(settings.VAR_DIR / "serve.lock")
        with socket.socket() as probe:
            # as gunicorn binds: connections of an earlier server still in TIME_WAIT do not
            # count, a server listening there does
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); is another "
                                   "server running there? Set PRUNEBOARD_PORT or pass --port.")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("sync_benchmarks", verbosity=0)
        _collect_static()
        bin_dir = os.path.dirname(sys.executable)
        procs = [_child([os.path.join(bin_dir, "gunicorn"), "pruneboard.wsgi",
                         "--bind", f"{host}:{port}", "--workers", "2", "--preload",
                         "--access-logfile", "-", "--log-level", "warning"],
                        env={**os.environ, "PRUNEBOARD_WEB_PRELOAD": "1"})]
        if not no_worker:
            procs += [_child(argv, env=env) for argv, env in worker_commands(workers, loglevel="INFO")]
        stopping = []
        stop = lambda *_: stopping or stopping.append(_terminate(procs))  # noqa: E731
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        address = f"http://{host}:{port}/"
        try:
            self._wait_until_up(address, procs[0])
            if not no_seed:
                call_command("seed_baselines")
            self.stdout.write(self.style.SUCCESS(f"pruneboard is up: {address}  (Ctrl-C stops it)"))
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        finally:
            stop()
            _reap(procs, self.stdout)

    def _wait_until_up(self, address, web, timeout=180):  # --preload: torch is imported first
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and web.poll() is None:
            try:
                urllib.request.urlopen(address, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the web server did not answer at {address} within {timeout} s")


def worker_commands(workers: int | None = None, *, loglevel: str = "INFO",
                    extra: tuple[str, ...] = ()) -> list[tuple[list[str], dict]]:
    """(argv, environment) of the Celery workers `serve` starts: `workers` run workers of the
    `cpu,gpu` queues (None: one per core this process may use), each a process of its own
    (`local1@host`, ...) computing with torch on cores / workers threads unless
    PRUNEBOARD_TORCH_THREADS says otherwise, then the control worker (the dispatcher and the
    reaper, on their own queue, with the one beat), which never waits behind a run."""
    cores = len(os.sched_getaffinity(0))
    workers = workers or cores
    celery = [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "pruneboard", "worker",
              "--concurrency", "1", "--pool", "solo", "--loglevel", loglevel, *extra]
    threads = str(settings.PRUNEBOARD_TORCH_THREADS or max(1, cores // workers))
    runs = [(celery + ["--queues", "cpu,gpu", "--hostname", f"local{i}@%h"],
             {**os.environ, "PRUNEBOARD_TORCH_THREADS": threads,
              "PRUNEBOARD_WORKER_NAME": f"{settings.PRUNEBOARD_WORKER_NAME}/local{i}"})
            for i in range(1, workers + 1)]
    return runs + [(celery + ["--queues", "control", "--hostname", "control@%h", "--beat"], dict(os.environ))]


def _collect_static() -> None:
    """`collectstatic` (hashed names, gzip copies) when the static sources changed since the
    last time: their names, sizes and times are stamped in STATIC_ROOT."""
    from django.contrib.staticfiles.finders import get_finders

    sources = sorted(f"{path}:{os.stat(storage.path(path)).st_size}:{os.stat(storage.path(path)).st_mtime_ns}"
                     for finder in get_finders() for path, storage in finder.list(["CVS", ".*", "*~"]))
    stamp = settings.STATIC_ROOT / ".sources"
    if stamp.exists() and stamp.read_text() == "\n".join(sources) and (settings.STATIC_ROOT / "staticfiles.json").exists():
        return
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text("\n".join(sources))


STOP_GRACE_SECONDS = 10


def _terminate(procs) -> float:
    """SIGTERM to every child still running; returns when that was."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    return time.monotonic()


def _reap(procs, out) -> None:
    """Wait STOP_GRACE_SECONDS for the children to stop; then SIGKILL what is left. A Celery
    worker's warm shutdown would otherwise finish its run in progress first (up to the run's
    time limit): killed, that run keeps its lease and the reaper puts it back to waiting after
    the next start (acks_late: it is not lost)."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            out.write(f"pid {p.pid} ({os.path.basename(p.args[0])}) did not stop within "
                      f"{STOP_GRACE_SECONDS} s: killed")
            os.killpg(p.pid, signal.SIGKILL)  # with its own children (the beat, a sandbox)
            p.wait(timeout=30)


def _hold_lock(path):
    """An exclusive lock on `path` for this process's life (the kernel drops it when the process
    dies, however it dies); CommandError when another `serve` holds it."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        raise CommandError(f"another `manage.py serve` (pid {handle.read().strip() or '?'}) is running "
                           f"on {path.parent}; stop it first (or set PRUNEBOARD_VAR_DIR to another folder)")
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG), and a
    process group of its own, so that `serve` stops it and its children together (Ctrl-C in a
    terminal reaches `serve` alone, which stops each child)."""
    os.setpgid(0, 0)
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _child(argv, env=None) -> subprocess.Popen:
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, env=env)
