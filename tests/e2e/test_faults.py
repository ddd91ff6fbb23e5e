"""Many workers, no lost or duplicated runs: a worker killed mid-run, Redis restarted (losing
every queued message), PostgreSQL connections dropped, in the middle of a sweep."""

import collections
import json
import os
import re
import signal
import time

import psycopg
import pytest

from .conftest import PG_ADMIN_URL
from .test_pipeline import STRATEGY, post, token_for, wait_until_final

pytestmark = pytest.mark.e2e


def submit(stack, user: str, variant: str) -> tuple[int, str, dict]:
    token = token_for(stack, user, f"{user}'s long password 1")
    auth = {"Authorization": f"Token {token}"}
    if stack.workers:
        stack.wait_for_worker()
    body = STRATEGY + f"\n# variant {variant}\n".encode()  # a different file, a new submission
    status, created = post(stack.url + "/api/submissions/", {"name": f"{user} sweep", "benchmarks": "digits-mlp"},
                           {"file": (f"{user}.py", body)}, auth)
    assert status == 201, created
    return created["id"], token, auth


def done(stack, submission_id, auth) -> int:
    return json.loads(stack.get(f"/api/submissions/{submission_id}/", auth))["progress"]["done"]


def wait_for_done(stack, submission_id, auth, at_least: int, timeout=300) -> None:
    deadline = time.monotonic() + timeout
    while done(stack, submission_id, auth) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} runs done after {timeout} s"
        time.sleep(0.5)


def assert_each_run_recorded_once(stack, submission_id, auth) -> list[dict]:
    runs = json.loads(stack.get(f"/api/submissions/{submission_id}/", auth))["runs"]
    assert len(runs) == 21
    assert {r["status"] for r in runs} == {"finished"}, [(r["id"], r["status"]) for r in runs]
    recorded = collections.Counter(int(m) for m in re.findall(r"run (\d+): result recorded", stack.worker_logs()))
    assert {r["id"]: recorded[r["id"]] for r in runs} == {r["id"]: 1 for r in runs}
    return runs


def wait_until_running_on(stack, submission_id, worker: str, timeout=300) -> None:
    """Until the worker named `worker` holds a run of the submission (leased, running)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{stack.database}", autocommit=True) as db:
        while not db.execute("SELECT count(*) FROM submissions_run WHERE submission_id = %s AND "
                             "status = 'running' AND worker_host LIKE %s",
                             [submission_id, f"{worker}@%"]).fetchone()[0]:
            assert time.monotonic() < deadline, f"worker {worker} held no run of the upload in {timeout} s"
            time.sleep(0.1)


@pytest.fixture
def fresh_workers(stack):
    stack.stop_workers(kill=True)
    stack.start_beat()  # the dispatcher and the reaper
    yield
    stack.stop_workers(kill=True)
    stack.stop_beat(kill=True)


def test_a_worker_killed_in_the_middle_of_a_run_loses_and_duplicates_nothing(stack, fresh_workers):
    doomed = stack.start_worker("doomed")
    stack.start_worker("survivor")
    submission_id, token, auth = submit(stack, "frank", "kill")
    wait_for_done(stack, submission_id, auth, 3)
    wait_until_running_on(stack, submission_id, "doomed")  # killed in the middle of a run, not between two
    os.kill(doomed.pid, signal.SIGKILL)
    stack.start_worker("replacement")  # as a supervisor restarts a dead worker
    final = wait_until_final(stack, submission_id, token, timeout=600)
    assert final["status"] == "finished", final
    runs = assert_each_run_recorded_once(stack, submission_id, auth)
    assert max(r["attempt"] for r in runs) == 2  # the killed run, taken over after its lease expired


def test_a_redis_restart_and_dropped_database_connections_lose_and_duplicate_nothing(stack, fresh_workers):
    if stack.redis is None:
        pytest.skip("redis-server is not installed, so the test cannot restart its own Redis")
    stack.start_worker("steady1")
    stack.start_worker("steady2")
    submission_id, token, auth = submit(stack, "grace", "blips")
    wait_for_done(stack, submission_id, auth, 3)
    stack.redis.restart()  # every queued message is gone; the reaper sends the runs again
    wait_for_done(stack, submission_id, auth, 8)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", [stack.database]).fetchone()[0]
    assert dropped >= 1
    final = wait_until_final(stack, submission_id, token, timeout=600)
    assert final["status"] == "finished", final
    assert_each_run_recorded_once(stack, submission_id, auth)


def test_work_no_broker_message_stands_for_is_found_and_run_once(stack, fresh_workers):
    """Everything stopped: the runs of an upload wait in the database with no message (as after
    a POST that died after its commit), the two the commit sent are wiped with the broker, and
    so is the message of a re-run asked for before a crash. The dispatcher finds each."""
    if stack.redis is None:
        pytest.skip("redis-server is not installed, so the test cannot wipe its own Redis")
    stack.stop_beat()
    stack.worker_reported()  # the workers stopped a moment ago
    submission_id, token, auth = submit(stack, "heidi", "lost")
    stack.redis.restart()  # the broker lost what the commit sent; nothing else was ever sent
    stack.start_beat()
    stack.start_worker("after")
    final = wait_until_final(stack, submission_id, token, timeout=600)
    assert final["status"] == "finished", final
    runs = assert_each_run_recorded_once(stack, submission_id, auth)
    stack.stop_workers()
    status, body = post(stack.url + f"/api/runs/{runs[0]['id']}/rerun/", {}, None, auth)
    assert status == 202, body
    stack.redis.restart()  # the re-run's message is gone with the crash
    stack.start_worker("after-crash")
    deadline = time.monotonic() + 300
    while True:
        reruns = json.loads(stack.get(f"/api/runs/{runs[0]['id']}/", auth))["reruns"]
        if reruns and reruns[0]["status"] != "queued":
            break
        assert time.monotonic() < deadline, reruns
        time.sleep(1)
    assert reruns[0]["status"] == "finished", reruns
