"""A benchmark's ranked table, by compression and by speedup, and the cross-benchmark overview
(the formulas: leaderboard/ranking.py, described in docs/rankings.md). Rows are frozen
dataclasses: `RankedMethod` (one row of a board), `RankedAt` (ranked at one point) and
`OverviewRow` (across benchmarks)."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, replace

import pandas as pd
from django.conf import settings
from django.core.cache import cache

from submissions.models import LISTED_RUN, Run
from submissions.selectors.twins import benchmark_mask_twins
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, Method
from ..ranking import (
    Place,
    Runs,
    Score,
    common_buckets,
    compression_ranking,
    cross_benchmark,
    full_sweep,
    ranking_at_compression,
    ranking_at_speedup,
    speedup_ranking,
)
from .board import FINISHED, benchmark_curves, speedup_column
from .boardstate import BoardState, board_state
from .fillin import builtin_fill_in


@dataclass(frozen=True)
class MethodAbout:
    """Who a ranked row is."""

    method_id: int
    method: str  # its name
    slug: str
    is_baseline: bool
    is_reference: bool  # a reference method (written from its paper, built in): between the tiers

    @property
    def tier(self) -> str:
        """baseline, reference or entry."""
        return "baseline" if self.is_baseline else "reference" if self.is_reference else "entry"


class _Scored:
    """The fields of `self.scored` (a ranking.Score), read on the row itself: what the table and
    the API show by default."""

    scored: Score

    score = property(lambda self: self.scored.score)
    interval = property(lambda self: self.scored.interval)
    half_width = property(lambda self: self.scored.half_width)
    n = property(lambda self: self.scored.n)
    complete = property(lambda self: self.scored.complete)
    missing = property(lambda self: self.scored.missing)
    rank = property(lambda self: self.scored.rank)
    band = property(lambda self: self.scored.band)

    def by(self, ranking: str) -> Score:
        """Its Score in the ranking named ("compression" or "speedup"); a row of one ranking
        (RankedAt) has only `scored`."""
        return self.scored


@dataclass(frozen=True)
class Cell:
    """A method's finished runs at one compression, over seeds."""

    mean: float  # top-1, a fraction
    std: float  # sample standard deviation over seeds (0 with one)
    n: int  # seeds (runs)
    abs_error: float | None  # mean |requested - actual| / requested compression
    effective: float | None  # mean effective compression (only weights on an input-to-output path)
    disconnected: int  # runs whose network has no input-to-output path
    theoretical: float | None = None  # mean theoretical speedup (flops / flops_nz); None: not finite
    measured: float | None = None  # mean measured speedup at batch 64; None where no run was timed


@dataclass(frozen=True)
class RankedMethod(MethodAbout, _Scored):
    """One method's row of a benchmark's ranked table (benchmark_ranking)."""

    created_order: float  # the method's creation, as a dense rank (ties go to the earliest)
    cells: tuple[Cell | None, ...]  # per compression of the benchmark, in order; None: no run
    n_min: int  # seeds at its compression with the fewest
    n_max: int  # seeds at its compression with the most
    runs: int  # finished runs counted
    abs_compression_error: float | None  # over its runs, weighted by runs
    unsandboxed: bool  # some run computed without the sandbox, as the operator allowed
    effective_top: float | None  # mean effective compression at its highest compression
    theoretical_top: float | None  # mean theoretical speedup there
    measured_top: float | None  # mean measured speedup there (batch 64); None where no run was timed
    disconnected_at: tuple[float, ...]  # compressions where some seed's network is disconnected
    by_compression: Score  # the ranking by compression (the table's default)
    by_speedup: Score | None = None  # the ranking by speedup; None when only scores were asked
    speedup_buckets: tuple[float, ...] = ()  # the speedups read (ranking.common_buckets)
    full: bool = False  # a run at every (compression, seed) of the benchmark
    twins: tuple[dict, ...] = ()  # methods with identical masks (benchmark_mask_twins)

    @property
    def scored(self) -> Score:
        return self.by_compression

    def by(self, ranking: str) -> Score:
        """Its Score in the ranking named ("compression" or "speedup")."""
        return self.by_speedup if ranking == "speedup" else self.by_compression


