"""The dense frontier's latency on this worker's machine, measured once when the worker starts.

A run's measured speedup is dense over pruned milliseconds on the machine that ran it; the
frontier's is dense over each smaller dense network's (evaluator.frontier.frontier_latencies),
which the board can only draw beside the runs when it was timed on the same machine. So each
worker, once it is ready and before it takes a run, times the frontier of every embedded benchmark
of its queues on the device its runs use, with the threads its runs are timed with, and writes a
FrontierLatency row per network. A machine, torch version and thread count that already has every
row of a benchmark is skipped, so restarts and a second worker on the machine cost nothing.

It runs in the worker's own process rather than as a control-queue task: the figure belongs to
the machine that runs the benchmark's runs (the control worker may be elsewhere), and timing while
no run computes on the same cores keeps both the frontier's and the runs' medians honest. It costs
a few seconds per benchmark (logged); any failure is logged and the worker goes on."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from evaluator.frontier import frontier_latencies, get_frontier
from leaderboard.models import Benchmark, FrontierLatency

log = logging.getLogger(__name__)


def frontier_machine(device) -> dict:
    """The key this machine's rows carry: machine (as a run's latency_device), torch, threads."""
    import torch

    from evaluator.environment import machine_name
    from evaluator.latency import latency_threads

    device = torch.device(device)
    return {"machine": f"{machine_name(device)} ({device.type})", "torch_version": torch.__version__,
            "threads": latency_threads()}


def _networks(name: str) -> list[str]:
    """The frontier networks frontier_latencies times for `name` (those of a width, not its own)."""
    frontier = get_frontier(name)
    return [p.name for p in (frontier.points if frontier else ()) if p.width is not None and not p.weights_of]


def in_fresh_process(name: str, *, device) -> dict:
    """frontier_latencies in a process of its own (spawned: a fresh interpreter, not a fork). On
    CUDA, timing in the worker's own process would leave it holding a CUDA context (GPU memory,
    for the worker's whole life) and its prefork parent forking run processes from a process
    that ran on the GPU; the spawned process takes both with it when it ends."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(frontier_latencies, name, device=str(device)).result()


def frontier_timing_measure(*, queues, hostname: str = "", device=None, measure=None,
                            fresh_process: bool | None = None) -> dict[str, float | None]:
    """Time the dense frontier of each embedded benchmark of `queues` on `device` (default: the
    device runs use) and store it, once per machine, torch version and latency threads.
    `measure(name, device=...)`: evaluator.frontier.frontier_latencies unless given, in this
    process, or (`fresh_process`; default: on CUDA) in a spawned one (in_fresh_process).
    Returns {benchmark: seconds the measurement took, or None where it was already stored}.
    A benchmark whose measurement fails is logged and left out; the others go on."""
    import torch

    from evaluator.finetune import default_device

    device = device or default_device()
    if fresh_process is None:
        fresh_process = torch.device(device).type == "cuda"
    measure = measure or (in_fresh_process if fresh_process else frontier_latencies)
    key = frontier_machine(device)
    bases = (Benchmark.objects.filter(embedded=True, queue__in=list(queues))
             .values_list("base", "name").order_by("position", "name"))
    names = list(dict.fromkeys(base or name for base, name in bases))
    spent: dict[str, float | None] = {}
    for name in names:
        try:
            spent_here = _measure_one(name, key, hostname, device, measure)
        except Exception:  # noqa: BLE001 - a worker starts whatever its frontier timing does
            log.exception("frontier latency of %s on %s not measured", name, key["machine"])
            continue
        if spent_here is not False:
            spent[name] = spent_here
    return spent


def _measure_one(name: str, key: dict, hostname: str, device, measure) -> float | None | bool:
    """Seconds spent; None: already stored; False: no such benchmark row or no frontier to time."""
    networks = _networks(name)
    if not networks:
        return False
    # Workers starting together (docker-compose --scale) take turns on the benchmark's row (on
    # PostgreSQL; SQLite ignores the lock): the second finds the first's rows and skips, instead
    # of both timing at once on the same cores.
    with transaction.atomic():
        benchmark = Benchmark.objects.select_for_update().filter(name=name).first()
        if benchmark is None:
            return False
        stored = set(FrontierLatency.objects.filter(benchmark=benchmark, network__in=networks, **key)
                     .values_list("network", flat=True))
        if stored == set(networks):
            return None
        t0 = time.perf_counter()
        latencies = measure(name, device=device)
        seconds = time.perf_counter() - t0
        for network, latency in latencies.items():
            if f"{latency.device_name} ({latency.device})" != key["machine"] or latency.threads != key["threads"]:
                raise ValueError(f"{network} was timed on {latency.device_name} ({latency.device}) with "
                                 f"{latency.threads} threads, not on {key['machine']} with {key['threads']}")
            FrontierLatency.objects.update_or_create(
                benchmark=benchmark, network=network, **key,
                defaults={"ms_b1": latency.pruned_ms[1], "ms_b64": latency.pruned_ms[64],
                          "dense_ms_b1": latency.dense_ms[1], "dense_ms_b64": latency.dense_ms[64],
                          "repetitions": latency.repetitions, "hostname": hostname[:255]})
    log.info("frontier latency of %s on %s (torch %s, %d threads): %d networks timed in %.1f s",
             name, key["machine"], key["torch_version"], key["threads"], len(latencies), seconds)
    return seconds


def frontier_timing_at_start(*, queues, hostname: str = "") -> dict[str, float | None]:
    """The worker's start-up step (pruneboard.celery): frontier_timing_measure, never raising."""
    from django.conf import settings

    if not settings.PRUNEBOARD_FRONTIER_LATENCY:
        return {}
    t0 = time.perf_counter()
    try:
        spent = frontier_timing_measure(queues=queues, hostname=hostname)
    except Exception:  # noqa: BLE001 - the database away, torch broken: runs still come first
        log.exception("frontier latency not measured at worker start")
        return {}
    if any(s is not None for s in spent.values()):
        log.info("frontier latency measured at worker start in %.1f s", time.perf_counter() - t0)
    return spent
