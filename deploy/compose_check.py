"""`make compose-check`: production for real, on this machine, in one command.

Builds the images (docker-compose.yml), starts PostgreSQL, Redis, the migration, web, two CPU
workers and the beat, and then, as a researcher and an attacker would:
  1. creates a user, takes an API token, uploads a strategy on digits-mlp and waits for its
     runs: every one finished with sandbox=bwrap, and both worker containers ran some;
  2. `docker kill`s the worker container running one of a second upload's runs, mid-run: that
     run is taken over by the other worker and recorded exactly once (the workers' logs);
  3. uploads two hostile files (tests/hostile_cases.py: symlinks to the Django secret key in
     place of the sandbox's outputs, and a fork bomb): each fails as the submitter's error,
     without the secret, and the workers stay healthy;
  4. `docker-compose down -v`: no container, volume or network of the project is left.
The last line is `compose-check: ok` with the figures, or `compose-check: FAILED: <what>`.

It runs beside whatever this machine already runs: its own project name, ports (PostgreSQL
55432, Redis 56379, web 18000) and secrets in a temporary folder. Docker must be up
(../shared/tools/docker-here on this project's machines). Not part of `make test`: it builds
images (about 6.5 GB; the first build downloads torch).
"""

from __future__ import annotations

import collections
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hostile_cases import CASES  # noqa: E402  (the checkout's own hostile suite)

PROJECT = "pruneboard-check"
PORTS = {"PRUNEBOARD_PG_PORT": "55432", "PRUNEBOARD_REDIS_PORT": "56379", "PRUNEBOARD_PORT": "18000"}
WEB = f"http://127.0.0.1:{PORTS['PRUNEBOARD_PORT']}"
HONEST = '''
import numpy as np
from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask


class LayerMagWeight(LayerPruning, VisionPruning):
    """Keep the largest weights of each layer."""

    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
'''


class CheckFailed(Exception):
    pass


def main() -> int:
    figures: dict[str, str] = {}
    secrets_dir = Path(tempfile.mkdtemp(prefix="pruneboard-check-secrets-"))
    env = {**os.environ, **PORTS, "COMPOSE_PROJECT_NAME": PROJECT, "PRUNEBOARD_SECRETS": str(secrets_dir),
           "PRUNEBOARD_LEASE_SECONDS": "30", "PRUNEBOARD_HEARTBEAT_SECONDS": "10",
           "PRUNEBOARD_REAP_SECONDS": "10"}
    try:
        _require_docker()
        _write_secrets(secrets_dir)
        _site_certificates()
        t0 = time.monotonic()
        compose(env, "build", timeout=3600)
        figures["build"] = f"{time.monotonic() - t0:.0f} s"
        figures["image"] = _image_size("pruneboard:latest")
        t0 = time.monotonic()
        compose(env, "up", "-d", "--scale", "worker-cpu=2", timeout=900)
        _wait_healthy(env, {"postgres": 1, "redis": 1, "web": 1, "worker-cpu": 2, "beat": 1}, timeout=600)
        figures["up to healthy"] = f"{time.monotonic() - t0:.0f} s"
        token = _user_token(env)
        _wait(lambda: _runnable(token), "digits-mlp runnable (a worker's report)", 180)

        t0 = time.monotonic()
        honest = _upload(token, HONEST, "Layer magnitude")
        _wait(lambda: _finished_runs(env, honest) or None, "the first result", 300)
        figures["first result after upload"] = f"{time.monotonic() - t0:.1f} s"
        runs = _wait(lambda: _all_final(env, honest), "every run of the upload", 900)
        _check(all(r["status"] == "finished" and r["sandbox"] == "bwrap" for r in runs),
               f"not every run finished in bwrap: {collections.Counter((r['status'], r['sandbox']) for r in runs)}")
        hosts = collections.Counter(r["worker_host"] for r in runs)
        _check(len(hosts) == 2, f"the runs were not shared by the two worker containers: {dict(hosts)}")
        figures["upload"] = f"{len(runs)} runs in {time.monotonic() - t0:.0f} s on {len(hosts)} workers"

        figures["kill"] = _kill_test(env, token)
        for case_id in ("symlink-to-host-file", "fork-bomb"):
            figures[case_id] = _hostile(env, token, case_id)

        _check(_healthy_count(env, "worker-cpu") >= 1, "no worker container is healthy after the hostile uploads")
        compose(env, "down", "-v", "--remove-orphans", timeout=300)
        left = _leftovers()
        _check(not left, f"left behind after `down -v`: {left}")
    except (CheckFailed, subprocess.SubprocessError) as exc:
        _logs(env)
        compose(env, "down", "-v", "--remove-orphans", timeout=300, check=False)
        print(f"compose-check: FAILED: {exc}")
        return 1
    finally:
        shutil.rmtree(secrets_dir, ignore_errors=True)
    print("compose-check: ok (" + "; ".join(f"{k} {v}" for k, v in figures.items()) + ")")
    return 0