@dataclass(frozen=True)
class RankedAt(MethodAbout, _Scored):
    """A method ranked at one compression or speedup (benchmark_rank_at)."""

    scored: Score


@dataclass(frozen=True)
class OverviewRow(MethodAbout):
    """A method across benchmarks (benchmarks_overview)."""

    ranks: tuple[Place | None, ...]  # per benchmark of the overview; None: not ranked there
    mean_rank: float | None  # over the benchmarks with a full sweep
    benchmarks_full: int  # benchmarks where it has a full sweep
    provisional: bool = False  # some rank it has may still change (built-ins filling in)


def _scored(benchmark: Benchmark) -> list[float]:
    """The compressions the summary score averages over: every one above 1 (2..64)."""
    return [float(c) for c in benchmark.compressions if float(c) > 1]


def benchmark_ranking(*, benchmark: Benchmark, curves: pd.DataFrame | None = None,
                      counted: dict[int, int] | None = None, scores_only: bool = False) -> list[RankedMethod]:
    """The ranked table: one RankedMethod per listed method with finished runs, in the order of
    the ranking by compression (leaderboard/ranking.py; docs/rankings.md).
    Pass `curves` and `counted` (counted_submissions) when already computed to save their
    queries. `scores_only`: the ranking by compression alone (no `by_speedup`, `full` or
    `twins`), for a comparison of rankings."""
    if counted is None:
        counted = counted_submissions(benchmark=benchmark)
    if curves is None:
        curves = benchmark_curves(benchmark=benchmark, submissions=counted.values())
    compressions = [float(c) for c in benchmark.compressions]
    about: dict[int, dict] = {}
    cells: dict[int, dict[float, Cell]] = defaultdict(dict)
    # The creation order as numbers: converting the timestamps themselves to Python objects
    # costs more than the whole ranking.
    created_order = curves["created"].rank(method="dense").tolist()
    columns = ["method_id", "method", "slug", "is_baseline", "is_reference", "compression", "top1_mean",
               "top1_std", "n", "abs_compression_error_mean", "effective_compression_mean", "disconnected",
               "speedup_mean", "measured_speedup_mean"]
    for created, (method_id, name, slug, is_baseline, is_reference, compression, mean, std, n, abs_error,
                  effective, disconnected, theoretical, measured) in zip(
            created_order, zip(*(curves[c].tolist() for c in columns))):
        if method_id not in about:
            about[method_id] = {"method_id": method_id, "method": name, "slug": slug,
                                "is_baseline": bool(is_baseline), "is_reference": bool(is_reference),
                                "created_order": created}
        cells[method_id][float(compression)] = Cell(
            mean=mean, std=std, n=int(n),
            abs_error=None if abs_error is None or abs_error != abs_error else abs_error,
            effective=None if effective is None or effective != effective else effective,
            disconnected=int(disconnected or 0),
            theoretical=_finite(theoretical), measured=_finite(measured))
    unsandboxed = set(curves.loc[curves["unsandboxed"] > 0, "method_id"].tolist())
    for method_id, row in about.items():
        have = cells[method_id]
        ns = [cell.n for cell in have.values()]
        errors = [(cell.abs_error, cell.n) for cell in have.values() if cell.abs_error is not None]
        row.update(
            cells=tuple(have.get(c) for c in compressions),
            abs_compression_error=(sum(e * n for e, n in errors) / sum(n for _, n in errors)
                                   if errors else None),
            n_min=min(ns), n_max=max(ns), runs=sum(ns), unsandboxed=method_id in unsandboxed,
            effective_top=have[max(have)].effective,
            theoretical_top=have[max(have)].theoretical, measured_top=have[max(have)].measured,
            disconnected_at=tuple(c for c in compressions if c in have and have[c].disconnected),
        )
    counted_ids = list(counted.values())
    per_seed = _per_seed_runs(benchmark, list(about), counted_ids)
    order = {m: (row["created_order"], m) for m, row in about.items()}
    by_compression = compression_ranking(per_seed, _scored(benchmark), order)
    if scores_only:
        return [RankedMethod(**about[s.key], by_compression=s) for s in by_compression]
    # The speedup buckets: those every built-in method's curves span (ranking.common_buckets).
    buckets = common_buckets({m: per_seed[m] for m, row in about.items()
                              if row["is_baseline"] or row["is_reference"]})
    by_speedup = {s.key: s for s in speedup_ranking(per_seed, order, buckets)}
    seeds = [int(s) for s in benchmark.seeds]
    twins = benchmark_mask_twins(benchmark=benchmark, counted=counted_ids)
    return [RankedMethod(**about[s.key], by_compression=s, by_speedup=by_speedup[s.key],
                         speedup_buckets=tuple(buckets), full=full_sweep(per_seed[s.key], compressions, seeds),
                         twins=tuple(twins.get(s.key, ()))) for s in by_compression]


