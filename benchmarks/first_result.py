"""A researcher's first result on a fresh `make run`, with the baselines filling in.

    .venv/bin/python benchmarks/first_result.py            # both phases (the second takes minutes)
    .venv/bin/python benchmarks/first_result.py --first-only

Starts `manage.py serve` (what `make run` starts: SQLite, the SQLite broker file, one worker, the
control worker with the beat; it seeds the 756 baseline and reference runs) in a temporary
PRUNEBOARD_VAR_DIR on a free port, waits until its worker reports the embedded benchmarks
runnable, signs a researcher up through the site's form, gets an API token, and then:

1. uploads a digits-mlp strategy (21 runs) through the API: seconds from the upload to its first
   finished run, and to all 21 final;
2. a second researcher uploads an all-embedded submission (digits-mlp, digits-cnn, mnist1d-cnn:
   63 runs): seconds to its first finished run, and to all 63 final.

Times are taken by polling the API every 0.5 s. Ends with `first_seconds=X.X` and, unless
--first-only, `whole_seconds=X.X` (the 63-run submission)."""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
started = time.monotonic()
EMBEDDED = ("digits-mlp", "digits-cnn", "mnist1d-cnn")
STRATEGY = b'''import numpy as np
from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask


class LayerMagnitude(LayerPruning, VisionPruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
'''


class Site:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, token: str | None = None) -> dict:
        headers = {"Authorization": f"Token {token}"} if token else {}
        with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers), timeout=60) as r:
            return json.loads(r.read())

    def sign_up(self, username: str, password: str) -> None:
        """Through the sign-up form, as a browser would (CSRF cookie and token)."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(self.url + "/accounts/signup/", timeout=60).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "username": username,
                                       "password1": password, "password2": password}).encode()
        response = opener.open(urllib.request.Request(self.url + "/accounts/signup/", data=data,
                                                      headers={"Referer": self.url + "/accounts/signup/"}),
                               timeout=60)
        assert response.geturl().endswith("/submit/"), f"sign-up did not go through: {response.geturl()}"

    def token(self, username: str, password: str) -> str:
        data = urllib.parse.urlencode({"username": username, "password": password}).encode()
        with urllib.request.urlopen(self.url + "/api/token/", data=data, timeout=60) as r:
            return json.loads(r.read())["token"]

    def upload(self, token: str, name: str, benchmarks: str, content: bytes) -> dict:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in {"name": name, "benchmarks": benchmarks}.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.py"\r\n'
                     f"Content-Type: text/x-python\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(self.url + "/api/submissions/", data=b"".join(parts), headers={
            "Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert r.status == 201, r.status
            return json.loads(r.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what}: not within {seconds} s")


def follow(site: Site, token: str, submission: dict, uploaded: float, label: str) -> tuple[float, float]:
    """Seconds from the upload to the first finished run and to every run final."""
    first, shown = None, time.monotonic()
    while True:
        body = site.get(f"/api/submissions/{submission['id']}/", token)
        p = body["progress"]
        now = time.monotonic() - uploaded
        if first is None and p["finished"] + p["failed"] > 0:
            first = now
            print(f"{label}: first run done after {first:.1f} s ({p['finished']} finished, {p['failed']} failed)",
                  flush=True)
        if time.monotonic() - shown > 60:
            shown = time.monotonic()
            print(f"{label}: {p['done']} of {p['total']} runs done after {now:.0f} s", flush=True)
        if p["done"] == p["total"]:
            print(f"{label}: all {p['total']} runs done after {now:.1f} s ({p['finished']} finished, "
                  f"{p['failed']} failed)", flush=True)
            return first, now
        time.sleep(0.5)


def baselines_done(site: Site) -> str:
    rows = site.get("/api/runs/?status=finished")
    return f"{rows['count']} runs finished on the site"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first-only", action="store_true", help="only the digits-mlp upload")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"stopped (SIGTERM) after {time.monotonic() - started:.0f} s"))
    var = Path(tempfile.mkdtemp(prefix="pruneboard-first-result-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(PRUNEBOARD_VAR_DIR=str(var), PRUNEBOARD_PORT=str(port), PYTHONUNBUFFERED="1")
    log = open(var / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=ROOT, env=env,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    site = Site(f"http://127.0.0.1:{port}")
    try:
        wait(lambda: "pruneboard is up" in (var / "serve.log").read_text(errors="replace"), 300, "serve")
        print(f"serve is up after {time.monotonic() - started:.1f} s (log: {var / 'serve.log'})", flush=True)
        wait(lambda: all(b["runnable"] for b in site.get("/api/benchmarks/")["results"] if b["name"] in EMBEDDED),
             300, "the worker's report")
        print(f"the embedded benchmarks are runnable after {time.monotonic() - started:.1f} s; "
              f"{baselines_done(site)}", flush=True)

        site.sign_up("ada", "ada's long password 42")
        token = site.token("ada", "ada's long password 42")
        uploaded = time.monotonic()
        submission = site.upload(token, "Layer magnitude", "digits-mlp", STRATEGY)
        print(f"upload of 21 digits-mlp runs answered in {time.monotonic() - uploaded:.2f} s", flush=True)
        first, whole21 = follow(site, token, submission, uploaded, "digits-mlp submission")
        print(f"{baselines_done(site)}", flush=True)
        if not args.first_only:
            site.sign_up("grace", "grace's long password 42")
            token2 = site.token("grace", "grace's long password 42")
            uploaded = time.monotonic()
            submission = site.upload(token2, "Layer magnitude, everywhere", ",".join(EMBEDDED),
                                     STRATEGY + b"# all embedded\n")
            first63, whole63 = follow(site, token2, submission, uploaded, "all-embedded submission (63 runs)")
            print(f"{baselines_done(site)}", flush=True)
        print(f"first_seconds={first:.1f}")
        if not args.first_only:
            print(f"whole_seconds={whole63:.1f}")
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
