"""Upload through the API -> Celery over Redis -> worker processes -> PostgreSQL -> leaderboard."""

import io
import json
import time
import urllib.parse
import urllib.request
import uuid

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e

STRATEGY = b'''"""Largest weights of each layer."""
import numpy as np
from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask


class LayerMagnitudeE2E(LayerPruning, VisionPruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
'''


def post(url, fields: dict, files: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for key, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    for key, (filename, content) in (files or {}).items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                   f"Content-Type: text/x-python\r\n\r\n".encode() + content + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=body.getvalue(), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def token_for(stack, username, password):
    stack.manage("shell", "-c", "from django.contrib.auth.models import User; "
                 f"User.objects.create_user({username!r}, password={password!r})")
    status, body = post(stack.url + "/api/token/", {"username": username, "password": password})
    assert status == 200, body
    return body["token"]


def wait_until_final(stack, submission_id, token, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = json.loads(stack.get(f"/api/submissions/{submission_id}/",
                                    {"Authorization": f"Token {token}"}))
        if body["status"] in ("finished", "failed", "cancelled"):
            return body
        time.sleep(2)
    raise AssertionError(f"submission {submission_id} not final after {timeout} s: {body}")


def test_an_uploaded_strategy_is_evaluated_by_workers_and_lands_on_the_leaderboard(stack):
    stack.start_worker("w1")
    stack.start_worker("w2")
    token = token_for(stack, "carol", "carol's long password 1")
    stack.wait_for_worker()
    auth = {"Authorization": f"Token {token}"}
    status, body = post(stack.url + "/api/submissions/",
                        {"name": "Layer magnitude (e2e)", "benchmarks": "digits-mlp"},
                        {"file": ("layer_magnitude.py", STRATEGY)}, auth)
    assert status == 201, body
    final = wait_until_final(stack, body["id"], token)
    assert final["status"] == "finished", final

    csv = pd.read_csv(io.BytesIO(stack.get(f"/s/{body['id']}.csv", auth)))
    assert len(csv) == 21  # 7 compressions x 3 seeds, each exactly once
    assert not csv.duplicated(["compression_requested", "seed"]).any()
    assert (csv["compression"] >= csv["compression_requested"] * 0.99).all()
    assert csv.loc[csv["compression_requested"] == 2, "top1"].mean() > 0.9

    hosts = json.loads(stack.get(f"/api/runs/?method={body['method']}&status=all", auth))
    assert {r["attempt"] for r in hosts["results"]} == {1}
    page = stack.get("/b/digits-mlp/").decode()
    assert "Layer magnitude (e2e)" in page
    # the workers timed the dense frontier when they started, on this machine, as the runs were:
    # the measured-speedup chart draws it; the session's workers, all of this machine, time it
    # once (a worker started again under the same name rewrites its log: at most once here)
    measured = page.split('id="benchmark-measured-data"')[1].split("</script>")[0]
    assert "dense, smaller width" in measured
    assert stack.worker_logs().count("frontier latency of digits-mlp on") <= 1

    status, again = post(stack.url + "/api/submissions/", {"name": "again", "benchmarks": "digits-mlp"},
                         {"file": ("layer_magnitude.py", STRATEGY)}, auth)
    assert status == 200 and again["created"] is False and again["id"] == body["id"]