def _finite(value) -> float | None:
    """A mean from the curves, or None where it is missing or not finite."""
    return None if value is None or not math.isfinite(value) else float(value)


# Bump when RankedMethod's fields or the ranking's method change: cached rankings of the old
# shape are then never read.
RANKING_CACHE_VERSION = 2


def ranking_key(*, benchmark: Benchmark, counted: dict[int, int], finished: tuple, methods: list[tuple]) -> str:
    """The fingerprint of what benchmark_ranking reads: the benchmark's protocol (compressions,
    seeds, protocol hash), the version counted for each method (`counted`: counted_submissions,
    which also reflects withdrawn versions and the owners' choices), the finished runs on the
    benchmark (`finished`: how many, the latest finished and updated times and the highest id: a
    run that finishes, is re-queued, recorded again or deleted changes them) and every method's name,
    slug, tier and listing (`methods`: a method renamed, hidden or made private changes it).
    Read from boardstate.board_fingerprint's queries, and kept in the BoardState."""
    text = repr((RANKING_CACHE_VERSION, benchmark.pk, benchmark.protocol_hash, list(benchmark.compressions),
                 list(benchmark.seeds), sorted(counted.items()), finished, methods))
    return hashlib.sha256(text.encode()).hexdigest()


# This process's newest ranking per benchmark id, with its cache key: a request whose
# fingerprint is unchanged skips unpickling thousands of rows from the shared cache.
_LOCAL: dict[int, tuple[str, list[RankedMethod]]] = {}


def board_ranking(*, benchmark: Benchmark, state: BoardState | None = None) -> list[RankedMethod]:
    """benchmark_ranking, read from this process's memory or Django's cache while its
    ranking key holds (`state`: boardstate.board_state, read here when not given): a run that
    finishes (or anything else the ranking reads that changes) gives a new key, so the next
    request ranks again and is never stale; otherwise the page skips the curves' aggregate and
    the ranking. What the pages and the API call (docs/rankings.md, "Caching")."""
    if state is None:
        state = board_state(benchmark=benchmark)
    key = f"pruneboard:ranking:{benchmark.pk}:{state.ranking_key}"
    local = _LOCAL.get(benchmark.pk)
    if local is not None and local[0] == key:
        return list(local[1])  # a copy: a caller's changes to its list stay its own
    ranking = cache.get(key)
    if ranking is None:
        ranking = benchmark_ranking(benchmark=benchmark, counted=dict(state.counted))
        cache.set(key, ranking, settings.PRUNEBOARD_RANKING_CACHE_SECONDS)
    _LOCAL[benchmark.pk] = (key, ranking)
    return list(ranking)


def benchmark_speedup_ranking(*, ranking: list[RankedMethod]) -> list[RankedMethod]:
    """The rows of benchmark_ranking in the order of the ranking by speedup."""
    return sorted(ranking, key=lambda r: r.by_speedup.rank)


def _method_about(method_ids) -> dict[int, tuple[MethodAbout, tuple]]:
    """method id -> (MethodAbout, its tie-break order: creation, id)."""
    rows = Method.objects.filter(pk__in=method_ids).values_list("pk", "name", "slug", "is_baseline",
                                                                 "is_reference", "created")
    return {pk: (MethodAbout(method_id=pk, method=name, slug=slug, is_baseline=baseline, is_reference=reference),
                 (created, pk))
            for pk, name, slug, baseline, reference, created in rows}


