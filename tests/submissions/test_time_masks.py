"""`time_masks_s` in the worker path: each run of a batch records its own job's mask seconds
(from its clock's start to its result), not the batch's average, as the CLI's sweep does."""

from unittest import mock

import pytest

from evaluator import runner
from evaluator.sandbox import JobOutcome
from submissions import execution, services, tasks
from submissions.models import Run
from tests.factories import make_record


@pytest.fixture
def timed_sandbox():
    """A sandbox whose job i took (i + 1) / 10 s; scoring stood in for, keeping the mask
    seconds it is given as the real score_run does."""
    calls = []

    def compute(source, **kwargs):
        calls.append(list(kwargs["jobs"]))
        return [JobOutcome(object(), (i + 1) / 10) for i, _ in enumerate(kwargs["jobs"])]

    def score(ctx, source, c, s, masks, mask_seconds=0.0, **kw):
        return {**make_record(compression=c, seed=s), "time_masks_s": mask_seconds}

    execution._batches.clear()
    with mock.patch.object(runner, "compute_jobs", side_effect=compute), \
            mock.patch.object(execution, "batchable", return_value=False), \
            mock.patch.object(execution, "score_run", side_effect=score):
        yield calls
    execution._batches.clear()


def test_each_run_of_a_batch_records_its_own_jobs_mask_seconds(alice, benchmarks, strategy_upload, timed_sandbox):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate.apply(args=[run.pk])
    [jobs] = timed_sandbox
    assert {r.status for r in submission.runs.all()} == {Run.Status.FINISHED}
    seconds = {(r.compression, r.seed): r.record["time_masks_s"] for r in submission.runs.all()}
    assert seconds == {job: (i + 1) / 10 for i, job in enumerate(jobs)}


def test_a_baseline_run_records_the_seconds_its_masks_took(benchmarks):
    submission, runs = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    tasks.run_evaluate.apply(args=[runs[0].pk])
    run = Run.objects.get(pk=runs[0].pk)
    assert run.status == Run.Status.FINISHED, run.error
    assert 0 < run.record["time_masks_s"] < run.record["time_total_s"]
