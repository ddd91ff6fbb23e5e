"""Re-running a run (admin action or API) gives identical masks and, on CPU, identical metrics;
the site shows the re-run beside the original."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from submissions import services
from submissions.models import Rerun, Run
from submissions.tasks import rerun_evaluate, run_evaluate


@pytest.fixture
def finished_run(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=8.0, seed=1)
    run_evaluate(run.pk)  # the real evaluator, in its sandbox
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED
    return run


def test_a_rerun_on_cpu_reproduces_the_masks_and_every_metric(finished_run, moderator, client):
    rerun = services.rerun_request(run=finished_run, user=moderator)
    rerun_evaluate(rerun.pk)
    rerun.refresh_from_db()
    assert rerun.status == Rerun.Status.FINISHED
    assert rerun.masks_identical is True and rerun.differences == []
    assert rerun.record["top1"] == finished_run.top1
    page = client.get(reverse("method", args=[finished_run.submission.method.slug])).content.decode()
    assert "identical" in page


def test_a_rerun_that_differs_names_the_columns(finished_run):
    rerun = services.rerun_request(run=finished_run)
    changed = {**finished_run.record, "top1": 0.1, "masks_sha256": "0" * 64}
    services.rerun_record(rerun=rerun, record=changed)
    rerun.refresh_from_db()
    assert rerun.masks_identical is False and rerun.differences == ["top1", "masks_sha256"]


def test_the_owner_can_ask_for_a_rerun_through_the_api_but_bob_cannot(finished_run, bob, settings,
                                                                      django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    api = APIClient()
    owner = finished_run.submission.owner
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    from unittest import mock
    with mock.patch("submissions.tasks.rerun_evaluate.apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/runs/{finished_run.pk}/rerun/")
    assert response.status_code == 202 and send.call_count == 1
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    assert api.post(f"/api/runs/{finished_run.pk}/rerun/").status_code == 403
    data = api.get(f"/api/runs/{finished_run.pk}/").json()
    assert [r["status"] for r in data["reruns"]] == ["queued"]


def test_only_a_finished_run_can_be_rerun(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    with pytest.raises(ValueError, match="only a finished run can be re-run"):
        services.rerun_request(run=submission.runs.first())


def test_requeueing_a_benchmark_keeps_old_results_visible_with_their_version(
        alice, benchmarks, strategy_upload, client, settings, django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    from unittest import mock

    from tests.factories import make_record

    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Versioned",
                                               benchmarks=[benchmarks["digits-mlp"]])
    old = {**make_record(top1=0.777), "protocol_version": 0}
    for run in submission.runs.all():
        services.run_record_result(run=run, record=old)
    with mock.patch("submissions.tasks.run_evaluate.apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        assert services.benchmark_requeue(benchmark=benchmarks["digits-mlp"]) == 21
    assert send.call_count == 21
    assert set(submission.runs.values_list("status", flat=True)) == {"queued"}
    page = client.get(reverse("method", args=[submission.method.slug])).content.decode()
    assert "Results under earlier protocols" in page and "v0" in page and "77.7" in page
