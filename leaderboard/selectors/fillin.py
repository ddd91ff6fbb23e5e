"""The built-in methods' runs still to come, and when they will have come."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from submissions.models import Run

from ..models import Benchmark, Method
from .board import FINISHED

# --- fill-in: the built-in methods' runs still to come ----------------------------------------
# While the baselines and reference methods fill in (make run seeds them), a ranking that
# compares against them is provisional: a built-in curve still missing points can move every
# rank. The ETA is measured, not guessed: the median duration of the queue's latest finished
# runs x the runs still to come / the live workers of the queue (optimistic: researchers' runs
# go first, README "Delivery guarantees").

BUILTIN_RUN = Q(submission__method__is_baseline=True) | Q(submission__method__is_reference=True)
DURATION_SAMPLE = 200  # the latest finished runs whose median duration is taken


@dataclass(frozen=True)
class FillIn:
    missing: int  # built-in runs queued or running at the compared points
    total: int  # built-in runs at those points
    median_run_s: float | None  # median seconds of the queue's latest finished runs; None: none yet
    workers: int  # live workers of the benchmark's queue
    eta_s: float | None  # median_run_s x missing / workers; None without a worker or a measured run

    @property
    def provisional(self) -> bool:
        return self.missing > 0


def builtin_fill_in(*, benchmarks, scored_only: bool = True, compressions=None) -> dict[int, FillIn]:
    """benchmark id -> its FillIn. `scored_only`: only the compressions the rankings compare
    (above 1x); else every built-in run (the home page's progress). `compressions`: only those
    (a ranking at one compression)."""
    from statistics import median

    from submissions.capabilities import live_workers

    benchmarks = list(benchmarks)
    runs = Run.objects.filter(benchmark__in=benchmarks).filter(BUILTIN_RUN)
    if scored_only:
        runs = runs.filter(compression__gt=1)
    if compressions is not None:
        runs = runs.filter(compression__in=[float(c) for c in compressions])
    counts = {row["benchmark_id"]: row for row in runs.order_by().values("benchmark_id").annotate(
        total=Count("id"), missing=Count("id", filter=Q(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])))}
    queues = {b.queue for b in benchmarks}
    workers = {q: 0 for q in queues}
    for worker_queues in live_workers().values_list("queues", flat=True):
        for q in set(worker_queues or []) & queues:
            workers[q] += 1
    medians = {}
    for q in queues:
        spans = (Run.objects.filter(benchmark__queue=q, status=FINISHED, started__isnull=False,
                                    finished__isnull=False).order_by("-finished")
                 .values_list("started", "finished")[:DURATION_SAMPLE])
        seconds = [(end - start).total_seconds() for start, end in spans if end >= start]
        medians[q] = median(seconds) if seconds else None
    out = {}
    for b in benchmarks:
        c = counts.get(b.pk, {"total": 0, "missing": 0})
        m, w = medians[b.queue], workers[b.queue]
        out[b.pk] = FillIn(missing=c["missing"], total=c["total"], median_run_s=m, workers=w,
                           eta_s=m * c["missing"] / w if m is not None and w else None)
    return out


def builtin_methods_without_results(*, benchmark: Benchmark, ranked_ids) -> list[Method]:
    """The baselines and reference methods with no finished run on the benchmark (not in the
    ranking): the board still names them, "no results yet"."""
    return list(Method.objects.filter(Q(is_baseline=True) | Q(is_reference=True))
                .exclude(pk__in=list(ranked_ids)).order_by("-is_baseline", "created", "id"))
