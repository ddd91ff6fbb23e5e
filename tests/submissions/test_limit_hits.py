"""A strategy that runs into a sandbox limit on one job would run into it on every job of the
same benchmark: its other runs there fail at once, with the same limit, instead of each waiting
the limit out again. alice uploads; baselines are trusted and never affected."""

from unittest import mock

import pytest

from evaluator.runner import RunFailed
from submissions import services, tasks
from submissions.models import Run, Submission
from tests.factories import make_record

MEMORY = "the strategy used more than 8192 MB of memory (PRUNEBOARD_SANDBOX_MEMORY_MB)"


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(
        user=alice, upload=strategy_upload(), name="Greedy",
        benchmarks=[benchmarks["digits-mlp"], benchmarks["mnist1d-cnn"]])
    return submission


def runs_on(submission, benchmark):
    return submission.runs.filter(benchmark__name=benchmark)


def evaluated(run, failure):
    """Run the worker's task on `run` with the evaluator standing in: it raises `failure`."""
    with mock.patch.object(tasks, "evaluate_run", side_effect=failure) as evaluate:
        tasks.run_evaluate.apply(args=[run.pk])
    run.refresh_from_db()
    return evaluate


def hits_memory():
    return RunFailed(MEMORY, limit="memory")


def test_a_limit_hit_fails_the_queued_runs_of_the_same_benchmark_at_once(submission):
    run = runs_on(submission, "digits-mlp").get(compression=8.0, seed=1)
    evaluated(run, hits_memory())
    assert run.status == Run.Status.FAILED and run.limit_hit == "memory"
    siblings = runs_on(submission, "digits-mlp").exclude(pk=run.pk)
    assert siblings.count() == 20
    for sibling in siblings:
        assert sibling.status == Run.Status.FAILED and sibling.finished is not None
        assert sibling.limit_hit == "memory" and sibling.user_error
        assert "job (8x, seed 1) hit the memory limit" in sibling.error
        assert MEMORY in sibling.error
        assert sibling.attempt == 0 and sibling.started is None  # never ran


def test_the_runs_of_other_benchmarks_are_untouched(submission):
    evaluated(runs_on(submission, "digits-mlp").first(), hits_memory())
    others = runs_on(submission, "mnist1d-cnn")
    assert set(others.values_list("status", flat=True)) == {Run.Status.QUEUED}
    assert set(others.values_list("limit_hit", flat=True)) == {""}


def test_a_sibling_already_running_is_left_to_finish(submission):
    running = runs_on(submission, "digits-mlp").get(compression=2.0, seed=0)
    _, token = services.run_start(running.pk, host="w2")
    evaluated(runs_on(submission, "digits-mlp").get(compression=4.0, seed=0), hits_memory())
    running.refresh_from_db()
    assert running.status == Run.Status.RUNNING and running.error == ""
    services.run_record_result(run=running, record=make_record(), token=token)
    running.refresh_from_db()
    assert running.status == Run.Status.FINISHED


def test_a_run_that_starts_after_a_sibling_hit_a_limit_fails_without_a_sandbox(submission):
    first, later = runs_on(submission, "digits-mlp")[:2]
    services.run_start(first.pk, host="w1")
    services.run_record_failure(run=first, message=MEMORY, limit_hit="memory")
    Run.objects.filter(pk=later.pk).update(status=Run.Status.QUEUED, error="", limit_hit="",
                                           finished=None)  # say it was re-queued meanwhile
    evaluate = evaluated(later, AssertionError("the sandbox was started"))
    assert evaluate.call_count == 0
    assert later.status == Run.Status.FAILED and later.limit_hit == "memory" and later.user_error
    assert f"job ({first.compression:g}x, seed {first.seed}) hit the memory limit" in later.error
    assert later.attempt == 0 and later.started is None


def test_a_late_run_names_the_job_that_really_hit_the_limit(submission):
    runs = list(runs_on(submission, "digits-mlp").order_by("pk"))
    evaluated(runs[-1], hits_memory())  # the others, lower pks, fail with it
    late = runs[0]
    Run.objects.filter(pk=late.pk).update(status=Run.Status.QUEUED, error="", finished=None)
    assert services.run_start(late.pk, host="w1") is None
    late.refresh_from_db()
    job = f"job ({runs[-1].compression:g}x, seed {runs[-1].seed})"
    assert late.error.startswith(f"not run: {job} hit the memory limit") and late.error.count("not run") == 1


def test_a_run_starts_as_usual_when_a_sibling_failed_without_a_limit(submission):
    first, later = runs_on(submission, "digits-mlp")[:2]
    evaluated(first, RunFailed("ZeroDivisionError: division by zero"))
    assert first.status == Run.Status.FAILED and first.limit_hit == ""
    later.refresh_from_db()
    assert later.status == Run.Status.QUEUED
    assert services.run_start(later.pk, host="w1") is not None


def test_a_platform_failure_fails_no_sibling(submission):
    evaluated(runs_on(submission, "digits-mlp").first(),
              RunFailed("the worker ran out of memory", user_error=False, limit="memory"))
    assert runs_on(submission, "digits-mlp").filter(status=Run.Status.QUEUED).count() == 20


def test_the_failures_are_the_submitters(submission):
    evaluated(runs_on(submission, "digits-mlp").first(), hits_memory())
    Run.objects.filter(benchmark__name="mnist1d-cnn").update(status=Run.Status.CANCELLED)
    submission.refresh_from_db()
    services.submission_refresh(submission)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert submission.runs.filter(status=Run.Status.FAILED, user_error=True).count() == 21


def test_baselines_are_never_affected(benchmarks):
    baseline, runs = services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    first, second, third = runs[:3]
    services.run_record_failure(run=first, message=MEMORY, limit_hit="memory")
    assert Run.objects.get(pk=second.pk).status == Run.Status.QUEUED
    assert services.run_start(third.pk, host="w1") is not None
