"""The worker scores a batch's runs together on a small target (evaluator/batched.py): the first
run's task starts the siblings whose masks it holds (their leases), finetunes and scores them
with itself in one call and records each at once, so a sibling's own task, on this worker or
another, finds it final and computes nothing twice."""

import dataclasses
from unittest import mock

import pytest

from evaluator import runner
from evaluator.benchmarks import get_benchmark
from evaluator.runner import Context, RunFailed, score_run
from evaluator.sandbox import JobOutcome, StrategySource
from submissions import execution, services, tasks
from submissions.models import Run
from tests.factories import make_record


@pytest.fixture
def counted_scoring():
    """Masks computed in process or stood in for; scoring stood in for, counted per call. A job
    listed in `failing` gets a RunFailed, as a sibling whose masks fail validation does."""
    calls, failing = [], set()

    def score_runs(ctx, jobs, should_stop=None):
        calls.append([(j.compression, j.seed) for j in jobs])
        return [RunFailed("invalid masks: mask for '1.weight' has shape (3, 3)")
                if (j.compression, j.seed) in failing else
                {**make_record(compression=j.compression, seed=j.seed), "time_masks_s": j.mask_seconds}
                for j in jobs]

    execution._batches.clear()
    with mock.patch.object(execution, "score_runs", side_effect=score_runs):
        yield calls, failing
    execution._batches.clear()


def run_all(submission):
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate.apply(args=[run.pk])


def test_a_baselines_runs_on_a_target_are_scored_in_one_batch_and_each_recorded_by_its_own_task(
        benchmarks, counted_scoring):
    calls, _ = counted_scoring
    submission, runs = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    assert len(runs) == 21
    run_all(submission)
    assert [len(c) for c in calls] == [7, 7, 7]
    for run in submission.runs.all():
        assert (run.status, run.attempt) == (Run.Status.FINISHED, 1), run.error
        assert (run.record["compression_requested"], run.record["seed"]) == (run.compression, run.seed)
        assert run.record["strategy"] == "global-mag-weight"
    assert not execution._batches[next(iter(execution._batches))]  # each held mask used once


def test_a_siblings_task_on_another_worker_finds_it_recorded_and_computes_nothing(benchmarks, counted_scoring):
    calls, _ = counted_scoring
    submission, _ = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    first, second = submission.runs.order_by("seed", "compression")[:2]
    tasks.run_evaluate.apply(args=[first.pk])
    assert [len(c) for c in calls] == [7]
    execution._batches.clear()  # the second run's task reaches a worker that holds nothing
    second.refresh_from_db()
    assert (second.status, second.attempt) == (Run.Status.FINISHED, 1)
    tasks.run_evaluate.apply(args=[second.pk])
    assert [len(c) for c in calls] == [7]  # nothing computed again
    second.refresh_from_db()
    assert (second.status, second.attempt) == (Run.Status.FINISHED, 1)


def test_a_sibling_another_worker_started_is_left_to_it(benchmarks, counted_scoring):
    calls, _ = counted_scoring
    submission, _ = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    first, second = submission.runs.order_by("seed", "compression")[:2]
    original = services.batch_claim

    def claim_then_other_worker_starts(run, **kwargs):
        out = original(run, **kwargs)
        assert services.run_start(second.pk, host="other") is not None  # meanwhile, elsewhere
        return out

    with mock.patch.object(services, "batch_claim", side_effect=claim_then_other_worker_starts):
        tasks.run_evaluate.apply(args=[first.pk])
    assert (second.compression, second.seed) not in calls[0] and len(calls[0]) == 6  # 7 less it
    second.refresh_from_db()
    assert (second.status, second.worker_host) == (Run.Status.RUNNING, "other")


def test_siblings_a_failed_batch_started_go_back_to_waiting(benchmarks):
    submission, _ = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    first = submission.runs.order_by("seed", "compression").first()
    execution._batches.clear()
    with mock.patch.object(execution, "score_runs", side_effect=RuntimeError("boom")):
        tasks.run_evaluate.apply(args=[first.pk])
    execution._batches.clear()
    others = submission.runs.exclude(pk=first.pk)
    # waiting for the dispatcher (a retry's batch may claim them again: a claim starts nothing)
    assert set(others.values_list("status", "queued_at", "worker_host")) == {(Run.Status.QUEUED, None, "")}


