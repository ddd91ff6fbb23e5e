"""The fill-in respects both sides: the after-training boards complete first, researchers' runs
still start first, and the fill-in keeps PRUNEBOARD_FILLIN_SHARE of the dispatches while both wait."""

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from submissions import dispatch, services, tasks
from submissions.models import Rerun, Run
from submissions.queue_order import head
from tests.factories import make_record

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One worker process of the embedded default behind a stand-in broker: it takes the oldest
    message, runs it to the end, and the dispatcher refills the broker."""

    def __init__(self):
        self.sent = []

    def send(self, args, queue, **limits):
        self.sent.append(args[0])

    def run_next(self) -> Run:
        pk = next(pk for pk in self.sent if Run.objects.get(pk=pk).status == Run.Status.QUEUED)
        run, token = services.run_start(pk, host="w1")
        services.run_record_result(run=run, record=make_record(), token=token)
        return Run.objects.select_related("submission").get(pk=pk)


@pytest.fixture
def worker(settings):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 1
    settings.PRUNEBOARD_FILLIN_SHARE = 0.25
    fake = Worker()
    with mock.patch.object(tasks.run_evaluate, "apply_async", side_effect=fake.send), \
            mock.patch.object(tasks.rerun_evaluate, "apply_async", side_effect=fake.send), \
            mock.patch.object(dispatch, "broker_count", side_effect=lambda q: 0):
        yield fake


@pytest.fixture
def upload(benchmarks, strategy_upload):
    n = iter(range(1000))

    def make(user):
        upload = strategy_upload(b"%s\n# %d\n" % (strategy_upload().read(), next(n)))
        return services.submission_create(user=user, upload=upload, name=f"{user} {next(n)}",
                                          benchmarks=[benchmarks["digits-mlp"]])[0]
    return make


def is_fill_in(pk) -> bool:
    return Run.objects.get(pk=pk).submission.owner_id is None


def test_the_after_training_boards_fill_in_before_any_other_tracks(benchmarks):
    targets = [benchmarks["digits-mlp/init"], benchmarks["mnist1d-cnn/long"], benchmarks["digits-mlp"],
               benchmarks["mnist1d-cnn"]]
    services.baseline_ensure("random", targets)
    services.baseline_ensure("snip", targets)
    tracks = [Run.objects.get(pk=i.pk).benchmark.track for i in dispatch.waiting("cpu")]
    assert tracks == ["after"] * 84 + ["init"] * 42 + ["long"] * 42


def test_within_the_after_training_boards_every_methods_seed_0_comes_first(benchmarks):
    after = [benchmarks["digits-mlp"], benchmarks["digits-cnn"]]
    services.baseline_ensure("random", after)
    services.baseline_ensure("global-mag-weight", after)
    runs = [Run.objects.get(pk=i.pk) for i in dispatch.waiting("cpu")]
    assert [r.seed for r in runs] == [0] * 28 + [1] * 28 + [2] * 28
    # seed 0 covers every method at every compression on both boards before seed 1 begins
    assert {(r.submission_id, r.benchmark_id, r.compression) for r in runs[:28]} == \
        {(r.submission_id, r.benchmark_id, r.compression) for r in runs[28:56]}


def test_a_researchers_run_starts_first_when_capacity_frees(benchmarks, alice, upload, worker):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    dispatch.runs_dispatch()
    for _ in range(5):  # the fill-in has had the worker to itself
        worker.run_next()
        dispatch.runs_dispatch()
    mine = upload(alice)
    worker.run_next()  # capacity frees: the broker's place goes to alice
    dispatch.runs_dispatch()
    assert Run.objects.get(pk=worker.sent[-1]).submission == mine


def test_under_a_continuous_stream_of_researchers_runs_the_fill_in_keeps_its_share(
        benchmarks, alice, bob, upload, worker):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    upload(alice)
    dispatch.runs_dispatch()
    done = []
    for n in range(40):
        if n % 8 == 0:  # researchers keep uploading: their runs never run out
            upload(bob if n % 16 else alice)
        done.append(worker.run_next())
        dispatch.runs_dispatch()
    fill_in = [r.submission.owner_id is None for r in done]
    assert Run.objects.filter(status=Run.Status.QUEUED, submission__owner__isnull=False).exists()
    assert sum(fill_in) == 10  # one in every 4: 25 % of the worker's runs
    assert all(sum(fill_in[i:i + 4]) >= 1 for i in range(0, 40, 4))
    assert not any(fill_in[i] and fill_in[i + 1] for i in range(39))  # never two in a row: researchers first


def test_with_no_share_the_fill_in_waits_for_every_researchers_run(benchmarks, alice, upload, worker, settings):
    settings.PRUNEBOARD_FILLIN_SHARE = 0
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    upload(alice)
    dispatch.runs_dispatch()
    done = []
    for _ in range(21):
        done.append(worker.run_next())
        dispatch.runs_dispatch()
    assert all(r.submission.owner == alice for r in done)


def test_the_fill_in_has_the_whole_worker_when_no_researchers_run_waits(benchmarks, worker):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    dispatch.runs_dispatch()
    for _ in range(6):
        worker.run_next()
        dispatch.runs_dispatch()
    assert len(worker.sent) == 7 and all(is_fill_in(pk) for pk in worker.sent)


def test_the_queues_head_is_the_start_of_its_whole_order(benchmarks, alice, bob, upload, worker):
    """The dispatcher reads only the head; it is exactly where the whole order begins, checks,
    turns, re-runs and the fill-in's share included."""
    services.baseline_ensure("random", [benchmarks["digits-mlp"], benchmarks["digits-mlp/init"]])
    first = upload(alice)
    dispatch.runs_dispatch()
    worker.run_next()
    dispatch.runs_dispatch()
    upload(alice), upload(bob)
    finished = first.runs.filter(status=Run.Status.FINISHED).first()
    services.rerun_request(run=finished, user=bob)
    Rerun.objects.create(run=finished, requested_by=None)  # the platform's check: fill-in
    whole = head("cpu")
    assert len(whole) == Run.objects.filter(status=Run.Status.QUEUED, queued_at__isnull=True).count() + 2
    for n in (1, 2, 3, 5, 8, 13, 40, 100):
        assert head("cpu", n) == whole[:n]
    assert head("gpu", 5) == [] and head("cpu", 0) == []


@pytest.mark.parametrize("value, says", [("0.9", "must be from 0"), ("-0.1", "must be from 0"),
                                         ("a quarter", "is not a number"), ("nan", "must be from 0")])
def test_a_share_out_of_range_stops_the_process_and_names_it(value, says):
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                                 "PRUNEBOARD_FILLIN_SHARE": value,
                                 "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-settings-test"})
    assert result.returncode != 0
    assert "PRUNEBOARD_FILLIN_SHARE" in result.stderr and says in result.stderr
