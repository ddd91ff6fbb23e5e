"""Abuse limits: the upload's size, checked before its body is read; per user, submissions a day
and runs queued at once, re-runs included (one pending re-run per run). alice uploads, bob is
someone else, the moderator is staff."""

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard.models import Method
from submissions import services
from submissions.models import Rerun, Run, Submission
from submissions.uploads import DroppedUpload

from tests.django_fixtures import STRATEGY
from tests.factories import make_record

LIMIT = 256 * 1024


@pytest.fixture(autouse=True)
def nothing_queued(monkeypatch):
    monkeypatch.setattr("submissions.services.runs_enqueue", lambda runs: None)


@pytest.fixture
def per_day(settings):
    settings.PRUNEBOARD_SUBMISSIONS_PER_DAY = 2


@pytest.fixture
def submit(benchmarks, strategy_upload):
    """A new digits-mlp submission (21 runs) by `user`; `n` makes the file unique."""
    def make(user, n):
        submission, created = services.submission_create(
            user=user, upload=strategy_upload(STRATEGY + f"# {n}\n".encode()), name=f"Method {n}",
            benchmarks=[benchmarks["digits-mlp"]])
        assert created
        return submission
    return make


def as_user(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def form_post(client, benchmarks, upload):
    return client.post(reverse("submit"), {"file": upload, "name": "Mine", "public": "on",
                                           "benchmarks": [benchmarks["digits-mlp"].pk]})


def api_post(user, upload):
    return as_user(user).post("/api/submissions/", {"file": upload, "name": "Mine",
                                                    "benchmarks": "digits-mlp"}, format="multipart")


def assert_nothing_created():
    assert Submission.objects.count() == Run.objects.count() == Method.objects.count() == 0


class Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("the request body was read")


def declaring(length: int) -> dict:
    """A multipart POST that says it is `length` bytes long and fails if its body is read."""
    return {"content_type": "multipart/form-data; boundary=xyz", "CONTENT_LENGTH": str(length),
            "wsgi.input": Unreadable()}


# The upload's size

def test_the_form_refuses_an_oversized_request_with_413_before_reading_it(client, alice, benchmarks):
    client.force_login(alice)
    response = client.post(reverse("submit"), b"", **declaring(10 * 1024 * 1024))
    assert response.status_code == 413
    assert "the upload is 10240 KB; files are limited to 256 KB" in response.content.decode()
    assert response.templates[0].name == "submissions/submit.html"
    assert_nothing_created()


def test_the_api_refuses_an_oversized_request_with_413_without_touching_the_database(
        alice, benchmarks, django_assert_num_queries):
    client = as_user(alice)
    with django_assert_num_queries(0):
        response = client.post("/api/submissions/", b"", **declaring(LIMIT + 64 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == {"file": ["the upload is 321 KB; files are limited to 256 KB"]}
    assert_nothing_created()


def test_room_for_the_other_fields_is_allowed_above_the_file_limit(alice, benchmarks, strategy_upload):
    response = api_post(alice, strategy_upload(STRATEGY + b"#" * (LIMIT - len(STRATEGY) - 1) + b"\n"))
    assert response.status_code == 201, response.content


def test_a_file_one_byte_over_the_limit_is_refused_on_the_form(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    response = form_post(client, benchmarks, strategy_upload(STRATEGY + b"#" * (LIMIT - len(STRATEGY) + 1)))
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["the file is 257 KB; the limit is 256 KB"]
    assert_nothing_created()


def test_a_file_one_byte_over_the_limit_is_400_from_the_api(alice, benchmarks, strategy_upload):
    response = api_post(alice, strategy_upload(b"#" * (LIMIT + 1)))
    assert response.status_code == 400
    assert response.json() == {"file": ["the file is 257 KB; the limit is 256 KB"]}
    assert_nothing_created()


def test_the_upload_handler_drops_a_file_past_the_limit_and_keeps_its_size(strategy_upload):
    request = RequestFactory().post("/submit/", {"file": strategy_upload(b"#" * (LIMIT + 1)),
                                                 "name": "kept"})
    upload = request.FILES["file"]
    assert isinstance(upload, DroppedUpload)
    assert (upload.size, upload.read(), request.POST["name"]) == (LIMIT + 1, b"", "kept")


def test_the_upload_handler_keeps_a_file_at_the_limit_whole(strategy_upload):
    request = RequestFactory().post("/submit/", {"file": strategy_upload(b"#" * LIMIT)})
    upload = request.FILES["file"]
    assert not isinstance(upload, DroppedUpload)
    assert upload.read() == b"#" * LIMIT


# Submissions a day

def test_the_third_submission_today_is_refused_on_the_form(
        client, alice, benchmarks, strategy_upload, submit, per_day):
    submit(alice, 1)
    submit(alice, 2)
    client.force_login(alice)
    response = form_post(client, benchmarks, strategy_upload())
    assert response.context["form"].non_field_errors() == [
        "you have made 2 submissions today (UTC); the limit is 2 — try again after 00:00 UTC"]
    assert Submission.objects.count() == 2


def test_the_third_submission_today_is_429_from_the_api_with_retry_after(
        alice, benchmarks, strategy_upload, submit, per_day):
    submit(alice, 1)
    submit(alice, 2)
    response = api_post(alice, strategy_upload())
    assert response.status_code == 429
    assert response.json() == {"detail": "you have made 2 submissions today (UTC); the limit is 2 "
                                         "— try again after 00:00 UTC"}
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert Submission.objects.count() == 2


def test_a_submission_the_platform_failed_does_not_count(alice, submit, per_day):
    failed = submit(alice, 1)
    for run in failed.runs.all():
        services.run_record_failure(run=run, message="worker lost", user_error=False)
    assert Submission.objects.get(pk=failed.pk).status == Submission.Status.FAILED
    submit(alice, 2)
    submit(alice, 3)
    with pytest.raises(services.LimitExceeded, match="you have made 2 submissions today"):
        submit(alice, 4)


def test_a_submission_that_failed_in_the_users_code_counts(alice, submit, per_day):
    failed = submit(alice, 1)
    runs = list(failed.runs.all())
    services.run_record_failure(run=runs[0], message="IndexError", user_error=True)
    for run in runs[1:]:
        services.run_record_failure(run=run, message="worker lost", user_error=False)
    assert Submission.objects.get(pk=failed.pk).status == Submission.Status.FAILED
    submit(alice, 2)
    with pytest.raises(services.LimitExceeded):
        submit(alice, 3)


def test_a_cancelled_submission_counts(alice, submit, per_day):
    services.submission_cancel(submit(alice, 1))
    submit(alice, 2)
    with pytest.raises(services.LimitExceeded):
        submit(alice, 3)


def test_yesterdays_submissions_do_not_count(alice, submit, per_day):
    old = submit(alice, 1)
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    Submission.objects.filter(pk=old.pk).update(created=midnight - timedelta(seconds=1))
    submit(alice, 2)
    submit(alice, 3)
    assert Submission.objects.filter(owner=alice).count() == 3


def test_another_users_submissions_do_not_count(alice, bob, submit, per_day):
    submit(alice, 1)
    submit(alice, 2)
    submit(bob, 1)
    submit(bob, 2)
    assert Submission.objects.filter(owner=bob).count() == 2


def test_staff_are_exempt(moderator, submit, per_day):
    for n in range(4):
        submit(moderator, n)
    assert Submission.objects.filter(owner=moderator).count() == 4


def test_the_same_file_again_at_the_limit_leads_to_the_first_submission(
        alice, benchmarks, strategy_upload, submit, per_day):
    submit(alice, 1)
    submit(alice, 2)
    again = api_post(alice, strategy_upload(STRATEGY + b"# 2\n"))
    assert again.status_code == 200 and again.json()["created"] is False
    assert Submission.objects.count() == 2


# Runs queued at once

def test_a_second_submission_while_the_first_is_queued_is_refused(settings, alice, submit):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 30
    submit(alice, 1)
    with pytest.raises(services.LimitExceeded) as refused:
        submit(alice, 2)
    assert str(refused.value) == ("you have 21 runs queued or running; this submission adds 21 and "
                                  "the limit is 30 — try again when some have finished")
    assert Submission.objects.count() == 1 and Run.objects.count() == 21


def test_running_runs_count_as_queued(settings, alice, submit):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 30
    first = submit(alice, 1)
    first.runs.update(status=Run.Status.RUNNING)
    with pytest.raises(services.LimitExceeded, match="you have 21 runs queued or running"):
        submit(alice, 2)


def test_a_second_submission_passes_once_the_first_ones_runs_are_done(settings, alice, submit):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 30
    first = submit(alice, 1)
    runs = list(first.runs.all())
    for run in runs[:20]:
        services.run_record_result(run=run, record={"top1": 0.9, "top5": 1.0, "pre_top1": 0.5,
                                                    "compression": run.compression,
                                                    "compression_error": 0.0, "speedup": 1.0})
    services.run_record_failure(run=runs[20], message="IndexError")
    submit(alice, 2)
    assert Submission.objects.count() == 2


def test_the_queued_limit_is_per_user_and_staff_are_exempt(settings, alice, bob, moderator, submit):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 30
    submit(alice, 1)
    submit(bob, 1)
    submit(moderator, 1)
    submit(moderator, 2)
    assert Run.objects.filter(status=Run.Status.QUEUED).count() == 4 * 21


# Re-runs: one pending at a time per run, and each counts among the requester's queued runs

@pytest.fixture
def finished(submit):
    """`user`'s submission `n` with all 21 runs finished."""
    def make(user, n=1):
        submission = submit(user, n)
        for run in submission.runs.all():
            services.run_record_result(run=run, record=make_record(compression=run.compression,
                                                                   seed=run.seed))
        return list(submission.runs.order_by("pk"))
    return make


@pytest.fixture
def sent(monkeypatch):
    """The re-run tasks handed to the broker."""
    calls = []
    monkeypatch.setattr("submissions.tasks.rerun_evaluate.apply_async",
                        lambda args, **kw: calls.append(args[0]))
    return calls


def rerun(user, run, capture):
    with capture(execute=True):
        return as_user(user).post(f"/api/runs/{run.pk}/rerun/")


def test_a_run_can_be_rerun_once_while_its_rerun_is_pending(
        alice, finished, sent, django_capture_on_commit_callbacks):
    run = finished(alice)[0]
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    responses = [rerun(alice, run, django_capture_on_commit_callbacks) for _ in range(29)]
    assert {r.status_code for r in responses} == {409}
    assert responses[0].json() == {"detail": f"a re-run of run {run.pk} is already pending; ask "
                                             f"again when it has finished"}
    assert Rerun.objects.count() == 1 and len(sent) == 1


def test_a_run_can_be_rerun_again_once_its_rerun_has_finished(
        alice, finished, sent, django_capture_on_commit_callbacks):
    run = finished(alice)[0]
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    services.rerun_record(rerun=Rerun.objects.get(), record=run.record)
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 409
    assert len(sent) == 2


def test_pending_reruns_count_toward_the_queued_runs_limit(
        settings, alice, finished, sent, django_capture_on_commit_callbacks):
    runs = finished(alice)
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 2
    for run in runs[:2]:
        assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    refused = rerun(alice, runs[2], django_capture_on_commit_callbacks)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "you have 2 runs queued or running (2 of them re-runs); "
                                        "this re-run adds 1 and the limit is 2 — try again when "
                                        "some have finished"}
    assert Rerun.objects.count() == 2 and len(sent) == 2
    assert not runs[2].reruns.exists()


def test_queued_runs_leave_no_room_for_a_rerun(settings, alice, finished, submit, sent,
                                               django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 21
    run = finished(alice, 1)[0]
    submit(alice, 2)
    response = rerun(alice, run, django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert response.json()["detail"].startswith("you have 21 runs queued or running; this re-run adds 1")
    assert not Rerun.objects.exists() and not sent


def test_pending_reruns_leave_less_room_for_a_submission(settings, alice, finished, submit, sent,
                                                         django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 22
    run = finished(alice, 1)[0]
    submit(alice, 2)  # 21 runs: room for one re-run
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    Run.objects.filter(status=Run.Status.QUEUED).update(status=Run.Status.FINISHED)
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 21
    with pytest.raises(services.LimitExceeded, match=r"you have 1 run queued or running \(1 of "
                                                     r"them re-runs\); this submission adds 21"):
        submit(alice, 3)


def test_staff_reruns_are_exempt_from_the_limit_but_not_from_one_pending_per_run(
        settings, alice, moderator, finished, sent, django_capture_on_commit_callbacks):
    runs = finished(alice)
    settings.PRUNEBOARD_QUEUED_RUNS_PER_USER = 1
    for run in runs[:3]:
        assert rerun(moderator, run, django_capture_on_commit_callbacks).status_code == 202
    assert rerun(moderator, runs[0], django_capture_on_commit_callbacks).status_code == 409
    assert rerun(alice, runs[0], django_capture_on_commit_callbacks).status_code == 409
    # a moderator's re-runs are not held against the run's owner
    assert rerun(alice, runs[3], django_capture_on_commit_callbacks).status_code == 202


def test_a_rerun_the_platform_failed_is_not_left_pending(alice, finished, sent,
                                                        django_capture_on_commit_callbacks):
    from submissions.tasks import rerun_evaluate

    run = finished(alice)[0]
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
    with mock.patch("submissions.tasks.evaluate_run", side_effect=OSError("disk full")), \
            pytest.raises(OSError):
        rerun_evaluate(Rerun.objects.get().pk)
    assert Rerun.objects.get().status == Rerun.Status.FAILED
    assert Rerun.objects.get().error == "platform error: OSError: disk full"
    assert rerun(alice, run, django_capture_on_commit_callbacks).status_code == 202
