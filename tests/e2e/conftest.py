"""The whole product as an operator runs it in production: gunicorn and Celery worker processes
against the real PostgreSQL and Redis on localhost, in a fresh database and Redis db.

Outside CI a missing server skips these tests; in CI (CI=true) it fails them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("PRUNEBOARD_TEST_PG_URL", "postgres://localhost/postgres")
REDIS_URL = os.environ.get("PRUNEBOARD_TEST_REDIS_URL", "redis://localhost:6379/14")


def _missing(what: str, exc: Exception):
    message = f"{what} is not reachable ({exc})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI needs the real server", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Short leases so a killed worker's run comes back within seconds (production: minutes).
FAST_RECOVERY = {"PRUNEBOARD_LEASE_SECONDS": "10", "PRUNEBOARD_HEARTBEAT_SECONDS": "2",
                 "PRUNEBOARD_REAP_SECONDS": "3", "PRUNEBOARD_QUEUE_STALE_SECONDS": "6"}
# Two workers share the machine's cores: one torch thread each (measured: a 21-run sweep took
# 121 s with torch's default, 79 s with one thread; oversubscribed cores slow every run).
ONE_THREAD_PER_WORKER = {"PRUNEBOARD_TORCH_THREADS": "1"}


@dataclass
class Stack:
    url: str
    env: dict
    var: Path
    processes: list = field(default_factory=list)
    workers: dict = field(default_factory=dict)
    redis: "OwnRedis | None" = None
    database: str = ""

    def stop_workers(self, kill: bool = False) -> None:
        """Stop the run workers as an operator does (SIGTERM: a warm shutdown, which waits for
        the run in hand), or, kill=True, at once (between tests: nothing left to check)."""
        for proc in self.workers.values():
            _stop(proc, kill)
        self.workers.clear()

    def start_beat(self) -> subprocess.Popen:
        """The control worker with the beat: the dispatcher and the reaper, on their own queue."""
        log = open(self.var / "beat.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pruneboard", "worker", "--queues", "control",
             "--concurrency", "1", "--pool", "solo", "--hostname", f"control-{uuid.uuid4().hex[:6]}@%h",
             "--beat", "--schedule", str(self.var / "beat-schedule"), "--loglevel", "INFO"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # a group of its own: the beat is a child process (`_stop`)
        self.processes.append(proc)
        self.control = proc
        return proc

    def stop_beat(self, kill: bool = False) -> None:
        proc = getattr(self, "control", None)
        if proc is not None:
            _stop(proc, kill)

    def worker_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.var.glob("worker-*.log"))

    def manage(self, *args, input=None) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=300, input=input)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.var / f"worker-{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pruneboard", "worker", "--queues", "cpu,gpu",
             "--concurrency", "1", "--pool", "solo", "--hostname", f"{name}@%h", "--loglevel", "INFO"],
            cwd=ROOT, env={**self.env, "PRUNEBOARD_WORKER_NAME": f"{name}@{socket.gethostname()}"},
            stdout=log, stderr=subprocess.STDOUT,  # its runs record which worker held them
            start_new_session=True)
        self.processes.append(proc)
        self.workers[name] = proc
        return proc

    def wait_for_worker(self, benchmark: str = "digits-mlp", seconds: float = 180) -> None:
        """Until a worker has reported that it can run the benchmark (submissions.capabilities):
        only then does the site accept submissions to it."""
        deadline = time.monotonic() + seconds
        while not json.loads(self.get(f"/api/benchmarks/{benchmark}/"))["runnable"]:
            assert time.monotonic() < deadline, f"no worker reported {benchmark} runnable in {seconds} s"
            time.sleep(0.5)

    def worker_reported(self) -> None:
        """A heartbeat as a worker of this machine writes it when it stops: the site counts it
        live for PRUNEBOARD_WORKER_STALE_SECONDS, so uploads are accepted with every worker down."""
        self.manage("shell", "-c", "from submissions.capabilities import worker_heartbeat, worker_report; "
                    "worker_heartbeat(hostname='stopped@e2e', queues=['cpu', 'gpu'], device='cpu', "
                    "capabilities=worker_report(['cpu', 'gpu']))")

    def get(self, path: str, headers: dict | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()


def _stop(proc: subprocess.Popen, kill: bool) -> None:
    """SIGTERM the process (a Celery worker's warm shutdown stops its children too), or SIGKILL
    its whole process group: killed alone, a control worker would leave its beat process behind."""
    if proc.poll() is None:
        if kill:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            proc.terminate()
        proc.wait(timeout=60)


class OwnRedis:
    """A redis-server of the test's own on a free port, so a test may restart it."""

    def __init__(self, var: Path):
        self.port, self.var, self.proc = _free_port(), var, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.var)],
            stdout=open(self.var / "redis.log", "ab"), stderr=subprocess.STDOUT)
        import redis

        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def restart(self) -> None:
        """Like a Redis that lost its memory: every message still queued is gone."""
        self.stop()
        self.start()

@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    import psycopg
    import redis

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means no server
        _missing("PostgreSQL", exc)
    try:
        broker = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        broker.ping()
    except Exception as exc:  # noqa: BLE001
        _missing("Redis", exc)
    broker.flushdb()
    name = f"pruneboard_e2e_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    own_redis = None
    broker_url = REDIS_URL
    if shutil.which("redis-server"):
        own_redis = OwnRedis(var)
        own_redis.start()
        broker_url = own_redis.url
    env = {**os.environ, "DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
           "CELERY_BROKER_URL": broker_url, "PRUNEBOARD_VAR_DIR": str(var),
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1", **FAST_RECOVERY,
           **ONE_THREAD_PER_WORKER}
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, var=var, redis=own_redis, database=name)
    try:
        # migrate, the benchmarks, and the manifest storage's hashed, gzipped static files: the
        # three commands in one process (each start imports Django and torch)
        stack.manage("shell", "-c", "from django.core.management import call_command as c; "
                     "c('migrate', interactive=False, verbosity=0); c('sync_benchmarks'); "
                     "c('collectstatic', interactive=False, verbosity=0)")
        web_log = open(var / "web.log", "wb")
        stack.processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pruneboard.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--preload", "--access-logfile", "-"],  # as `manage.py serve` runs it
            cwd=ROOT, env={**env, "PRUNEBOARD_WEB_PRELOAD": "1"}, stdout=web_log, stderr=subprocess.STDOUT))
        _wait_for(stack.url + "/", 180)  # the master imports torch before it listens (--preload)
        yield stack
    finally:
        for proc in stack.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in stack.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            try:  # what is left of a worker's process group (a killed control worker's beat)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        broker.flushdb()
        if own_redis:
            own_redis.stop()


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")
