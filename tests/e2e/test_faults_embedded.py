"""The fault tests on the embedded default (SQLite, the SQLAlchemy broker file, solo workers), as
`make run` runs it; tests/e2e/test_faults.py has them on Redis + PostgreSQL.

One stack, one crash, every fault at once: a researcher's 21 runs are under way when the run
worker is SIGKILLed in the middle of a run and the control worker (the dispatcher, the reaper,
the beat) with it. While everything is stopped, a re-run of a finished run is asked for (its
message goes into the broker), and then the broker file is deleted: the messages it held (the
re-run's, and the runs the dispatcher had sent ahead) are gone, and most of the runs never had
one. After the restart, every run is recorded exactly once and nothing stays queued or running,
counted from the database and from the worker logs."""

from __future__ import annotations

import collections
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_pipeline import STRATEGY as STRATEGY_FOR_FAULTS

pytestmark = pytest.mark.e2e

# Short leases and intervals, so the killed run comes back within seconds (production: minutes).
FAST = {"PRUNEBOARD_LEASE_SECONDS": "8", "PRUNEBOARD_HEARTBEAT_SECONDS": "2", "PRUNEBOARD_REAP_SECONDS": "2",
        "PRUNEBOARD_DISPATCH_SECONDS": "1", "PRUNEBOARD_QUEUE_STALE_SECONDS": "4",
        "PRUNEBOARD_WORKER_HEARTBEAT_SECONDS": "2"}

SETUP = """
import django; django.setup()
from django.core.management import call_command
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from leaderboard.models import Benchmark
from submissions import services
call_command("migrate", verbosity=0)
call_command("sync_benchmarks", verbosity=0)
user = User.objects.create_user("ivan", password="ivan's long password 1")
submission, _ = services.submission_create(user=user, upload=SimpleUploadedFile("s.py", {strategy!r}),
    name="Layer magnitude", benchmarks=[Benchmark.objects.get(name="digits-mlp")])
print(submission.pk)
"""
RERUN = """
import django; django.setup()
from django.contrib.auth.models import User
from submissions import services
from submissions.models import Run
run = Run.objects.filter(submission_id={sid}, status="finished").order_by("pk").first()
print(services.rerun_request(run=run, user=User.objects.get(username="ivan")).run_id)
"""


class Embedded:
    def __init__(self, var: Path):
        self.var = var
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
        self.env = {**env, "PRUNEBOARD_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1",
                    "PRUNEBOARD_TORCH_THREADS": "1", **FAST}
        self.procs: list[subprocess.Popen] = []

    def python(self, code: str) -> str:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def celery(self, name: str, queues: str, *extra: str) -> subprocess.Popen:
        """A worker as `manage.py serve` starts it, in a process group of its own (with its beat)."""
        log = open(self.var / f"worker-{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pruneboard", "worker", "--queues", queues, "--pool", "solo",
             "--concurrency", "1", "--hostname", f"{name}-{uuid.uuid4().hex[:4]}@%h", "--loglevel", "INFO", *extra],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self, tag: str) -> None:
        self.celery(f"local{tag}", "cpu,gpu")
        self.celery(f"control{tag}", "control", "--beat", "--schedule", str(self.var / "beat-schedule"))

    def crash(self) -> None:
        """SIGKILL every process group: no handler runs, nothing is acknowledged or handed back."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        self.procs.clear()

    def rows(self, sql: str, *args) -> list[tuple]:
        with closing(sqlite3.connect(self.var / "pruneboard.sqlite3", timeout=30)) as db:
            return db.execute(sql, args).fetchall()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.var.glob("worker-*.log"))


def wait(condition, seconds: float, what: str, stack: Embedded):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s\n{stack.logs()[-4000:]}")
        time.sleep(0.1)
    return value


@pytest.fixture
def embedded(tmp_path):
    stack = Embedded(tmp_path)
    yield stack
    stack.crash()


def test_a_crash_mid_run_a_wiped_broker_file_and_a_pending_rerun_lose_and_duplicate_nothing(embedded):
    s = embedded
    sid = int(s.python(SETUP.format(strategy=STRATEGY_FOR_FAULTS)))  # 21 runs; the commit sends 2
    s.start("1")
    finished = lambda: s.rows("SELECT count(*) FROM submissions_run WHERE status='finished'")[0][0]  # noqa: E731
    wait(lambda: finished() >= 3, 240, "three runs finished", s)

    # SIGSTOP freezes the worker (and its lease thread) where it is: kill it when a run is running
    worker = s.procs[0]
    while True:
        os.killpg(worker.pid, signal.SIGSTOP)
        running = s.rows("SELECT id FROM submissions_run WHERE status='running'")
        if running:
            break
        os.killpg(worker.pid, signal.SIGCONT)
        time.sleep(0.05)
    s.crash()
    killed = running[0][0]

    rerun_of = int(s.python(RERUN.format(sid=sid)))  # its message goes into the broker file...
    broker = s.var / "celery-broker.sqlite3"
    assert broker.exists()
    broker.unlink()  # ...which is deleted with everything it held
    assert s.rows("SELECT count(*) FROM submissions_run WHERE status='queued' AND queued_at IS NULL")[0][0] > 0

    s.start("2")
    done = lambda: s.rows("SELECT count(*) FROM submissions_run WHERE status IN ('finished', 'failed', 'cancelled')")[0][0]  # noqa: E731
    rerun_done = lambda: s.rows("SELECT status FROM submissions_rerun")[0][0] != "queued"  # noqa: E731
    wait(lambda: done() == 21 and rerun_done(), 300, "every run and the re-run final", s)

    runs = dict(s.rows("SELECT id, status FROM submissions_run WHERE submission_id=?", sid))
    assert set(runs.values()) == {"finished"}, runs
    attempts = dict(s.rows("SELECT id, attempt FROM submissions_run"))
    assert attempts[killed] >= 2, attempts  # taken over after its lease expired
    # Another run may have been taken over too: on a loaded machine a 10 s lease (FAST_RECOVERY)
    # can expire while SQLite keeps the heartbeat waiting. What must hold whatever the timing:
    # every run's result recorded exactly once (the worker logs, below), none left behind.
    recorded = collections.Counter(int(m) for m in re.findall(r"run (\d+): result recorded", s.logs()))
    assert {pk: recorded[pk] for pk in runs} == {pk: 1 for pk in runs}
    assert s.rows("SELECT run_id, status FROM submissions_rerun") == [(rerun_of, "finished")]
    assert s.rows("SELECT count(*) FROM submissions_run WHERE status IN ('queued', 'running')") == [(0,)]
