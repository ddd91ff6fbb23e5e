"""Concurrent readers against the site while a sweep runs (target: zero errors).

Starts the production stack on this machine (a fresh PostgreSQL database, a Redis of its own,
gunicorn with 2 workers, 2 Celery workers and beat), submits a strategy on digits-mlp (21 runs)
through the API, and while the workers evaluate it, READERS threads fetch the home page, the
leaderboard, the submission's progress JSON and the runs API in a loop. Prints p50/p95 latency
per page and overall, and the error count, when the sweep is final.
Run: `.venv/bin/python benchmarks/load_during_sweep.py [READERS]` (PostgreSQL and redis-server
on this machine).
"""

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.e2e.conftest import (FAST_RECOVERY, PG_ADMIN_URL, OwnRedis, Stack, _free_port,  # noqa: E402
                                _wait_for)
from tests.e2e.test_pipeline import STRATEGY, post, token_for  # noqa: E402


def reader(stack, paths, results, stop):
    i = 0
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(stack.url + path, timeout=30) as response:
                response.read()
                ok = response.status == 200
        except Exception:  # noqa: BLE001 - any failure is an error to count
            ok = False
        results.append((path, time.perf_counter() - start, ok))


def main(readers: int) -> None:
    import tempfile

    var = Path(tempfile.mkdtemp(prefix="pruneboard-load-"))
    name = f"pruneboard_load_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    redis = OwnRedis(var)
    redis.start()
    port = _free_port()
    env = {**__import__("os").environ, "DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
           "CELERY_BROKER_URL": redis.url, "PRUNEBOARD_VAR_DIR": str(var),
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", **FAST_RECOVERY}
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, var=var, redis=redis, database=name)
    try:
        stack.manage("migrate", "--noinput")
        stack.manage("sync_benchmarks")
        stack.processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pruneboard.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for(stack.url + "/", 60)
        stack.start_worker("load1")
        stack.start_worker("load2")
        stack.start_beat()
        token = token_for(stack, "loader", "loader's long password 1")
        auth = {"Authorization": f"Token {token}"}
        status, body = post(stack.url + "/api/submissions/", {"name": "Load test", "benchmarks": "digits-mlp"},
                            {"file": ("load.py", STRATEGY)}, auth)
        assert status == 201, body
        paths = ["/", "/b/digits-mlp/", f"/s/{body['id']}/progress.json", "/api/runs/?benchmark=digits-mlp"]
        results, stop = [], threading.Event()
        threads = [threading.Thread(target=reader, args=(stack, paths, results, stop)) for _ in range(readers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        while json.loads(stack.get(f"/api/submissions/{body['id']}/", auth))["status"] not in (
                "finished", "failed", "cancelled"):
            time.sleep(2)
        stop.set()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        for path in paths + ["all"]:
            times = sorted(t for p, t, _ in results if path in ("all", p))
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"{path:40s} n={len(times):5d} p50={statistics.median(times) * 1e3:7.1f} ms "
                  f"p95={p95 * 1e3:7.1f} ms")
        errors = sum(not ok for _, _, ok in results)
        print(f"{readers} readers for {seconds:.0f} s while 21 runs were evaluated by 2 workers")
        print(f"requests={len(results)} errors={errors}")
    finally:
        for proc in stack.processes:
            proc.terminate()
        for proc in stack.processes:
            proc.wait(timeout=60)
        redis.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