def _about_fields(about: MethodAbout) -> dict:
    return {"method_id": about.method_id, "method": about.method, "slug": about.slug,
            "is_baseline": about.is_baseline, "is_reference": about.is_reference}


def benchmark_rank_at(*, benchmark: Benchmark, compression: float | None = None,
                      speedup: float | None = None) -> list[RankedAt]:
    """The listed methods ranked by mean top-1 at one compression of the benchmark, or at one
    speedup bucket (leaderboard/ranking.py; give exactly one, already checked with
    ranking.parse_point): one RankedAt per method with a value there."""
    if (compression is None) == (speedup is None):
        raise ValueError("give a compression or a speedup")
    counted = list(counted_submissions(benchmark=benchmark).values())
    method_ids = (Run.objects.filter(benchmark=benchmark, status=FINISHED, top1__isnull=False,
                                     submission__in=counted)
                  .filter(LISTED_RUN).values_list("submission__method_id", flat=True).distinct())
    about = _method_about(set(method_ids))
    per_seed = _per_seed_runs(benchmark, list(about), counted)
    order = {m: tie for m, (_, tie) in about.items()}
    results = (ranking_at_compression(per_seed, float(compression), order) if compression is not None
               else ranking_at_speedup(per_seed, float(speedup), order))
    return [RankedAt(**_about_fields(about[r.key][0]), scored=r) for r in results]


def benchmarks_overview(*, by: str = "compression", provisional: bool = False) -> dict:
    """Each listed method's rank on each benchmark (by compression or by speedup) and its mean
    rank over the benchmarks where it has a full sweep (ranking.cross_benchmark).
    {"benchmarks": [Benchmark with finished runs], "rows": [OverviewRow]}. `provisional`: also
    "fill_in", per benchmark its FillIn (builtin_fill_in; a column whose built-in methods are
    still filling in ranks provisionally), and each row's `provisional` (some rank it has is)."""
    if by not in ("compression", "speedup"):
        raise ValueError(f"unknown ranking {by!r}; known: compression, speedup")
    benchmarks = list(Benchmark.objects.all())
    rankings, full = {}, {}
    for b in benchmarks:
        rows = board_ranking(benchmark=b)
        rankings[b.name] = sorted((r.by(by) for r in rows), key=lambda s: s.rank)
        full[b.name] = {r.method_id for r in rows if r.full}
    benchmarks = [b for b in benchmarks if rankings[b.name]]  # no column for a benchmark without results
    about = _method_about({s.key for ranked in rankings.values() for s in ranked})
    order = {m: tie for m, (_, tie) in about.items()}
    rows = [OverviewRow(**_about_fields(about[r.key][0]), ranks=tuple(r.ranks.get(b.name) for b in benchmarks),
                        mean_rank=r.mean_rank, benchmarks_full=r.benchmarks_full)
            for r in cross_benchmark(rankings, full, order)]
    if not provisional:
        return {"benchmarks": benchmarks, "rows": rows}
    fill = builtin_fill_in(benchmarks=benchmarks, scored_only=by == "compression")
    fill_in = [fill[b.pk] for b in benchmarks]
    rows = [replace(row, provisional=any(cell is not None and f.provisional for cell, f in zip(row.ranks, fill_in)))
            for row in rows]
    return {"benchmarks": benchmarks, "rows": rows, "fill_in": fill_in,
            "columns": list(zip(benchmarks, fill_in))}


def _per_seed_runs(benchmark: Benchmark, method_ids: list[int], counted: list[int]) -> dict[int, Runs]:
    """method id -> {(compression, seed): (top-1, speedup)} of the finished runs of its counted
    version (`counted`: submission ids; one run per cell, the `one_run_per_...` constraint; a
    speedup that is not finite reads None)."""
    out: dict[int, Runs] = {m: {} for m in method_ids}
    for method_id, compression, seed, top1, speedup in Run.objects.filter(
            benchmark=benchmark, status=FINISHED, top1__isnull=False,
            submission__method_id__in=method_ids, submission__in=counted).values_list(
            "submission__method_id", "compression", "seed", "top1", speedup_column(benchmark)):
        out[method_id][compression, seed] = (top1, speedup if speedup is not None and math.isfinite(speedup) else None)
    return out