# --- docker

def compose(env, *args, timeout, check=True, capture=False) -> str:
    command = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), *args]
    result = subprocess.run(command, cwd=ROOT, env=env, timeout=timeout, text=True,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if check and result.returncode != 0:
        raise CheckFailed(f"`docker-compose {' '.join(args)}` exited with {result.returncode}")
    return result.stdout or ""


def docker(*args, check=True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise CheckFailed(f"`docker {' '.join(args)}`: {result.stderr.strip()[:300]}")
    return result.stdout


def _require_docker() -> None:
    if shutil.which("docker") is None or shutil.which("docker-compose") is None or \
            subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise CheckFailed("Docker is not running here: start it first (../shared/tools/docker-here)")
    if not subprocess.run(["docker", "image", "inspect", "debian:bookworm-slim"], capture_output=True).returncode == 0:
        raise CheckFailed("no debian:bookworm-slim image: ../shared/tools/docker-here builds it")


def _write_secrets(folder: Path) -> None:
    password = secrets.token_hex(16)
    values = {"django_secret_key": secrets.token_urlsafe(48), "postgres_password": password,
              "database_url": f"postgres://pruneboard:{password}@127.0.0.1:{PORTS['PRUNEBOARD_PG_PORT']}/pruneboard"}
    for name, value in values.items():
        (folder / name).write_text(value)
        (folder / name).chmod(0o644)  # read by the containers' own users through the bind mount
    folder.chmod(0o755)


def _site_certificates() -> None:
    """A proxy on the way to PyPI with a CA of its own (this machine's): the build trusts it."""
    for crt in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(crt, ROOT / "deploy" / "ca" / crt.name)


def _image_size(image: str) -> str:
    return f"{int(docker('image', 'inspect', '-f', '{{.Size}}', image)) / 1e9:.2f} GB"


def _containers(env, service: str) -> list[str]:
    return compose(env, "ps", "-q", service, timeout=60, capture=True).split()


def _health(container: str) -> str:
    return docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                  container, check=False).strip()


def _healthy_count(env, service: str) -> int:
    return sum(_health(c) == "healthy" for c in _containers(env, service))


def _wait_healthy(env, wanted: dict[str, int], timeout: float) -> None:
    def ready():
        return all(_healthy_count(env, s) >= n for s, n in wanted.items())
    _wait(ready, f"healthy: {wanted}", timeout)


def _logs(env) -> None:
    compose(env, "logs", "--no-color", "--tail", "60", timeout=120, check=False)


def _container_logs(container: str) -> str:
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def _leftovers() -> list[str]:
    label = f"label=com.docker.compose.project={PROJECT}"
    return (docker("ps", "-aq", "--filter", label).split() + docker("volume", "ls", "-q", "--filter", label).split()
            + docker("network", "ls", "-q", "--filter", label).split())


def sql(env, query: str) -> list[dict]:
    out = compose(env, "exec", "-T", "postgres", "psql", "-At", "-d", "pruneboard", "-c",
                  f"SELECT coalesce(json_agg(q), '[]') FROM ({query}) q", timeout=60, capture=True)
    return json.loads(out)  # json_agg writes one element a line


# --- the site, as a researcher uses it

def api(path: str, token: str | None = None, data: bytes | None = None, headers=None):
    request = urllib.request.Request(WEB + path, data=data, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _user_token(env) -> str:
    password = secrets.token_urlsafe(12)
    compose(env, "exec", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={password}", "web", "python", "manage.py",
            "createsuperuser", "--noinput", "--username", "checker", "--email", "checker@example.org",
            timeout=120, capture=True)
    body = urllib.parse.urlencode({"username": "checker", "password": password}).encode()
    return api("/api/token/", data=body)["token"]


def _runnable(token) -> bool:
    try:
        answer = api("/api/benchmarks/", token)
    except urllib.error.URLError:
        return False
    items = answer.get("results", answer) if isinstance(answer, dict) else answer
    return any(b.get("name") == "digits-mlp" and b.get("runnable") for b in items)


def _upload(token: str, code: str, name: str) -> int:
    boundary = secrets.token_hex(8)
    parts = [("name", name), ("benchmarks", "digits-mlp")]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in parts)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="strategy.py"\r\n'
             f"Content-Type: text/x-python\r\n\r\n").encode() + code.encode() + f"\r\n--{boundary}--\r\n".encode()
    answer = api("/api/submissions/", token, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return answer["id"]


RUNS = ("SELECT id, status, sandbox, worker_host, attempt, user_error, error, limit_hit FROM submissions_run "
        "WHERE submission_id = {} ORDER BY id")


def _runs(env, submission: int) -> list[dict]:
    return sql(env, RUNS.format(int(submission)))


def _finished_runs(env, submission: int) -> list[dict]:
    return [r for r in _runs(env, submission) if r["status"] == "finished"]


def _all_final(env, submission: int):
    runs = _runs(env, submission)
    return runs if runs and all(r["status"] in ("finished", "failed", "cancelled") for r in runs) else None


def _kill_test(env, token) -> str:
    """Kill the worker container running one of a new upload's runs; it is taken over."""
    submission = _upload(token, HONEST.replace("largest", "largest (again)"), "Layer magnitude, killed")
    running = _wait(lambda: [r for r in _runs(env, submission) if r["status"] == "running"] or None,
                    "a running run to kill", 300)[0]
    victim = None
    for container in _containers(env, "worker-cpu"):
        name = docker("exec", container, "cat", "/tmp/pruneboard/worker-name", check=False).strip()
        if name == running["worker_host"]:
            victim = container
    _check(victim is not None, f"no worker container is named {running['worker_host']}")
    docker("kill", victim)
    killed_at = time.monotonic()
    run = _wait(lambda: next((r for r in _runs(env, submission) if r["id"] == running["id"]
                              and r["status"] in ("finished", "failed")), None), "the killed run taken over", 600)
    taken_over = time.monotonic() - killed_at
    _check(run["status"] == "finished" and run["attempt"] >= 2 and run["worker_host"] != running["worker_host"],
           f"the killed run was not taken over by the other worker: {run}")
    logs = "".join(_container_logs(c) for c in {*_containers(env, "worker-cpu"), victim})
    recorded = len(re.findall(rf"run {running['id']}: result recorded", logs))
    _check(recorded == 1, f"run {running['id']} was recorded {recorded} times")
    compose(env, "up", "-d", "--no-deps", "--scale", "worker-cpu=2", "--no-recreate", "worker-cpu", timeout=300)
    return f"run {running['id']} taken over and recorded once, {taken_over:.0f} s after the kill"


def _hostile(env, token, case_id: str) -> str:
    case = next(c for c in CASES if c.id == case_id)
    secret_path = Path("/run/secrets/django_secret_key")
    submission = _upload(token, case.source(secret_path, "unused"), f"Hostile {case_id}")
    runs = _wait(lambda: _all_final(env, submission), f"the {case_id} upload's runs", 900)
    key = (Path(env["PRUNEBOARD_SECRETS"]) / "django_secret_key").read_text()
    _check(all(r["status"] == "failed" and r["user_error"] for r in runs),
           f"{case_id}: not every run failed as the submitter's error: {runs[:2]}")
    _check(not any(key in (r["error"] or "") for r in runs), f"{case_id}: the secret key is in an error")
    _check(_healthy_count(env, "worker-cpu") >= 1, f"{case_id}: no worker is healthy after it")
    return f"contained ({runs[0]['error'][:80]!r})"


def _wait(probe, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (urllib.error.URLError, CheckFailed, json.JSONDecodeError, ConnectionError):
            value = None
        if value:
            return value
        time.sleep(1)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


if __name__ == "__main__":
    sys.exit(main())
