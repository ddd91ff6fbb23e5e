"""A worker times its queues' dense frontier once per machine when it starts: stored per network,
skipped where the machine's rows exist, and a failure logs and leaves the worker running."""

import logging

import pytest
import torch
from django.db import DatabaseError

from evaluator.environment import cpu_name
from evaluator.frontier import WIDTHS
from leaderboard.models import Benchmark, FrontierLatency
from submissions.services import frontier_timing
from submissions.services.frontier_timing import frontier_timing_at_start, frontier_timing_measure

pytestmark = pytest.mark.django_db

MACHINE = f"{cpu_name()} (cpu)"


@pytest.fixture
def only_digits_mlp(benchmarks):
    """The worker's queue holds one embedded benchmark with a frontier (and its tracks)."""
    Benchmark.objects.exclude(base="digits-mlp").exclude(name="digits-mlp").update(embedded=False)
    return benchmarks["digits-mlp"]


def test_the_service_times_each_frontier_network_once_per_machine(only_digits_mlp):
    spent = frontier_timing_measure(queues=["cpu"], hostname="cpu@w1", device="cpu")
    assert list(spent) == ["digits-mlp"] and spent["digits-mlp"] > 0  # a track shares its base's
    rows = list(FrontierLatency.objects.order_by("network"))
    assert sorted(r.network for r in rows) == sorted(f"digits-mlp@{w:g}" for w in WIDTHS["digits-mlp"][:-1])
    for row in rows:
        assert (row.benchmark, row.machine, row.torch_version, row.threads, row.hostname) == (
            only_digits_mlp, MACHINE, torch.__version__, 1, "cpu@w1")
        assert row.ms_b1 > 0 and row.ms_b64 > 0 and row.dense_ms_b64 > 0 and row.repetitions == 30
    # hidden 32 is 89x fewer MACs than hidden 512: faster at batch 64 on any machine
    smallest = FrontierLatency.objects.get(network="digits-mlp@32")
    assert smallest.speedup_b64 > 1

    # a restart, or a second worker on the machine: nothing timed again, nothing rewritten
    before = {r.pk: (r.ms_b64, r.measured) for r in rows}
    assert frontier_timing_measure(queues=["cpu"], device="cpu") == {"digits-mlp": None}
    assert {r.pk: (r.ms_b64, r.measured) for r in FrontierLatency.objects.all()} == before


def test_other_latency_threads_are_another_measurement(only_digits_mlp, monkeypatch):
    frontier_timing_measure(queues=["cpu"], device="cpu")
    monkeypatch.setenv("PRUNEBOARD_LATENCY_THREADS", "2")
    assert frontier_timing_measure(queues=["cpu"], device="cpu")["digits-mlp"] > 0
    assert sorted(FrontierLatency.objects.order_by("threads").values_list("threads", flat=True).distinct()) == [1, 2]
    # a queue without embedded benchmarks (the control worker's) times nothing
    assert frontier_timing_measure(queues=["control"], device="cpu") == {}


def test_a_failing_benchmark_is_logged_and_the_others_are_still_timed(benchmarks, monkeypatch, caplog):
    real = frontier_timing.frontier_latencies

    def broken_for_digits_cnn(name, **kwargs):
        if name == "digits-cnn":
            raise RuntimeError("CUDA error: out of memory")
        return real(name, **kwargs)

    monkeypatch.setattr(frontier_timing, "frontier_latencies", broken_for_digits_cnn)
    with caplog.at_level(logging.ERROR):
        spent = frontier_timing_measure(queues=["cpu"], device="cpu")
    assert set(spent) == {"digits-mlp", "mnist1d-cnn"}
    assert "frontier latency of digits-cnn" in caplog.text and "out of memory" in caplog.text
    assert not FrontierLatency.objects.filter(benchmark__name="digits-cnn").exists()
    # the next start times what is missing, and only that
    monkeypatch.setattr(frontier_timing, "frontier_latencies", real)
    again = frontier_timing_measure(queues=["cpu"], device="cpu")
    assert again["digits-mlp"] is None and again["mnist1d-cnn"] is None and again["digits-cnn"] > 0


def test_the_worker_start_step_never_raises(only_digits_mlp, monkeypatch, caplog):
    def database_away(**_):
        raise DatabaseError("could not connect to server")

    monkeypatch.setattr(frontier_timing, "frontier_timing_measure", database_away)
    with caplog.at_level(logging.ERROR):
        assert frontier_timing_at_start(queues=["cpu"], hostname="cpu@w1") == {}
    assert "frontier latency not measured at worker start" in caplog.text
    assert "could not connect to server" in caplog.text


def test_the_celery_signal_times_the_worker_s_queues_and_can_be_switched_off(only_digits_mlp, settings):
    from pruneboard.celery import app, time_the_frontier

    class Consumer:  # what worker_ready sends: the consumer, with the app and the worker's name
        hostname = "cpu@w1"

    Consumer.app = app
    settings.PRUNEBOARD_FRONTIER_LATENCY = False
    time_the_frontier(sender=Consumer())
    assert not FrontierLatency.objects.exists()
    settings.PRUNEBOARD_FRONTIER_LATENCY = True
    time_the_frontier(sender=Consumer())
    assert set(FrontierLatency.objects.values_list("hostname", flat=True)) == {"cpu@w1"}


def test_on_cuda_the_timing_runs_in_a_spawned_process_and_stores_the_same_rows(only_digits_mlp):
    # CPU here (no GPU in the tests): the same path a CUDA worker takes, forced
    spent = frontier_timing_measure(queues=["cpu"], device="cpu", fresh_process=True)
    assert spent["digits-mlp"] > 0
    assert FrontierLatency.objects.filter(machine=MACHINE, threads=1).count() == len(WIDTHS["digits-mlp"]) - 1
