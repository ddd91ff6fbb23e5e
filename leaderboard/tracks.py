"""A benchmark's tracks side by side, and whether its ranking holds from one track to another.

A Benchmark row is a run target (a benchmark on one track, evaluator/tracks.py); the rows that
share a `base` are that benchmark's tracks. The rank agreement of two tracks is Kendall's tau-b
between the listed methods' scores on each (leaderboard/selectors/rankings.py `benchmark_ranking`), over
the methods complete on both: 1 the same order, -1 reversed, about 0 unrelated.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import cache
from scipy.stats import kendalltau

from .models import Benchmark


def benchmark_tracks(*, benchmark: Benchmark) -> list[Benchmark]:
    """The rows of `benchmark`'s base, the default track first (registry order)."""
    return list(Benchmark.objects.filter(base=benchmark.base or benchmark.name)
                .order_by("position", "name"))


def kendall_tau(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """(tau-b, two-sided p) of paired scores; (None, None) for fewer than 2 pairs or no spread."""
    if len(a) != len(b):
        raise ValueError(f"kendall_tau needs paired scores: {len(a)} and {len(b)} values")
    if len(a) < 2:
        return None, None
    result = kendalltau(a, b)
    tau, p = float(result.statistic), float(result.pvalue)
    return (None, None) if math.isnan(tau) else (tau, p)


def track_agreement(*, benchmark: Benchmark, ranking: list, tracks: list[Benchmark]) -> list[dict]:
    """For each other track of the benchmark: tau between this page's ranking and that track's,
    over the methods complete on both; `n` methods, `p` the two-sided p-value. The other track's
    scores are read from the cache, computed at most every PRUNEBOARD_TAU_CACHE_SECONDS (ranking
    a second board cost a third of the page's time: docs/benchmarks.md)."""
    mine = _scores(ranking)
    rows = []
    for other in tracks:
        if other.pk == benchmark.pk:
            continue
        theirs = track_scores(benchmark=other)
        both = sorted(mine.keys() & theirs.keys())
        tau, p = kendall_tau([mine[m] for m in both], [theirs[m] for m in both])
        rows.append({"benchmark": other, "tau": tau, "p": p, "n": len(both)})
    return rows


def _scores(ranking: list) -> dict[int, float]:
    """method id -> score by compression of the complete rows (selectors.RankedMethod)."""
    return {r.method_id: r.score for r in ranking if r.complete and r.score is not None}


def track_scores(*, benchmark: Benchmark) -> dict[int, float]:
    """method id -> score of the methods complete on the benchmark's public board (cached)."""
    from .selectors import benchmark_ranking

    key = f"pruneboard:track-scores:{benchmark.pk}"
    scores = cache.get(key)
    if scores is None:
        scores = _scores(benchmark_ranking(benchmark=benchmark, scores_only=True))
        cache.set(key, scores, settings.PRUNEBOARD_TAU_CACHE_SECONDS)
    return scores
