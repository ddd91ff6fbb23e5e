"""Which benchmarks this server can run, from what its workers report.

Each Celery worker writes a heartbeat row (WorkerHeartbeat): its queues, its device, and for each
benchmark of those queues whether its weights are present and verified and its data present
(evaluator.availability). It writes it when it is ready and every
PRUNEBOARD_WORKER_HEARTBEAT_SECONDS after, from a thread of its own (so a long run does not
hold it up); a worker not heard from for PRUNEBOARD_WORKER_STALE_SECONDS no longer counts.

A benchmark is *runnable* when some live worker of its queue reports its weights verified
(with the SHA-256 the site pins, where it pins one) and its data present. Only runnable
benchmarks are offered on the submit form and accepted by the API; the others are listed as
"not available on this server" with what is missing: no worker for its queue, no weights, no
data, or, before any worker has reported, that the site is waiting for one."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection
from django.utils import timezone

from evaluator.availability import benchmark_problems
from evaluator.benchmarks import list_benchmarks
from leaderboard.models import Benchmark

from .models import WorkerHeartbeat

log = logging.getLogger(__name__)


class BenchmarkUnavailable(ValueError):
    """A submission names a benchmark this server cannot run now (the API answers 400)."""


@dataclass(frozen=True)
class Availability:
    runnable: bool
    missing: str  # "" when runnable; else what is missing, for the page and the error
    waiting: bool = False  # no worker has reported yet (or none is live)


# --- the worker's side


def worker_report(queues) -> dict:
    """What this machine can run of the benchmarks of `queues`: {name: {weights, data, weights_sha256}}."""
    report = {}
    for benchmark in list_benchmarks():
        if benchmark.queue in queues:
            p = benchmark_problems(benchmark, data_root=settings.PRUNEBOARD_DATA_ROOT)
            report[benchmark.name] = {"weights": p.weights or "", "data": p.data or "",
                                      "weights_sha256": p.weights_sha256 or ""}
    return report


def worker_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def worker_heartbeat(*, hostname: str, queues, device: str, capabilities: dict,
                     started=None) -> WorkerHeartbeat:
    """Write the worker's row. An UPDATE, or an INSERT the first time: single statements, so
    that on SQLite each waits for the write lock (its busy timeout) instead of failing at once
    as a read-then-write transaction does when another process wrote in between."""
    now = timezone.now()
    fields = {"queues": sorted(queues), "device": device, "capabilities": capabilities, "last_seen": now}
    if started is not None:
        fields["started"] = started
    if not WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields):
        try:
            WorkerHeartbeat.objects.create(hostname=hostname, **{"started": now, **fields})
        except IntegrityError:  # another process of the same name wrote first
            WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields)
    return WorkerHeartbeat.objects.get(hostname=hostname)


ALIVE = settings.VAR_DIR / "worker-alive"


class WorkerBeat:
    """The worker's heartbeat thread: reports at once, then every PRUNEBOARD_WORKER_HEARTBEAT_SECONDS
    (the capabilities are probed again each time: weights removed or replaced show within one beat)."""

    def __init__(self, hostname: str, queues, interval: float | None = None):
        self.hostname, self.queues = hostname, sorted(queues)
        self.interval = interval or settings.PRUNEBOARD_WORKER_HEARTBEAT_SECONDS
        self.started = timezone.now()
        self.device = worker_device()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def beat(self) -> None:
        worker_heartbeat(hostname=self.hostname, queues=self.queues, device=self.device,
                         capabilities=worker_report(self.queues), started=self.started)
        ALIVE.touch()  # the container's health check: a worker that reached the database lately

    def _run(self) -> None:
        try:
            while True:
                try:
                    close_old_connections()
                    self.beat()
                except DatabaseError as exc:  # the database blinked: the next beat tries again
                    log.warning("worker heartbeat failed (%s)", exc)
                if self._done.wait(self.interval):
                    return
        finally:
            connection.close()

    def start(self) -> WorkerBeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)


# --- the site's side


def live_workers():
    stale = timezone.now() - timedelta(seconds=settings.PRUNEBOARD_WORKER_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(last_seen__gte=stale)


def availability() -> dict[str, Availability]:
    """{benchmark name: Availability} for every benchmark of the site."""
    workers = list(live_workers())
    result = {}
    for benchmark in Benchmark.objects.all():
        result[benchmark.name] = _availability(benchmark, workers)
    return result


def _availability(benchmark: Benchmark, workers: list[WorkerHeartbeat]) -> Availability:
    if not workers:
        return Availability(False, "waiting for a worker (none has reported in the last "
                                   f"{settings.PRUNEBOARD_WORKER_STALE_SECONDS} s)", waiting=True)
    queue_workers = [w for w in workers if benchmark.queue in w.queues]
    if not queue_workers:
        return Availability(False, f"no worker for its queue ({benchmark.queue})")
    reports = [w.capabilities[benchmark.name] for w in queue_workers if benchmark.name in w.capabilities]
    if not reports:
        return Availability(False, "no worker of its queue knows it (they run another version of the code)")
    for r in reports:
        if not r.get("weights") and not r.get("data") and _pinned_ok(benchmark, r):
            return Availability(True, "")
    # What is missing, in words short enough for the home page (a worker's own message, with
    # its paths, stays in its heartbeat row: the admin shows it).
    weighted = [r for r in reports if not r.get("weights")]
    if not weighted:
        return Availability(False, "no weights (no worker of its queue has them verified)")
    pinned = [r for r in weighted if _pinned_ok(benchmark, r)]
    if not pinned:
        return Availability(False, f"no weights (the workers' have SHA-256 "
                                   f"{weighted[0].get('weights_sha256', '')[:12]}…; the site pins "
                                   f"{benchmark.weights_sha256[:12]}…)")
    return Availability(False, f"no data (no worker of its queue has the {benchmark.dataset} dataset)")


def _pinned_ok(benchmark: Benchmark, report: dict) -> bool:
    return not benchmark.weights_sha256 or report.get("weights_sha256") == benchmark.weights_sha256


def runnable_names() -> set[str]:
    return {name for name, a in availability().items() if a.runnable}


def require_runnable(benchmarks, found: dict[str, Availability] | None = None) -> None:
    """Raise BenchmarkUnavailable naming each benchmark this server cannot run now, and why."""
    found = availability() if found is None else found
    refused = [f"{b.name} is not available on this server: {found[b.name].missing}"
               for b in benchmarks if not found.get(b.name, Availability(False, "unknown")).runnable]
    if refused:
        raise BenchmarkUnavailable("; ".join(refused))
