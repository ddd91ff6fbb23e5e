"""Two uploads by one user at the same instant cannot both pass the per-day limit: against the
real PostgreSQL, whose row lock serializes them, and against the embedded default's SQLite file,
whose one write lock does (the web tests' in-memory SQLite cannot show either).

The test migrates a fresh database, then starts this module twice as a script: each process
waits for the same start signal and calls `submission_create`, whose counting step is slowed
down by 0.5 s inside the transaction, so that without the lock both would pass. Nothing is
queued to a broker. Outside CI a missing PostgreSQL skips the test; in CI (CI=true) it fails it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("PRUNEBOARD_TEST_PG_URL", "postgres://localhost/postgres")
STRATEGY = "from evaluator.pruning import Pruning\n\n\nclass Keep(Pruning):\n    pass\n"
HELPER = [sys.executable, "-m", "tests.e2e.test_limits_concurrency"]


def _admin_connection():
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means no server
        message = f"PostgreSQL is not reachable ({exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI needs the real server", pytrace=False)
        pytest.skip(message)


def _run(args, env):
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path):
    """A fresh PostgreSQL database (dropped afterwards), or the embedded default's SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pruneboard.sqlite3'}"
        return
    admin = _admin_connection()
    name = f"pruneboard_limits_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _submission_count(url: str) -> int:
    if url.startswith("sqlite:///"):
        import sqlite3

        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return db.execute("SELECT count(*) FROM submissions_submission").fetchone()[0]
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute("SELECT count(*) FROM submissions_submission").fetchone()[0]


@pytest.mark.e2e
def test_two_uploads_at_the_same_instant_cannot_both_pass_the_day_limit(database_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
           "PRUNEBOARD_VAR_DIR": str(tmp_path / "var"), "PRUNEBOARD_SUBMISSIONS_PER_DAY": "1",
           "CELERY_BROKER_URL": "memory://", "PYTHONUNBUFFERED": "1"}
    uploads = []
    try:
        _run([*HELPER, "setup"], env)  # migrates the fresh database first
        uploads = [subprocess.Popen([*HELPER, "upload", str(n), str(tmp_path)], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for n in (1, 2)]
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in (1, 2)):
            assert time.monotonic() < deadline, "the uploads did not get ready"
            assert all(p.poll() is None for p in uploads), [p.communicate() for p in uploads]
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outcomes = []
        for process in uploads:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            outcomes.append(json.loads(out.splitlines()[-1]))
    finally:
        for process in uploads:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert max(o["started"] for o in outcomes) < min(o["ended"] for o in outcomes), \
        f"the two uploads did not overlap: {outcomes}"
    assert sorted(o["outcome"] for o in outcomes) == ["created", "refused"], outcomes
    [refused] = [o for o in outcomes if o["outcome"] == "refused"]
    assert refused["message"].startswith("you have made 1 submission today (UTC); the limit is 1")
    assert _submission_count(database_url) == 1


# The script side: `python -m tests.e2e.test_limits_concurrency setup|upload N FOLDER`.

def _setup() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from leaderboard.services import benchmarks_sync

    call_command("migrate", interactive=False, verbosity=0)  # the fresh database
    benchmarks_sync()
    get_user_model().objects.create_user("alice", "alice@example.org", "correct horse 42")


def _upload(n: int, folder: Path) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from leaderboard.models import Benchmark
    from submissions import services

    counted = services.limits_check

    def slow_limits_check(**kwargs):
        counted(**kwargs)
        time.sleep(0.5)  # inside the transaction: without the lock the other upload counts now

    services.limits_check = slow_limits_check
    services.runs_enqueue = lambda runs: None
    user = get_user_model().objects.get(username="alice")
    benchmark = Benchmark.objects.get(name="digits-mlp")
    upload = SimpleUploadedFile("keep.py", f"{STRATEGY}# {n}\n".encode())
    connection.ensure_connection()
    (folder / f"ready-{n}").touch()
    while not (folder / "go").exists():
        time.sleep(0.001)
    started = time.time()
    try:
        services.submission_create(user=user, upload=upload, name=f"Keep {n}", benchmarks=[benchmark])
    except services.LimitExceeded as exc:
        return {"outcome": "refused", "message": str(exc), "started": started, "ended": time.time()}
    return {"outcome": "created", "started": started, "ended": time.time()}


if __name__ == "__main__":
    import django

    django.setup()
    if sys.argv[1] == "setup":
        _setup()
    else:
        print(json.dumps(_upload(int(sys.argv[2]), Path(sys.argv[3]))))
