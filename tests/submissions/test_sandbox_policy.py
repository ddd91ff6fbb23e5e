"""Where bubblewrap cannot run, untrusted code is refused unless the operator allows an
unsandboxed mode, and every result produced that way is marked on the site."""

import pytest
from django.urls import reverse

from evaluator.sandbox import isolation
from submissions import services
from submissions.models import Run
from submissions.tasks import run_evaluate
from tests.factories import make_record


@pytest.fixture
def no_bwrap(monkeypatch):
    isolation.bwrap_problem.cache_clear()
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None if name == "bwrap" else "/usr/bin/" + name)
    yield
    isolation.bwrap_problem.cache_clear()


@pytest.fixture
def run(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    return submission.runs.get(compression=2.0, seed=0)


def complete(run):
    """The run's version complete (its other runs cancelled): the board counts complete versions."""
    run.submission.runs.exclude(pk=run.pk).update(status=Run.Status.CANCELLED)


def test_without_bubblewrap_the_worker_refuses_untrusted_code(no_bwrap, monkeypatch, run):
    monkeypatch.delenv("PRUNEBOARD_ALLOW_UNSANDBOXED", raising=False)
    with pytest.raises(isolation.SandboxUnavailable, match="bwrap is not installed"):
        run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and not run.user_error  # the platform's, not alice's
    assert "untrusted code is refused" in run.error


def test_an_allowed_unsandboxed_run_is_recorded_and_marked_on_the_site(no_bwrap, monkeypatch, run, client):
    monkeypatch.setenv("PRUNEBOARD_ALLOW_UNSANDBOXED", "1")
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.sandbox == "none" and run.record["sandbox"] == "none"
    complete(run)
    method = run.submission.method
    page = client.get(reverse("benchmark", args=["digits-mlp"])).content.decode()
    assert "unsandboxed" in page
    assert "unsandboxed" in client.get(reverse("method", args=[method.slug])).content.decode()


def test_a_sandboxed_run_carries_no_mark(run, client):
    services.run_record_result(run=run, record=make_record())
    complete(run)
    page = client.get(reverse("benchmark", args=["digits-mlp"])).content.decode()
    assert "Mine" in page and ">unsandboxed<" not in page


def test_a_stored_file_that_no_longer_matches_its_checksum_is_not_run(run):
    stored = run.submission.strategy_file
    stored.data = bytes(stored.data) + b"\n# tampered in the database\n"
    stored.save()
    with pytest.raises(RuntimeError, match="no longer matches its SHA-256"):
        run_evaluate(run.pk)  # retried as a platform error; the attempt records nothing else
    run.refresh_from_db()
    assert run.status in (Run.Status.QUEUED, Run.Status.FAILED) and run.top1 is None