def test_an_uploads_siblings_are_scored_with_the_run_whose_sandbox_computed_their_masks(
        alice, benchmarks, strategy_upload, counted_scoring):
    calls, _ = counted_scoring
    starts = []

    def compute(source, **kwargs):
        starts.append(list(kwargs["jobs"]))
        return [JobOutcome(object(), 0.5) for _ in kwargs["jobs"]]

    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    with mock.patch.object(runner, "compute_jobs", side_effect=compute):
        run_all(submission)
    assert [len(s) for s in starts] == [21] and [len(c) for c in calls] == [7, 7, 7]
    assert set(submission.runs.values_list("status", "attempt")) == {(Run.Status.FINISHED, 1)}


def test_a_sibling_whose_masks_fail_validation_fails_alone(benchmarks, counted_scoring):
    calls, failing = counted_scoring
    failing.add((8.0, 1))
    submission, _ = services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    run_all(submission)
    assert [len(c) for c in calls] == [7, 7, 7]
    failed = submission.runs.get(compression=8.0, seed=1)
    assert failed.status == Run.Status.FAILED and failed.attempt == 1
    assert "invalid masks" in failed.error and "(3, 3)" in failed.error
    assert submission.runs.filter(status=Run.Status.FINISHED).count() == 20


def test_a_run_recorded_from_the_batch_holds_what_scoring_it_alone_gives(benchmarks):
    """The real evaluator, one finetuning epoch: a sibling's held record is its own run's."""
    full = Context.load(get_benchmark("digits-mlp"), device="cpu")
    short = dataclasses.replace(full.benchmark, finetune=dataclasses.replace(full.benchmark.finetune, epochs=1))
    ctx = dataclasses.replace(full, benchmark=short)
    execution._batches.clear()
    execution._contexts["digits-mlp"] = ctx
    try:
        submission, _ = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
        run_all(submission)
    finally:
        execution._contexts.pop("digits-mlp", None)
    sibling = submission.runs.get(compression=16.0, seed=2)  # scored in the first run's batch
    assert sibling.status == Run.Status.FINISHED, sibling.error
    source = StrategySource(baseline="global-mag-weight")
    [outcome] = runner.masks_for_jobs(ctx, source, [(16.0, 2)])
    alone = score_run(ctx, source, 16.0, 2, outcome.result)
    for column in ("top1", "loss", "pre_top1", "val_top1", "best_epoch", "masks_sha256", "memory_nz"):
        assert sibling.record[column] == alone[column], column


def test_a_worker_started_again_under_its_name_batches_the_runs_its_dead_process_had_claimed(
        alice, benchmarks, strategy_upload, counted_scoring, settings):
    """The worker's process dies holding the masks of the siblings its batch claimed. Started
    again under its name, it frees those claims before its first run, so the next run's sandbox
    computes them in one batch again, not one sandbox a run until the claims expire."""
    from types import SimpleNamespace

    from pruneboard.celery import free_what_an_earlier_process_claimed

    calls, _ = counted_scoring
    starts = []

    def compute(source, **kwargs):
        starts.append(list(kwargs["jobs"]))
        return [JobOutcome(object(), 0.5) for _ in kwargs["jobs"]]

    def worker_ready(*queues):
        free_what_an_earlier_process_claimed(SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(
            queues=SimpleNamespace(consume_from={q: None for q in queues})))))

    settings.PRUNEBOARD_WORKER_NAME = "box/local1"
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    first = submission.runs.order_by("seed", "compression").first()
    waiting = submission.runs.filter(status=Run.Status.QUEUED)
    with mock.patch.object(runner, "compute_jobs", side_effect=compute):
        tasks.run_evaluate.apply(args=[first.pk])
        execution._batches.clear()  # the process dies with the masks of the 14 runs not scored
        assert waiting.count() == 14 and not waiting.filter(lease_token="").exists()
        assert services.batch_claims_release("box/local2") == 0  # another worker's claims stay
        worker_ready("control")  # the control worker takes no run: it frees nothing
        assert not waiting.filter(lease_token="").exists()
        worker_ready("cpu", "gpu")  # box/local1 again
        assert waiting.filter(lease_token="").count() == 14
        run_all(submission)
    assert [len(s) for s in starts] == [21, 14] and [len(c) for c in calls] == [7, 7, 7]
    assert set(submission.runs.values_list("status", "attempt")) == {(Run.Status.FINISHED, 1)}
