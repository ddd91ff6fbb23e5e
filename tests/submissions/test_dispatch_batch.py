"""One sandbox per (submission, benchmark) in the worker: the first run's task computes every
queued sibling's masks in the same sandbox; each run is still started, scored and recorded by
its own task."""

from unittest import mock

import pytest

from evaluator import runner
from submissions import execution, services, tasks
from submissions.models import Run
from tests.factories import make_record


@pytest.fixture
def counted_sandboxes():
    """The real sandbox, counted; scoring stood in for (these tests are about the masks)."""
    starts = []
    real = runner.compute_jobs

    def counted(source, **kwargs):
        starts.append(list(kwargs["jobs"]))
        return real(source, **kwargs)

    execution._batches.clear()
    with mock.patch.object(runner, "compute_jobs", side_effect=counted), \
            mock.patch.object(execution, "score_run", side_effect=lambda ctx, source, c, s, masks, **kw:
                              make_record(compression=c, seed=s)) as score:
        yield starts, score
    execution._batches.clear()


@pytest.mark.sandbox  # the uploaded strategy runs in bubblewrap
def test_a_21_run_submission_starts_one_sandbox_and_records_each_run_on_its_own(
        alice, benchmarks, strategy_upload, counted_sandboxes):
    starts, score = counted_sandboxes
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate.apply(args=[run.pk])
    assert len(starts) == 1 and len(starts[0]) == 21
    assert score.call_count == 21
    assert set(submission.runs.values_list("status", "attempt")) == {(Run.Status.FINISHED, 1)}
    jobs = {(c, s): m for (c, s), m in zip(starts[0], [call.args[4] for call in score.call_args_list])}
    assert len(jobs) == 21  # each run scored with masks of its own job


@pytest.mark.sandbox  # the uploaded strategy runs in bubblewrap
def test_a_rerun_computes_its_masks_alone_from_scratch(alice, benchmarks, strategy_upload, counted_sandboxes):
    starts, _ = counted_sandboxes
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=2.0, seed=0)
    tasks.run_evaluate.apply(args=[run.pk])
    rerun = services.rerun_request(run=Run.objects.get(pk=run.pk))
    tasks.rerun_evaluate.apply(args=[rerun.pk])
    assert [len(jobs) for jobs in starts] == [21, 1]


@pytest.fixture
def scripted_sandbox():
    """A sandbox whose outcome per job the test decides: `script[i]` for the batch's job i
    (default: masks); scoring stood in for."""
    from evaluator.sandbox import JobOutcome, StrategyError

    starts, script = [], {}

    def compute(source, **kwargs):
        jobs = list(kwargs["jobs"])
        starts.append(jobs)
        outcome = {"masks": lambda: object(), "error": lambda: StrategyError("RuntimeError: not this one"),
                   "unstarted": lambda: None}
        return [JobOutcome(outcome[script.get(i, "masks")](), 0.5) for i in range(len(jobs))]

    execution._batches.clear()
    with mock.patch.object(runner, "compute_jobs", side_effect=compute), \
            mock.patch.object(execution, "score_run", side_effect=lambda ctx, source, c, s, masks, **kw:
                              make_record(compression=c, seed=s)):
        yield starts, script
    execution._batches.clear()


@pytest.fixture
def submission(alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    return submission


def test_a_job_that_failed_in_the_batch_is_its_runs_failure_and_is_never_computed_again(
        submission, scripted_sandbox):
    starts, script = scripted_sandbox
    script.update({i: "error" for i in range(1, 21)})  # the case-1 attacker: only the run's own job answers
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate.apply(args=[run.pk])
    assert [len(jobs) for jobs in starts] == [21]  # one sandbox, each job attempted once
    runs = submission.runs.order_by("seed", "compression")
    assert runs[0].status == Run.Status.FINISHED
    for run in runs[1:]:
        assert run.status == Run.Status.FAILED and run.user_error and run.attempt == 0
        assert run.error == "RuntimeError: not this one"


def test_two_worker_processes_never_compute_overlapping_batches(submission, scripted_sandbox):
    starts, _ = scripted_sandbox
    first, second, third = submission.runs.order_by("seed", "compression")[:3]
    tasks.run_evaluate.apply(args=[first.pk])  # worker process A: a batch of all 21
    execution._batches.clear()  # worker process B holds none of A's masks
    tasks.run_evaluate.apply(args=[second.pk])
    tasks.run_evaluate.apply(args=[third.pk])
    assert [len(jobs) for jobs in starts] == [21, 1, 1]  # B computes only each run's own job
    assert submission.runs.filter(status=Run.Status.FINISHED).count() == 3


def test_the_jobs_a_batch_did_not_start_are_given_back_for_the_next_batch(submission, scripted_sandbox):
    starts, script = scripted_sandbox
    script.update({i: "unstarted" for i in range(5, 21)})  # the batch's window closed after 5 jobs
    runs = list(submission.runs.order_by("seed", "compression"))
    tasks.run_evaluate.apply(args=[runs[0].pk])
    assert Run.objects.filter(pk__in=[r.pk for r in runs[5:]], lease_token="").count() == 16
    script.clear()
    tasks.run_evaluate.apply(args=[runs[5].pk])
    assert [len(jobs) for jobs in starts] == [21, 16]
    assert set(starts[1]) == {(r.compression, r.seed) for r in runs[5:]}


def test_each_runs_task_time_limit_covers_its_batch_of_masks(submission, settings, monkeypatch):
    from evaluator.benchmarks import BENCHMARKS, get_benchmark
    from evaluator.sandbox.limits import Limits
    from submissions import dispatch

    monkeypatch.setenv("PRUNEBOARD_SANDBOX_TIMEOUT", "5")
    for benchmark in BENCHMARKS.values():
        limits = Limits.from_environment(benchmark.mask_seconds)
        assert benchmark.task_seconds() >= benchmark.time_limit_s + limits.startup_seconds + limits.window
    sent = []
    with mock.patch.object(dispatch, "_task_send", side_effect=lambda name, **options: sent.append(options)):
        dispatch.runs_dispatch()
    assert sent and sent[0]["time_limit"] == get_benchmark("digits-mlp").task_seconds() == 900 + 60 + 300
    assert sent[0]["soft_time_limit"] == sent[0]["time_limit"] - 60
