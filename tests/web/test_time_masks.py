"""`time_masks_s` in the worker path: each run of a batch is charged its share of the one
sandbox's seconds, as the CLI's sweep charges its runs (it used to be 0.0 on the site)."""

import time
from unittest import mock

import pytest

from submissions import execution, services, tasks
from submissions.models import Run
from tests.web.factories import make_record

SANDBOX_SECONDS = 0.42


@pytest.fixture
def slow_sandbox():
    """A sandbox that takes SANDBOX_SECONDS for the whole batch; scoring stood in for, keeping
    the mask seconds it is given as the real score_run does."""
    calls = []

    def compute(source, **kwargs):
        calls.append(len(kwargs["jobs"]))
        time.sleep(SANDBOX_SECONDS)
        return [object() for _ in kwargs["jobs"]]

    def score(ctx, source, c, s, masks, mask_seconds=0.0, **kw):
        return {**make_record(compression=c, seed=s), "time_masks_s": mask_seconds}

    execution._batches.clear()
    with mock.patch.object(execution, "compute_masks", side_effect=compute), \
            mock.patch.object(execution, "score_run", side_effect=score):
        yield calls
    execution._batches.clear()


def test_each_run_of_a_batch_records_its_share_of_the_sandbox_seconds(
        alice, benchmarks, strategy_upload, slow_sandbox):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate.apply(args=[run.pk])
    assert slow_sandbox == [21]
    seconds = [r.record["time_masks_s"] for r in submission.runs.all()]
    assert {r.status for r in submission.runs.all()} == {Run.Status.FINISHED}
    assert len(set(seconds)) == 1  # one share each
    assert SANDBOX_SECONDS <= sum(seconds) < SANDBOX_SECONDS + 2.0


def test_a_baseline_run_records_the_seconds_its_masks_took(benchmarks, slow_sandbox):
    submission, runs = services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    tasks.run_evaluate.apply(args=[runs[0].pk])
    run = Run.objects.get(pk=runs[0].pk)
    assert run.status == Run.Status.FINISHED, run.error
    assert run.record["time_masks_s"] >= SANDBOX_SECONDS
