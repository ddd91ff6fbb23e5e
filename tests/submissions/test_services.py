"""The submission and run lifecycle, and the Celery task that drives one run."""

from unittest import mock

import pytest

from evaluator.columns import COLUMNS
from submissions import services
from submissions.models import Run, Submission
from submissions.tasks import run_evaluate

RECORD = {"top1": 0.9, "top5": 0.99, "pre_top1": 0.5, "compression": 2.01,
          "compression_error": -0.005, "speedup": 1.9}

RAISES = b'''from evaluator.pruning import Pruning


class Broken(Pruning):
    def model_masks(self):
        return compute_my_importances(self.model)


def compute_my_importances(model):
    raise ValueError("my strategy is broken")
'''


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    return submission


def status_of(submission):
    submission.refresh_from_db()
    return submission.status


def test_recording_a_result_twice_changes_nothing_the_second_time(submission):
    run = submission.runs.first()
    first = services.run_record_result(run=run, record=RECORD)
    second = services.run_record_result(run=run, record={**RECORD, "top1": 0.1})
    assert second.top1 == first.top1 == 0.9
    assert second.finished == first.finished


def test_a_finished_run_never_goes_back_to_failed(submission):
    run = submission.runs.first()
    services.run_record_result(run=run, record=RECORD)
    services.run_record_failure(run=run, message="late failure")
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.error == ""


def test_the_submission_is_running_once_a_run_starts(submission):
    assert services.run_start(submission.runs.first().pk, host="w1") is not None
    assert status_of(submission) == Submission.Status.RUNNING
    services.submission_refresh(submission)
    assert status_of(submission) == Submission.Status.RUNNING


def test_the_submission_is_finished_when_every_run_is_final_and_one_finished(submission):
    runs = list(submission.runs.all())
    submission.runs.exclude(pk=runs[0].pk).update(status=Run.Status.FAILED)
    services.run_record_result(run=runs[0], record=RECORD)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FINISHED
    assert submission.error == "20 of 21 runs failed" and submission.finished is not None


def test_the_submission_failed_when_every_run_failed(submission):
    runs = list(submission.runs.all())
    submission.runs.exclude(pk=runs[0].pk).update(status=Run.Status.FAILED)
    services.run_record_failure(run=runs[0], message="boom")
    assert status_of(submission) == Submission.Status.FAILED


def test_cancelling_marks_unfinished_runs_and_a_later_start_does_nothing(submission):
    runs = list(submission.runs.all())
    services.run_record_result(run=runs[0], record=RECORD)
    assert services.submission_cancel(submission) == 20
    assert status_of(submission) == Submission.Status.CANCELLED
    assert submission.runs.filter(status=Run.Status.CANCELLED).count() == 20
    assert services.run_start(runs[1].pk, host="w1") is None
    assert Run.objects.get(pk=runs[0].pk).status == Run.Status.FINISHED


def test_a_rerun_resets_every_run_and_queues_them(submission, settings, django_capture_on_commit_callbacks):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    runs = list(submission.runs.all())
    services.run_record_result(run=runs[0], record=RECORD)
    services.run_record_failure(run=runs[1], message="boom", traceback="tb")
    with mock.patch("submissions.tasks.run_evaluate.apply_async") as apply_async, \
            django_capture_on_commit_callbacks(execute=True):
        assert services.submission_rerun(submission) == 21
    assert status_of(submission) == Submission.Status.QUEUED
    assert submission.runs.filter(status=Run.Status.QUEUED, top1=None, error="", traceback="").count() == 21
    assert sorted(c.kwargs["args"][0] for c in apply_async.call_args_list) == sorted(r.pk for r in runs)


def test_baseline_ensure_is_idempotent(benchmarks):
    first, created = services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    again, created_again = services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    assert len(created) == 21 and created_again == [] and again == first
    assert Run.objects.count() == 21


def test_the_task_evaluates_a_baseline_run_for_real(benchmarks):
    submission, _ = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=2, seed=0)
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.attempt == 1
    assert run.top1 > 0.8
    assert list(run.record) == COLUMNS
    assert status_of(submission) == Submission.Status.RUNNING


def test_the_task_records_a_failure_in_the_submitters_code(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(RAISES, "broken.py"),
                                               name="Broken", benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=2, seed=0)
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.user_error
    assert "my strategy is broken" in run.error
    assert "compute_my_importances" in run.traceback and "model_masks" in run.traceback
