"""No server path anywhere a submitter can read. Strategies that fail in each place the harness
can fail go through the worker's real Celery task; then every page and API answer of each
submission, read as its owner, is searched for the server's paths (the repository, the Python
installation, the temp folder, the home folder, this test's own folders)."""

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from evaluator.redact import redact
from submissions import execution, services, tasks
from submissions.models import Run
from tests.hostile_cases import needs_bwrap

pytestmark = needs_bwrap()
ROOT = Path(__file__).resolve().parents[2]

IMPORT_ERROR = b'''
from evaluator.pruning import GlobalMagWeight, NoSuchHelper  # ImportError names evaluator's file


class Broken(GlobalMagWeight):
    pass
'''

# One file, one way to fail per compression (each job of the batch meets its own failure).
PER_JOB = b'''
import math
import numpy as np
from evaluator.pruning import GlobalMagWeight, fraction_mask


class EachWay(GlobalMagWeight):
    def model_masks(self):
        masks = super().model_masks()
        c = self.compression
        if c == 2:   # an exception raised inside the harness's helper, called wrongly
            fraction_mask("not an array", self.fraction)
        for module, params in masks.items():
            for name, mask in params.items():
                if c == 4:    # wrong shape
                    params[name] = np.asarray(mask).reshape(-1)
                elif c == 16:  # keeps everything: too few weights pruned
                    params[name] = np.ones_like(np.asarray(mask))
                elif c == 32:  # not a 0/1 mask
                    params[name] = np.full(np.asarray(mask).shape, math.nan)
        if c == 8:    # masks for parameters the model does not have
            return {module: {"nope": mask for mask in params.values()} for module, params in masks.items()}
        return masks
'''

ENDLESS = b'''
import time
from evaluator.pruning import GlobalMagWeight


class Endless(GlobalMagWeight):
    def model_masks(self):
        while True:
            time.sleep(0.05)
'''


def server_paths(*extra: Path) -> list[str]:
    paths = {str(ROOT), os.path.realpath(ROOT), sys.prefix, os.path.realpath(sys.prefix),
             sys.base_prefix, os.path.dirname(sys.executable), os.path.expanduser("~"),
             tempfile.gettempdir() + "/", "/tmp/", *(str(p) for p in extra)}
    return sorted(p for p in paths if len(p) > 1)


def leaks(text: str, paths: list[str]) -> list[str]:
    return [p for p in paths if re.search(rf"(?<![\w.-]){re.escape(p.rstrip('/'))}(?![\w.-])", text)]


def owner_reads(client, submission) -> dict[str, str]:
    """Every page and API answer of the submission its owner can open."""
    runs = list(submission.runs.all())
    urls = [f"/s/{submission.pk}/", f"/s/{submission.pk}/progress.json", f"/s/{submission.pk}.csv",
            f"/m/{submission.method.slug}/", "/accounts/", f"/api/submissions/{submission.pk}/",
            f"/api/runs/?method={submission.method.slug}&status=all"]
    urls += [f"/api/runs/{r.pk}/" for r in runs] + [f"/r/{r.pk}/" for r in runs]
    urls += [f"/r/{r.pk}.csv" for r in runs if r.status == Run.Status.FINISHED]
    answers = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        answers[url] = body.decode()
    return answers


@pytest.fixture
def submit(alice, benchmarks, strategy_upload, settings):
    settings.PRUNEBOARD_TASK_RETRIES = 0  # a platform error is recorded at once

    def submit(code: bytes, name: str, compressions=None):
        submission, _ = services.submission_create(user=alice, upload=strategy_upload(code, f"{name}.py"),
                                                   name=name, benchmarks=[benchmarks["digits-mlp"]])
        runs = submission.runs.filter(seed=0).order_by("compression")
        for run in runs:
            if compressions is None or run.compression in compressions:
                tasks.run_evaluate.apply(args=[run.pk])
        return submission
    return submit


def test_it_redacts_server_paths_but_keeps_the_rest_of_the_message():
    text = f'File "{ROOT}/evaluator/mask.py", line 3; {sys.prefix}/lib/x.py; /tmp/a/strategy.py; /rootfs'
    assert redact(text) == ('File "<pruneboard>/evaluator/mask.py", line 3; <python>/lib/x.py; '
                            '<tmp>/a/strategy.py; /rootfs')


def test_no_failure_shows_a_server_path_on_any_page_or_api_answer(submit, client, alice, monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNEBOARD_SANDBOX_TIMEOUT", "2")
    client.force_login(alice)
    paths = server_paths(tmp_path)
    expected = {
        "import": (submit(IMPORT_ERROR, "import-error", {2.0}), {2.0: "failed to import"}),
        "per-job": (submit(PER_JOB, "each-way", {2.0, 4.0, 8.0, 16.0, 32.0}), {
            2.0: "ValueError", 4.0: "has shape", 8.0: "nope", 16.0: "keep too many weights", 32.0: "NaN"}),
        "limit": (submit(ENDLESS, "endless", {2.0}), {2.0: "time limit"}),
    }
    # Missing weights: the worker finds no weights file in any folder it looks in.
    monkeypatch.setattr(execution, "_contexts", {})
    monkeypatch.setattr("evaluator.weights.REPO_WEIGHTS", tmp_path / "no-weights")
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path / "weights-dir"))
    # (another file than each-way's: that one's runs at 1x may be finished already, scored in its
    # first run's batch, and a re-upload would share them)
    expected["weights"] = (submit(PER_JOB + b"\n# another file\n", "no-weights", {1.0}),
                           {1.0: "no weights for benchmark"})

    for case, (submission, errors) in expected.items():
        for compression, message in errors.items():
            run = submission.runs.get(compression=compression, seed=0)
            assert run.status == Run.Status.FAILED and message in run.error, (case, compression, run.error)
        for url, text in owner_reads(client, submission).items():
            assert leaks(text, paths) == [], (case, url, [line for line in text.splitlines()
                                                          if leaks(line, paths)][:3])
    weights_run = expected["weights"][0].runs.get(compression=1.0, seed=0)
    assert "<weights>" in weights_run.error  # the message still says where it looked, redacted
