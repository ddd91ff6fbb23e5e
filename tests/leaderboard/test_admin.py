"""Moderators act on whole submissions from the admin."""

from unittest import mock

import pytest
from django.urls import reverse

from submissions import services
from submissions.models import Run, Submission, WorkerHeartbeat

CHANGELIST = "admin:submissions_submission_changelist"


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    return submission


def act(client, action, submission):
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [submission.pk]})


def test_the_moderator_cancels_a_submission(client, moderator, submission):
    done = submission.runs.first()
    Run.objects.filter(pk=done.pk).update(status=Run.Status.FINISHED)
    client.force_login(moderator)
    assert act(client, "cancel_selected", submission).status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.CANCELLED
    assert submission.runs.filter(status=Run.Status.CANCELLED).count() == 20
    assert Run.objects.get(pk=done.pk).status == Run.Status.FINISHED


def test_the_moderator_reruns_a_submission(client, moderator, submission, settings,
                                           django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    submission.runs.update(status=Run.Status.FAILED, error="boom")
    client.force_login(moderator)
    with mock.patch("submissions.tasks.run_evaluate.apply_async") as apply_async, \
            django_capture_on_commit_callbacks(execute=True):
        assert act(client, "rerun_selected", submission).status_code == 302
    assert submission.runs.filter(status=Run.Status.QUEUED, error="").count() == 21
    assert apply_async.call_count == 21


def test_the_admin_lists_render(client, moderator, submission):
    client.force_login(moderator)
    assert client.get(reverse(CHANGELIST) + "?status=queued").status_code == 200
    assert client.get(reverse("admin:submissions_run_changelist")).status_code == 200
    run = submission.runs.first()
    assert client.get(reverse("admin:submissions_run_change", args=[run.pk])).status_code == 200
    assert client.get(reverse("admin:submissions_submission_change", args=[submission.pk])).status_code == 200


def test_others_cannot_use_the_admin(client, alice, submission):
    client.force_login(alice)
    act(client, "cancel_selected", submission)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED


def test_the_moderator_reruns_finished_runs_skipping_those_with_a_pending_rerun(
        client, moderator, submission, settings, django_capture_on_commit_callbacks):
    runs = list(submission.runs.order_by("pk")[:4])
    Run.objects.filter(pk__in=[r.pk for r in runs[:3]]).update(status=Run.Status.FINISHED)
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 0  # staff are exempt
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    client.force_login(moderator)
    with mock.patch("submissions.tasks.rerun_evaluate.apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        services.rerun_request(run=runs[0], user=moderator)
        response = client.post(reverse("admin:submissions_run_changelist"), follow=True, data={
            "action": "check_reproducibility", "_selected_action": [r.pk for r in runs]})
    assert response.status_code == 200
    assert ("Queued 2 reproducibility re-run(s); skipped 1 unfinished run(s) and 1 run(s) whose "
            "re-run is still pending.") in response.content.decode()
    assert send.call_count == 3
    assert [r.reruns.count() for r in runs] == [1, 1, 1, 0]


def test_the_moderator_is_told_which_reruns_no_worker_could_take(client, moderator, submission):
    run = submission.runs.first()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED)
    WorkerHeartbeat.objects.all().delete()  # every worker gone
    client.force_login(moderator)
    response = client.post(reverse("admin:submissions_run_changelist"), follow=True, data={
        "action": "check_reproducibility", "_selected_action": [run.pk]})
    assert ("Queued 0 reproducibility re-run(s); skipped 0 unfinished run(s) and 0 run(s) whose re-run is "
            "still pending. Skipped 1 on benchmarks this server cannot run now: digits-mlp is not available "
            "on this server: waiting for a worker (none has reported in the last 120 s).") in response.content.decode()
    assert not run.reruns.exists()
