"""The hostile suite through the worker: each attack uploaded as a submission and one of its
runs evaluated by the real Celery task, as a worker does (cases in tests/hostile_cases.py)."""

import os

import pytest

from submissions import services, tasks
from submissions.models import Run
from tests.hostile_cases import (CASES, MESSAGE_BYTES, TOKEN, WORKER_RSS_BUDGET_MB, batch_abuse, case_context,
                                 host_leftovers, needs_bwrap, peak_rss_mb, secret_fixture, warm_up)

pytestmark = needs_bwrap()
secret = secret_fixture()


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """The worker's context (data, weights) loaded and one honest run scored, as in a worker
    that has run before."""
    from evaluator.sandbox.limits import Limits
    from evaluator.runner import calibration_batch, score_run
    from evaluator.sandbox import StrategySource, compute_masks
    from submissions.execution import context_for

    def run_one(path):
        ctx = context_for("digits-mlp")
        source = StrategySource(path=path)
        calibration = {0: calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, 0)}
        [masks] = compute_masks(source, model_name=ctx.benchmark.model, num_classes=ctx.splits.num_classes,
                                state_dict=ctx.state_dict, calibration=calibration, jobs=[(2.0, 0)],
                                limits=Limits.from_environment(ctx.benchmark.mask_seconds))
        score_run(ctx, source, 2.0, 0, masks)

    warm_up(tmp_path_factory.mktemp("warm"), run_one)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_worker_fails_each_attack_as_the_submitters_error_and_keeps_the_host_intact(
        case, warm, alice, benchmarks, strategy_upload, secret, monkeypatch):
    if case.root_only and os.geteuid() != 0:
        pytest.skip("needs a root worker (uid slots and cgroups)")
    for key, value in case.settings.items():
        monkeypatch.setenv(key, value)
    upload = strategy_upload(case.source(secret, TOKEN).encode(), "hostile.py")
    submission, _ = services.submission_create(user=alice, upload=upload, name="Hostile",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=2.0, seed=0)
    leftovers, rss = host_leftovers(), peak_rss_mb()

    with case_context(case):
        tasks.run_evaluate.apply(args=[run.pk])

    run.refresh_from_db()
    assert TOKEN not in run.error + run.traceback + str(run.record)
    if case.expect:
        assert run.status == Run.Status.FAILED and run.user_error, run.error
        assert case.expect in run.error
        assert len(run.error.encode()) < MESSAGE_BYTES
        assert len(run.traceback) <= 16_000
        assert run.limit_hit == case.limit
        assert run.attempt == 1  # the submitter's error: charged once, never retried
    else:
        assert run.status == Run.Status.FINISHED, run.error
    assert peak_rss_mb() - rss < WORKER_RSS_BUDGET_MB
    assert host_leftovers() - leftovers == set()


@pytest.fixture
def timed_tasks():
    """Each run's task through the real sandbox, its wall time and the sandbox starts counted;
    scoring stood in for (these tests are about the masks' time)."""
    import time
    from unittest import mock

    import evaluator.sandbox.jobs as sandbox
    from submissions import execution
    from tests.factories import make_record

    starts, seconds = [], []
    real = sandbox._run_child

    def counted(inputs, jobs, *args, **kwargs):
        starts.append(len(jobs))
        return real(inputs, jobs, *args, **kwargs)

    def run_all(submission):
        for run in submission.runs.order_by("seed", "compression"):
            began = time.monotonic()
            tasks.run_evaluate.apply(args=[run.pk])
            seconds.append(time.monotonic() - began)

    execution._batches.clear()
    with mock.patch.object(sandbox, "_run_child", side_effect=counted), \
            mock.patch.object(execution, "batchable", return_value=False), \
            mock.patch.object(execution, "score_run", side_effect=lambda ctx, source, c, s, masks, **kw:
                              make_record(compression=c, seed=s)):
        yield run_all, starts, seconds
    execution._batches.clear()


def test_a_strategy_that_fails_every_sibling_just_under_the_budget_costs_each_job_once(
        alice, benchmarks, strategy_upload, monkeypatch, timed_tasks):
    run_all, starts, seconds = timed_tasks
    monkeypatch.setenv("PRUNEBOARD_SANDBOX_TIMEOUT", "1")
    upload = strategy_upload(batch_abuse(sleep=0.5).encode(), "abuse.py")
    submission, _ = services.submission_create(user=alice, upload=upload, name="Abuse",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run_all(submission)
    assert starts == [21]  # one sandbox; each job attempted once (it was 21 + 20 + ... + 1 = 231)
    failed = submission.runs.filter(status=Run.Status.FAILED)
    assert failed.count() == 20 and all(r.user_error and "not this one" in r.error for r in failed)
    assert sum(seconds) < 21 * 1 + 30  # at most each job's budget once, plus one start


def test_an_honest_slow_strategy_finishes_every_run_and_each_task_stays_within_its_window(
        alice, benchmarks, strategy_upload, monkeypatch, timed_tasks):
    from evaluator.sandbox.limits import Limits

    run_all, starts, seconds = timed_tasks
    monkeypatch.setenv("PRUNEBOARD_SANDBOX_TIMEOUT", "1")
    monkeypatch.setenv("PRUNEBOARD_SANDBOX_BATCH_SECONDS", "3")
    upload = strategy_upload(batch_abuse(sleep=0.5, then="return super().model_masks()").encode(),
                             "slow.py")
    submission, _ = services.submission_create(user=alice, upload=upload, name="Slow",
                                               benchmarks=[benchmarks["digits-mlp"]])
    run_all(submission)
    assert {r.status for r in submission.runs.all()} == {Run.Status.FINISHED}
    assert sum(starts[1:]) < sum(starts) and 3 <= len(starts) <= 8  # batches cut by the window
    limits = Limits.from_environment()
    assert max(seconds) < limits.startup_seconds + limits.window  # a turn is bounded in time
    assert max(seconds) < 3 + 15
