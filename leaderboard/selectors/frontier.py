"""A board's dense frontier and each method's distance to it at its own cost (the arithmetic:
evaluator/frontier.py; the frontier is stored on the Benchmark by `benchmarks_sync`), and its
latency on the machine the board's runs were timed on (FrontierLatency rows, written by workers
at start: submissions.services.frontier_timing)."""

from __future__ import annotations

from dataclasses import dataclass

from evaluator.frontier import Frontier, MethodDistance, method_distance
from submissions.models import LISTED_RUN, Run
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, FrontierLatency
from .board import FINISHED


def benchmark_frontier(*, benchmark: Benchmark) -> Frontier | None:
    """The board's frontier; None where the benchmark has none (or no network of it has a top-1)."""
    frontier = Frontier.from_dict(benchmark.frontier)
    if frontier is None or not any(p.top1 is not None for p in frontier.points):
        return None
    return frontier


# This process's distances per benchmark id, with the ranking key and the stored frontier they
# were computed under (frontier_distances's `ranking_key`).
_LOCAL: dict[int, tuple[str, dict, dict[int, MethodDistance]]] = {}


def frontier_distances(*, benchmark: Benchmark, counted: dict[int, int] | None = None,
                       frontier: Frontier | None = None, methods=None,
                       ranking_key: str | None = None) -> dict[int, MethodDistance]:
    """method id -> its distance to the frontier at each compression (mean over its seeds' runs
    of top-1 minus the best frontier network's within the run's nonzero parameters, and within
    its nonzero MACs), for the listed methods' counted versions (as the ranking counts them).
    {} for a board without a frontier. Pass `counted` (counted_submissions) when already read;
    `methods` (ids): only those (the rows a page shows), else every counted method.
    `ranking_key` (BoardState.ranking_key: it follows the counted versions, their finished runs
    and the methods' listing, all these distances read): the methods' distances already
    computed in this process under that key and the same stored frontier are reused, the
    others computed and kept."""
    frontier = frontier or benchmark_frontier(benchmark=benchmark)
    if frontier is None:
        return {}
    if counted is None:
        counted = counted_submissions(benchmark=benchmark)
    wanted = None if methods is None else list(methods)
    known: dict[int, MethodDistance] = {}
    if ranking_key is not None:
        local = _LOCAL.get(benchmark.pk)
        if local is not None and local[0] == ranking_key and local[1] == benchmark.frontier:
            known = local[2]
        else:
            _LOCAL[benchmark.pk] = (ranking_key, benchmark.frontier, known)
    todo = None if wanted is None else [m for m in wanted if m in counted and m not in known]
    distances = _distances(benchmark, frontier, list(counted.values()) if todo is None
                           else [counted[m] for m in todo]) if todo is None or todo else {}
    if ranking_key is None:
        return distances
    known.update(distances)
    return distances if wanted is None else {m: known[m] for m in wanted if m in known}


def _distances(benchmark: Benchmark, frontier: Frontier, submissions: list[int]) -> dict[int, MethodDistance]:
    """method id -> its MethodDistance, from the finished runs of `submissions` (listed)."""
    runs: dict[int, list[tuple]] = {}
    for method_id, *run in (Run.objects.filter(benchmark=benchmark, status=FINISHED, top1__isnull=False,
                                               submission__in=submissions).filter(LISTED_RUN)
                            .values_list("submission__method_id", "compression", "top1", "actual_compression",
                                         "speedup")):
        runs.setdefault(method_id, []).append(tuple(run))
    return {method_id: method_distance(frontier, rows) for method_id, rows in runs.items()}


@dataclass(frozen=True)
class FrontierTiming:
    """The frontier's measured speedups on one machine: network name -> dense / its milliseconds
    at batch 64 (as a run's measured_speedup). Empty `speedups`: not timed on that machine."""

    machine: str
    speedups: dict[str, float]
    torch_version: str = ""
    threads: int = 0


def frontier_timing(*, benchmark: Benchmark, machine: str) -> FrontierTiming:
    """The board's frontier as timed on `machine` (a run's latency_device); a track's board takes
    its base benchmark's rows. Where the machine was timed with several torch versions or thread
    counts, the newest measurement's."""
    rows = list(FrontierLatency.objects.filter(benchmark__name=benchmark.base or benchmark.name, machine=machine)
                .order_by("-measured", "-pk"))
    if not rows:
        return FrontierTiming(machine, {})
    newest = (rows[0].torch_version, rows[0].threads)
    return FrontierTiming(machine, {r.network: r.speedup_b64 for r in rows if (r.torch_version, r.threads) == newest},
                          *newest)
