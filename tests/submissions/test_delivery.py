"""Exactly-once as far as anyone can see: leases, duplicate deliveries, late results, the reaper,
retries of platform errors, cancellation of running runs."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from submissions import services, tasks
from submissions.models import Run, Submission
from tests.factories import make_record


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    return submission


@pytest.fixture
def run(submission):
    return submission.runs.get(compression=2.0, seed=0)


@pytest.fixture
def quick_evaluation():
    """Stand in for the evaluator: these tests are about delivery, not scoring."""
    with mock.patch.object(tasks, "evaluate_run", return_value=make_record()) as evaluate:
        yield evaluate


def expire(run):
    Run.objects.filter(pk=run.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))


def test_the_same_task_delivered_twice_records_one_result(run, quick_evaluation):
    tasks.run_evaluate.apply(args=[run.pk])
    tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.attempt == 1
    assert quick_evaluation.call_count == 1


def test_a_second_delivery_while_a_worker_holds_the_lease_does_nothing(run, quick_evaluation):
    assert services.run_start(run.pk, host="w1") is not None
    tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.worker_host == "w1" and run.attempt == 1
    assert quick_evaluation.call_count == 0


def test_a_late_result_from_a_worker_whose_lease_expired_is_refused(run):
    _, first = services.run_start(run.pk, host="w1")
    expire(run)
    assert services.runs_reap() == {"requeued": 1, "failed": 0}
    _, second = services.run_start(run.pk, host="w2")
    services.run_record_result(run=run, record=make_record(top1=0.11), token=first)
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.top1 is None
    services.run_record_result(run=run, record=make_record(top1=0.93), token=second)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.top1 == 0.93 and run.attempt == 2


def test_a_finished_run_never_goes_back(run):
    services.run_record_result(run=run, record=make_record(top1=0.9))
    services.run_record_failure(run=run, message="late failure")
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.error == ""


def test_the_reaper_puts_an_expired_run_back_in_the_queue_and_the_dispatcher_sends_it(run, submission):
    services.run_start(run.pk, host="w1")
    expire(run)
    submission.runs.exclude(pk=run.pk).update(status=Run.Status.CANCELLED)  # only the killed run is left
    with mock.patch.object(tasks.run_evaluate, "apply_async") as send:
        with mock.patch("django.db.transaction.on_commit", side_effect=lambda fn: fn()):
            services.runs_reap()
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.lease_token == "" and run.queued_at is not None
    assert [c.kwargs["args"] for c in send.call_args_list] == [[run.pk]]


def test_the_reaper_fails_a_run_as_a_platform_failure_after_the_last_attempt(run, settings):
    settings.PRUNEBOARD_MAX_ATTEMPTS = 2
    for _ in range(2):
        services.run_start(run.pk, host="w1")
        expire(run)
        services.runs_reap()
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.user_error is False
    assert "not charged to you" in run.error


def test_a_platform_error_is_retried_with_backoff_and_then_succeeds(run):
    outcomes = [OperationalError("server closed the connection unexpectedly"), make_record()]

    def flaky(*args, **kwargs):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with mock.patch.object(tasks, "evaluate_run", side_effect=flaky):
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.attempt == 2 and not run.error


def test_an_error_in_the_submitters_code_is_not_retried(run):
    from evaluator.runner import RunFailed

    with mock.patch.object(tasks, "evaluate_run", side_effect=RunFailed("ZeroDivisionError: mine")) as evaluate:
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.user_error and evaluate.call_count == 1


def test_cancelling_stops_a_running_run_at_its_next_check(run, submission):
    _, token = services.run_start(run.pk, host="w1")
    assert services.run_heartbeat(run.pk, token) is True
    services.submission_cancel(submission)
    assert services.run_heartbeat(run.pk, token) is False
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.CANCELLED


def test_a_heartbeat_that_loses_its_lease_tells_the_evaluation_to_stop():
    from submissions.heartbeat import Heartbeat

    # run_heartbeat's answer itself is tested above; the thread runs outside the test transaction
    with mock.patch.object(services, "run_heartbeat", side_effect=[True, True, False]) as renew, \
            Heartbeat(1, "token", interval=0.05) as beat:
        for _ in range(100):
            if beat.should_stop():
                break
            __import__("time").sleep(0.05)
    assert beat.should_stop() and renew.call_count == 3


def test_a_run_is_never_started_more_often_than_the_configured_attempts(run, settings, quick_evaluation):
    settings.PRUNEBOARD_MAX_ATTEMPTS = 3
    Run.objects.filter(pk=run.pk).update(attempt=3)  # a duplicate message after the last retry
    tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.attempt == 3 and not run.user_error
    assert "started 3 times" in run.error and quick_evaluation.call_count == 0


def test_a_platform_error_on_the_last_attempt_is_recorded_not_retried(run, settings):
    settings.PRUNEBOARD_MAX_ATTEMPTS, settings.PRUNEBOARD_TASK_RETRIES = 2, 5
    with mock.patch.object(tasks, "evaluate_run", side_effect=OperationalError("gone")) as evaluate:
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert evaluate.call_count == 2 and run.attempt == 2
    assert run.status == Run.Status.FAILED and not run.user_error


def test_a_run_past_its_tasks_soft_time_limit_is_recorded_once_and_not_retried(run):
    from celery.exceptions import SoftTimeLimitExceeded

    with mock.patch.object(tasks, "evaluate_run", side_effect=SoftTimeLimitExceeded()) as evaluate:
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert evaluate.call_count == 1 and run.attempt == 1
    assert run.status == Run.Status.FAILED and not run.user_error
    assert "longer than its task's time limit" in run.error and "SoftTimeLimitExceeded" not in run.error


def test_a_message_a_live_worker_holds_is_never_sent_again(run, submission, settings):
    from pruneboard.celery import note_the_message_is_held
    from submissions import capabilities, dispatch

    capabilities.worker_heartbeat(hostname="cpu@w1", queues=["cpu"], device="cpu", capabilities={})
    submission.runs.exclude(pk=run.pk).update(status=Run.Status.CANCELLED)
    old = timezone.now() - timedelta(minutes=5)
    Run.objects.filter(pk=run.pk).update(queued_at=old)  # sent long ago
    request = mock.Mock(args=[run.pk], hostname="cpu@w1")
    request.name = "submissions.tasks.run_evaluate"
    note_the_message_is_held(request=request)  # the worker took it: a retry counting down, or prefetched
    with mock.patch.object(dispatch, "broker_count", return_value=0):
        assert dispatch.runs_find_lost() == 0
        Run.objects.filter(pk=run.pk).update(worker_host="cpu@gone")  # held by a worker that died
        assert dispatch.runs_find_lost() == 1


@pytest.mark.parametrize("how", ["should_stop", "should_terminate"])
def test_a_worker_told_to_stop_starts_no_new_run_and_hands_the_message_back(run, quick_evaluation, how):
    from celery.worker import state

    from submissions import dispatch

    Run.objects.filter(pk=run.pk).update(queued_at=timezone.now())
    dispatch.message_received("submissions.tasks.run_evaluate", [run.pk], "cpu-1@host")
    with mock.patch.object(state, how, 0):  # a warm shutdown's exit code is 0
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    assert quick_evaluation.call_count == 0 and run.attempt == 0
    assert (run.status, run.queued_at, run.worker_host) == (Run.Status.QUEUED, None, "")
    assert run.pk in {i.pk for i in dispatch.waiting("cpu")}  # the next dispatch sends it elsewhere
    tasks.run_evaluate.apply(args=[run.pk])  # a worker that stays runs it
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and quick_evaluation.call_count == 1
