"""One sandbox per (submission, benchmark) in the worker: the first run's task computes every
queued sibling's masks in the same sandbox; each run is still started, scored and recorded by
its own task."""

from unittest import mock

import pytest

from submissions import execution, services, tasks
from submissions.models import Run
from tests.web.factories import make_record


@pytest.fixture
def counted_sandboxes():
    """The real sandbox, counted; scoring stood in for (these tests are about the masks)."""
    starts = []
    real = execution.compute_masks

    def counted(source, **kwargs):
        starts.append(list(kwargs["jobs"]))
        return real(source, **kwargs)

    execution._batches.clear()
    with mock.patch.object(execution, "compute_masks", side_effect=counted), \
            mock.patch.object(execution, "score_run", side_effect=lambda ctx, source, c, s, masks, **kw:
                              make_record(compression=c, seed=s)) as score:
        yield starts, score
    execution._batches.clear()


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


def test_a_rerun_computes_its_masks_alone_from_scratch(alice, benchmarks, strategy_upload, counted_sandboxes):
    starts, _ = counted_sandboxes
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=2.0, seed=0)
    tasks.run_evaluate.apply(args=[run.pk])
    rerun = services.rerun_request(run=Run.objects.get(pk=run.pk))
    tasks.rerun_evaluate.apply(args=[rerun.pk])
    assert [len(jobs) for jobs in starts] == [21, 1]
