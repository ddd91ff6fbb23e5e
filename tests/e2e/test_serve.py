"""`manage.py serve` (what `make run` starts) owns its processes, on the embedded default (SQLite,
the SQLite broker file): its worker reports the embedded benchmarks runnable once it is up; a
second `serve` on the same var/ refuses; SIGKILL of the parent takes its children with it
(PR_SET_PDEATHSIG) and frees the lock; SIGTERM stops every process it started.

`serve` is started in a session of its own, so every process it starts (gunicorn and its
workers, the two Celery workers, the beat; each child in a process group of its own) is found
by its session id. The second start seeds the baselines and is stopped while its worker is in
the middle of a run: a worker's warm shutdown would wait for the run, so `serve` kills what has
not stopped after its grace period."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import ROOT, _free_port

pytestmark = pytest.mark.e2e
# the embedded benchmarks on every track they offer (digits-mlp, digits-mlp/init, ...)
from evaluator.benchmarks import list_benchmarks  # noqa: E402

EMBEDDED = {b.name for b in list_benchmarks() if b.embedded}


def embedded_env(var: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    return {**env, "PRUNEBOARD_VAR_DIR": str(var), "PRUNEBOARD_PORT": str(port), "PYTHONUNBUFFERED": "1",
            "PRUNEBOARD_WORKER_HEARTBEAT_SECONDS": "2", "PRUNEBOARD_TORCH_THREADS": "1",
            # one run worker, so the suite's other process keeps a core (one per core is the
            # default: tests/leaderboard/test_serve_workers.py)
            "PRUNEBOARD_RUN_WORKERS": "1"}


def in_session(sid: int) -> list[int]:
    """The live processes of the session (zombies are dead: they only wait to be reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_empty(sid: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := in_session(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def start(var: Path, port: int, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "serve", *options], cwd=ROOT,
                            env=embedded_env(var, port), start_new_session=True,
                            stdout=open(var / f"serve-{port}.log", "ab"), stderr=subprocess.STDOUT)


def runnable(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/benchmarks/", timeout=10) as r:
        return {b["name"] for b in json.loads(r.read())["results"] if b["runnable"]}


def running(var: Path) -> bool:
    with closing(sqlite3.connect(var / "pruneboard.sqlite3", timeout=30)) as db:
        return db.execute("SELECT count(*) FROM submissions_run WHERE status='running'").fetchone()[0] > 0


def up_and_ready(log: Path, starts: int) -> bool:
    """The log shows `starts` web servers up and both Celery workers of each ready."""
    text = log.read_text(errors="replace")
    return text.count("pruneboard is up") >= starts and text.count(" ready.") >= 2 * starts


def wait_until(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {seconds} s; log:\n{log.read_text(errors='replace')[-3000:]}")


def test_serve_owns_its_processes_refuses_a_second_and_its_worker_makes_the_embedded_runnable(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    port = _free_port()
    first = start(var, port, "--no-seed")
    try:
        log = var / f"serve-{port}.log"
        wait_until(lambda: runnable(port) == EMBEDDED, 150, "the worker's report", log)
        wait_until(lambda: up_and_ready(log, 1), 60, "both workers ready", log)
        children = set(in_session(first.pid)) - {first.pid}
        assert len(children) >= 5, children  # gunicorn + 2 web workers, 2 Celery workers (+ beat)

        second = subprocess.run([sys.executable, "manage.py", "serve", "--no-seed"], cwd=ROOT,
                                env=embedded_env(var, _free_port()), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode != 0
        assert f"another `manage.py serve` (pid {first.pid}) is running on {var}" in second.stderr

        os.kill(first.pid, signal.SIGKILL)  # a crash: no handler runs, the kernel tells the children
        first.wait(timeout=10)
        assert wait_empty(first.pid, 45) == [], "children outlived a SIGKILLed serve"
    finally:
        for pid in in_session(first.pid):
            os.kill(pid, signal.SIGKILL)

    again = start(var, port)  # the lock died with the first: the same var/ serves again, seeding
    try:
        log = var / f"serve-{port}.log"
        wait_until(lambda: again.poll() is not None or up_and_ready(log, 2), 150, "the second serve", log)
        wait_until(lambda: again.poll() is not None or running(var), 150, "a baseline run started", log)
        assert again.poll() is None
        again.send_signal(signal.SIGTERM)  # as systemd or `kill` stops it
        assert again.wait(timeout=60) == 0
        assert wait_empty(again.pid, 15) == [], "a process outlived serve after SIGTERM"
    finally:
        for pid in in_session(again.pid):
            os.kill(pid, signal.SIGKILL)
