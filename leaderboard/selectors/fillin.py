"""The built-in methods' runs still to come, and when they will have come."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from submissions.models import Run
from submissions.queue_order import fill_in_every, track_rank

from ..models import Benchmark, Method
from .board import FINISHED

# --- fill-in: the built-in methods' runs still to come ----------------------------------------
# While the baselines and reference methods fill in (make run seeds them), a ranking that
# compares against them is provisional: a built-in curve still missing points can move every
# rank. The ETA is measured, not guessed. The fill-in goes track by track (the after-training
# boards first), seed by seed over every benchmark of the track (submissions.queue_order), so a
# board completes near the end of its track's fill-in on its queue: the time to go is the
# queue's built-in runs still to come on its track and the tracks before it, each at the median
# duration of its own benchmark's latest finished runs (the queue's, before its first), plus the
# researchers' runs dispatched among them (the fill-in keeps one dispatch in every k =
# 1 / PRUNEBOARD_FILLIN_SHARE while researchers' runs wait: up to k - 1 of theirs for each of
# its own, at the queue's median), / the queue's live workers.

BUILTIN_RUN = Q(submission__method__is_baseline=True) | Q(submission__method__is_reference=True)
DURATION_SAMPLE = 200  # the latest finished runs whose median duration is taken


@dataclass(frozen=True)
class FillIn:
    missing: int  # built-in runs queued or running at the compared points
    total: int  # built-in runs at those points
    median_run_s: float | None  # median seconds of the benchmark's latest finished runs; None: none yet
    workers: int  # live workers of the benchmark's queue
    eta_s: float | None  # queue_missing runs at their benchmarks' medians / workers; None: unknown
    queue: str = ""
    queue_missing: int = 0  # built-in runs still to come on the whole queue, every benchmark
    run_s_range: tuple[float, float] | None = None  # the least and largest median among those
    researchers_between: int = 0  # researchers' runs counted among them (the fill-in's share)

    @property
    def provisional(self) -> bool:
        return self.missing > 0


def _median_seconds(runs) -> float | None:
    from statistics import median

    # the latest finished runs by the index on (benchmark, status, finished) or (status,
    # finished), each at the worker seconds it cost (Run.seconds: a batched run's share of its
    # batch, whose runs start and finish together), or, recorded before that column, its span
    # (a run without a start is left out of the sample here)
    rows = runs.filter(status=FINISHED, finished__isnull=False).order_by(
        "-finished").values_list("seconds", "started", "finished")[:DURATION_SAMPLE]
    seconds = [cost if cost is not None else (end - start).total_seconds()
               for cost, start, end in rows if cost is not None or (start is not None and end >= start)]
    return median(seconds) if seconds else None


def builtin_fill_in(*, benchmarks, scored_only: bool = True, compressions=None) -> dict[int, FillIn]:
    """benchmark id -> its FillIn. `scored_only`: only the compressions the rankings compare
    (above 1x); else every built-in run (the home page's progress). `compressions`: only those
    (a ranking at one compression)."""
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
    # every built-in run still to come on these queues, by benchmark, at its benchmark's median
    to_come = dict(Run.objects.filter(BUILTIN_RUN, benchmark__queue__in=queues,
                                      status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
                   .order_by().values_list("benchmark_id").annotate(n=Count("id")))
    researchers = dict(Run.objects.filter(~BUILTIN_RUN, benchmark__queue__in=queues, status=Run.Status.QUEUED)
                       .order_by().values_list("benchmark__queue").annotate(n=Count("id")))
    rank_of = {pk: (queue, track_rank(track)) for pk, queue, track in
               Benchmark.objects.filter(queue__in=queues).values_list("pk", "queue", "track")}
    queue_median = {q: _median_seconds(Run.objects.filter(benchmark_id__in=[pk for pk, (queue, _) in rank_of.items()
                                                                          if queue == q])) for q in queues}
    medians = {pk: _median_seconds(Run.objects.filter(benchmark_id=pk)) or queue_median[rank_of[pk][0]]
               for pk in set(to_come) | {b.pk for b in benchmarks}}
    every = fill_in_every()
    out = {}
    for b in benchmarks:
        c = counts.get(b.pk, {"total": 0, "missing": 0})
        queue, rank = rank_of[b.pk]
        ahead = [pk for pk in to_come if rank_of[pk][0] == queue and rank_of[pk][1] <= rank]
        n = sum(to_come[pk] for pk in ahead)
        known = [medians[pk] for pk in ahead]
        seconds = sum((medians[pk] or 0.0) * to_come[pk] for pk in ahead)
        between = min(researchers.get(queue, 0), n * (every - 1) if every else researchers.get(queue, 0))
        seconds += between * (queue_median[queue] or 0.0)
        w = workers[queue]
        measured = None not in known and bool(w) and (not between or queue_median[queue] is not None)
        out[b.pk] = FillIn(missing=c["missing"], total=c["total"], median_run_s=medians[b.pk], workers=w,
                           eta_s=seconds / w if measured and n else (0.0 if measured else None),
                           queue=queue, queue_missing=n, researchers_between=between if n else 0,
                           run_s_range=(min(known), max(known)) if known and None not in known else None)
    return out


def builtin_methods_without_results(*, benchmark: Benchmark, ranked_ids) -> list[Method]:
    """The baselines and reference methods its track shows (`Track.builtins`) with no
    finished run on the benchmark (not in the ranking): the board still names them, "no results yet"."""
    from evaluator.benchmarks import get_benchmark
    from evaluator.tracks import get_track

    target = get_benchmark(benchmark.name)
    track = get_track(target.track)
    methods = Method.objects.filter(Q(is_baseline=True) | Q(is_reference=True))
    if track.builtins:  # a track that shows only some built-ins (structured, 2:4)
        methods = methods.filter(builtin_name__in=track.builtins(target))
    # the few built-ins first, the ranked ones left out here: an IN list of a board's thousands
    # of ranked ids cost the database more than the built-ins themselves
    ranked = set(ranked_ids)
    return [m for m in methods.order_by("-is_baseline", "created", "id") if m.pk not in ranked]
