"""The status page and its progress JSON: numbers, run states, who sees what."""

import pytest
from django.urls import reverse

from submissions import services
from submissions.models import Run, Submission

TRACEBACK = 'File "layer_magnitude.py", line 9, in layer_masks\nValueError: secret-detail'


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    """alice's submission on digits-mlp (21 runs): two finished, one failed, one running."""
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    runs = list(submission.runs.all())
    Run.objects.filter(pk__in=[runs[0].pk, runs[1].pk]).update(status=Run.Status.FINISHED, top1=0.9123, attempt=1)
    Run.objects.filter(pk=runs[3].pk).update(status=Run.Status.RUNNING, attempt=1)
    services.run_record_failure(run=runs[2], message="ValueError: secret-detail", traceback=TRACEBACK)
    return submission


def progress(client, submission):
    return client.get(reverse("submission-progress", args=[submission.pk]))


def test_it_shows_the_progress_and_the_state_of_every_run(client, submission):
    response = client.get(submission.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 of 21 runs done · 2 finished · 1 failed" in html
    assert 'max="21" value="3"' in html
    assert html.count('<tr id="run-') == 21
    assert "91.2" in html and "running" in html  # top-1 in percent, one decimal
    assert 'data-final="false"' in html


def test_the_owner_sees_the_traceback_of_a_failed_run(client, alice, submission):
    client.force_login(alice)
    html = client.get(submission.get_absolute_url()).content.decode()
    assert "in layer_masks" in html and "secret-detail" in html


def test_the_moderator_sees_the_traceback_too(client, moderator, submission):
    client.force_login(moderator)
    assert "in layer_masks" in client.get(submission.get_absolute_url()).content.decode()


@pytest.mark.parametrize("login", [True, False], ids=["bob", "anonymous"])
def test_others_see_the_progress_but_not_the_traceback(client, bob, submission, login):
    if login:
        client.force_login(bob)
    response = client.get(submission.get_absolute_url())
    assert response.status_code == 200
    assert "secret-detail" not in response.content.decode()
    assert "secret-detail" not in progress(client, submission).content.decode()


@pytest.mark.parametrize("flag", ["is_public", "is_hidden"])
@pytest.mark.parametrize("login", [True, False], ids=["bob", "anonymous"])
def test_a_private_or_hidden_submission_is_not_found_for_others(client, bob, submission, flag, login):
    type(submission.method).objects.filter(pk=submission.method_id).update(**{flag: flag == "is_hidden"})
    if login:
        client.force_login(bob)
    assert client.get(submission.get_absolute_url()).status_code == 404
    assert progress(client, submission).status_code == 404


@pytest.mark.parametrize("who", ["alice", "moderator"])
def test_a_private_submission_is_seen_by_its_owner_and_staff(client, submission, who, request):
    submission.method.is_public = False
    submission.method.save()
    client.force_login(request.getfixturevalue(who))
    assert client.get(submission.get_absolute_url()).status_code == 200
    assert progress(client, submission).status_code == 200


def test_a_baseline_submission_is_public(client, benchmarks):
    baseline, _ = services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    assert client.get(baseline.get_absolute_url()).status_code == 200


def test_the_progress_json_says_what_the_page_shows(client, submission):
    data = progress(client, submission).json()
    assert {k: data[k] for k in ("status", "done", "total", "finished", "failed", "final")} == {
        "status": "running", "done": 3, "total": 21, "finished": 2, "failed": 1, "final": False}
    assert len(data["runs"]) == 21
    assert data["runs"][0] == {"id": data["runs"][0]["id"], "benchmark": "digits-mlp", "compression": 1.0,
                               "seed": 0, "status": "finished", "top1": 0.9123, "attempt": 1,
                               "actual_compression": None, "speedup": None, "unsandboxed": False}


def test_a_final_submission_stops_the_poller(client, submission):
    services.submission_cancel(submission)
    data = progress(client, submission).json()
    assert data["final"] is True and data["status"] == "cancelled"
    assert data["done"] == data["total"] == 21
    assert 'data-final="true"' in client.get(submission.get_absolute_url()).content.decode()


def test_an_unknown_submission_is_not_found(client, db):
    assert client.get(reverse("submission", args=[999])).status_code == 404
    assert Submission.objects.count() == 0


def test_a_strategys_error_report_is_shown_as_text_never_as_markup(client, alice, benchmarks, strategy_upload):
    """Error messages and tracebacks come from the sandbox child: untrusted text."""
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.first()
    services.run_record_failure(run=run, message='RuntimeError: <script>alert("m")</script>',
                                traceback='<img src=x onerror="alert(1)">')
    client.force_login(alice)
    html = client.get(submission.get_absolute_url()).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;m&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
