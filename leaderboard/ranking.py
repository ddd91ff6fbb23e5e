"""The rankings, as plain functions over numbers: no database, no Django (benchmarks/rankings.py
ranks the CLI's CSVs with the very functions the site uses).

Input, per method: its runs as {(compression, seed): (top1, speedup)} (several runs of one cell:
their mean), and a tie-break order (earliest method first). Accuracies are fractions. Output:
`Score`s in ranking order (and `Overall`s across benchmarks). The method, with its formulas
(scores, 95 % t intervals, partial methods, bands, speedup buckets), is described once, in
docs/rankings.md ("How the leaderboard is ranked").
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from scipy.stats import t as student_t

SPEEDUP_BUCKETS = (2.0, 4.0, 8.0, 16.0, 32.0)
LEVEL = 0.95

Runs = dict[tuple[float, int], tuple[float, float | None]]  # (compression, seed) -> (top1, speedup)


@dataclass(frozen=True)
class Score:
    """One method's place in one ranking (by compression, by speedup, or at one point)."""

    key: Hashable  # the method: its id on the site, its name in benchmarks/rankings.py
    score: float | None  # top-1 (a fraction) as the ranking averages it; None: nothing to average
    interval: tuple[float, float] | None  # the 95 % Student t interval over seeds; None below 2 seeds
    n: int  # seeds in the interval
    complete: bool  # every scored compression (or speedup bucket) has a value
    missing: tuple[float, ...] = ()  # the scored compressions (or speedup buckets) it lacks
    reached: int = 0  # by speedup: the buckets every seed's curve spans (partial methods sort by it)
    rank: int = 0  # 1 for the first; 0 until ranked
    band: int = 0  # the rank band: methods the seeds do not tell apart share one; 0 until ranked

    @property
    def half_width(self) -> float | None:
        """Half the interval's width (the "± x" the table shows); None without an interval."""
        return None if self.interval is None else (self.interval[1] - self.interval[0]) / 2


@dataclass(frozen=True)
class Place:
    """A method's rank on one benchmark, as the overview across benchmarks shows it."""

    rank: int
    band: int
    of: int  # methods ranked on that benchmark
    full: bool  # a full sweep there (every compression and seed): only those count in the mean


@dataclass(frozen=True)
class Overall:
    """One method across benchmarks (cross_benchmark)."""

    key: Hashable
    ranks: dict[str, Place] = field(default_factory=dict)  # benchmark -> its place there
    mean_rank: float | None = None  # over the benchmarks with a full sweep; None without any
    benchmarks_full: int = 0  # benchmarks with a full sweep


def mean(values) -> float:
    """The arithmetic mean (statistics.mean is exact but ~50x slower, and a page ranks hundreds
    of methods)."""
    values = list(values)
    return math.fsum(values) / len(values)


def stdev(values: list[float]) -> float:
    """The sample standard deviation (ddof = 1)."""
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


@lru_cache(maxsize=64)
def t_quantile(p: float, df: int) -> float:
    return float(student_t.ppf(p, df))


def seed_scores(top1: dict[tuple[float, int], float], scored: list[float]) -> list[float]:
    """Per seed, the mean top-1 over `scored` compressions; top1 maps (compression, seed)."""
    seeds = sorted({seed for _, seed in top1})
    return [mean(top1[c, s] for c in scored) for s in seeds if all((c, s) in top1 for c in scored)]


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The Student t interval of the mean; None for fewer than two values."""
    if len(values) < 2:
        return None
    half = t_quantile(0.5 + level / 2, len(values) - 1) * stdev(values) / math.sqrt(len(values))
    return mean(values) - half, mean(values) + half


def rank_bands(rows: list[Score]) -> list[int]:
    """The band of each of `rows` (in ranking order): a band's leader takes in every following
    row complete like it, lacking the same compressions or buckets, whose interval reaches the
    leader's lower bound."""
    bands: list[int] = []
    number, i = 0, 0
    while i < len(rows):
        number += 1
        leader = rows[i]
        bands.append(number)
        i += 1
        while (i < len(rows) and leader.interval is not None and rows[i].interval is not None
               and rows[i].complete == leader.complete and rows[i].missing == leader.missing
               and rows[i].interval[1] >= leader.interval[0]):
            bands.append(number)
            i += 1
    return bands


def read_curve(points: list[tuple[float, float]], speedup: float) -> float | None:
    """The curve (speedup, top1) interpolated linearly in log2(speedup), read at `speedup`;
    None outside the measured range."""
    return _read(_curve(points), math.log2(speedup))


def _curve(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(log2 speedup, top1), sorted, of the usable points."""
    return sorted((math.log2(s), top1) for s, top1 in points if _usable(s) and _usable(top1, positive=False))


def _read(curve: list[tuple[float, float]], x: float) -> float | None:
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if curve and curve[0][0] == x:
        return curve[0][1]
    return None


def _seed_curves(runs: Runs) -> list[list[tuple[float, float]]]:
    """Each seed's curve (_curve), in seed order."""
    points: dict[int, list[tuple[float, float]]] = {}
    for (_, seed), (top1, speedup) in runs.items():
        points.setdefault(seed, []).append((speedup, top1))
    return [_curve(points[seed]) for seed in sorted(points)]


def _usable(value, positive: bool = True) -> bool:
    """A finite number (positive for a speedup: an all-pruned model's is infinite)."""
    return (value is not None and isinstance(value, (int, float)) and math.isfinite(value)
            and (value > 0 or not positive))


def speedup_score(points: list[tuple[float, float]],
                  buckets: tuple[float, ...] = SPEEDUP_BUCKETS) -> tuple[float | None, list[float]]:
    """(mean top-1 read at the speedup buckets, the buckets it cannot read); points: (speedup, top1)."""
    curve = _curve(points)
    readings = {b: _read(curve, math.log2(b)) for b in buckets}
    values = [v for v in readings.values() if v is not None]
    return (mean(values) if values else None), [b for b, v in readings.items() if v is None]


# --- the rankings ----------------------------------------------------------------------------

def _cell_means(runs: Runs) -> dict[float, float]:
    by_compression: dict[float, list[float]] = {}
    for (c, _), (top1, _) in runs.items():
        by_compression.setdefault(c, []).append(top1)
    return {c: mean(v) for c, v in by_compression.items()}


def _finish(rows: list[Score], order: dict[Hashable, tuple]) -> list[Score]:
    """Sort (complete first, then score descending, ties to the earliest), number, band."""
    rows = sorted(rows, key=lambda r: (not r.complete, -r.reached, r.score is None,
                                       -(r.score if r.score is not None else 0.0), order[r.key]))
    return [replace(row, rank=rank, band=band)
            for rank, (row, band) in enumerate(zip(rows, rank_bands(rows)), start=1)]


def compression_ranking(methods: dict[Hashable, Runs], scored: list[float],
                        order: dict[Hashable, tuple]) -> list[Score]:
    """One Score per method (`missing`: the scored compressions it lacks), in ranking order."""
    rows = []
    for key, runs in methods.items():
        means = _cell_means(runs)
        have = [means[c] for c in scored if c in means]
        per_seed = seed_scores({k: top1 for k, (top1, _) in runs.items()}, scored)
        rows.append(Score(key=key, score=mean(have) if have else None, interval=t_interval(per_seed),
                          n=len(per_seed), complete=len(have) == len(scored),
                          missing=tuple(c for c in scored if c not in means)))
    return _finish(rows, order)


def speedup_ranking(methods: dict[Hashable, Runs], order: dict[Hashable, tuple],
                    buckets: tuple[float, ...] = SPEEDUP_BUCKETS) -> list[Score]:
    """As compression_ranking, by top-1 over the speedup axis, with `reached` (how many buckets
    every seed's curve spans); `missing`: the buckets some seed's curve does not span."""
    rows = []
    for key, runs in methods.items():
        readings = [{b: _read(curve, math.log2(b)) for b in buckets}  # per seed: bucket -> reading
                    for curve in _seed_curves(runs)]
        reach = [b for b in buckets if readings and all(r[b] is not None for r in readings)]
        per_seed = [mean(r[b] for b in reach) for r in readings] if reach else []
        rows.append(Score(key=key, score=mean(per_seed) if per_seed else None,
                          interval=t_interval(per_seed), n=len(per_seed), complete=len(reach) == len(buckets),
                          missing=tuple(b for b in buckets if b not in reach), reached=len(reach)))
    return _finish(rows, order)


def common_buckets(methods: dict[Hashable, Runs],
                   buckets: tuple[float, ...] = SPEEDUP_BUCKETS) -> tuple[float, ...]:
    """The buckets that every seed's curve of every given method spans: called with the built-in
    methods (baselines and reference methods, on every benchmark, never an entry) this fixes a
    benchmark's speedup buckets; all of `buckets` when nothing is given or nothing is common."""
    curves = [curve for runs in methods.values() for curve in _seed_curves(runs)]
    common = tuple(b for b in buckets if curves and all(_read(c, math.log2(b)) is not None for c in curves))
    return common or tuple(buckets)


def ranking_at_compression(methods: dict[Hashable, Runs], compression: float,
                           order: dict[Hashable, tuple]) -> list[Score]:
    """Methods with runs at `compression`, ranked by mean top-1 there (t interval over seeds)."""
    rows = []
    for key, runs in methods.items():
        values = [top1 for (c, _), (top1, _) in sorted(runs.items()) if c == compression]
        if values:
            rows.append(Score(key=key, score=mean(values), interval=t_interval(values),
                              n=len(values), complete=True))
    return _finish(rows, order)


def ranking_at_speedup(methods: dict[Hashable, Runs], speedup: float,
                       order: dict[Hashable, tuple]) -> list[Score]:
    """Methods whose seed curves span `speedup`, ranked by their mean reading there."""
    rows = []
    for key, runs in methods.items():
        values = [v for v in (_read(curve, math.log2(speedup)) for curve in _seed_curves(runs)) if v is not None]
        if values:
            rows.append(Score(key=key, score=mean(values), interval=t_interval(values),
                              n=len(values), complete=True))
    return _finish(rows, order)


def full_sweep(runs: Runs, compressions: list[float], seeds: list[int]) -> bool:
    """Every (compression, seed) of the benchmark has a run."""
    return all((float(c), int(s)) in runs for c in compressions for s in seeds)


def cross_benchmark(rankings: dict[str, list[Score]], full: dict[str, set[Hashable]],
                    order: dict[Hashable, tuple]) -> list[Overall]:
    """rankings: benchmark -> its ranking (by either ranking); full: benchmark -> the keys with a
    full sweep there. One Overall per method, in overview order."""
    ranks: dict[Hashable, dict[str, Place]] = {}
    for benchmark, ranking in rankings.items():
        for r in ranking:
            ranks.setdefault(r.key, {})[benchmark] = Place(rank=r.rank, band=r.band, of=len(ranking),
                                                           full=r.key in full.get(benchmark, set()))
    rows = []
    for key, places in ranks.items():
        counted = [p.rank for p in places.values() if p.full]
        rows.append(Overall(key=key, ranks=places, mean_rank=mean(counted) if counted else None,
                            benchmarks_full=len(counted)))
    return sorted(rows, key=lambda r: (-r.benchmarks_full, r.mean_rank is None, r.mean_rank or 0.0, order[r.key]))


def parse_point(text: str, allowed: list[float], axis: str) -> float:
    """The compression or speedup a reader asked to rank at (`?at=16`, `16x`, `16×`), one of
    `allowed`; ValueError naming the allowed values otherwise."""
    known = ", ".join(f"{a:g}" for a in allowed)
    text = str(text)[:40]  # quoted back in the message: a reader's text, kept short
    cleaned = str(text).strip().lower().removesuffix("x").removesuffix("×").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{axis} {text!r} is not a number; choose one of {known}") from None
    for a in allowed:
        if math.isfinite(value) and math.isclose(value, a):
            return float(a)
    raise ValueError(f"no ranking at {axis} {text!r}; choose one of {known}")


def rank_points(benchmark, by: str) -> list[float]:
    """The points a reader may rank at: the benchmark's compressions above 1 (by compression),
    or the speedup buckets (by speedup). `benchmark` needs only `.compressions`."""
    if by == "speedup":
        return list(SPEEDUP_BUCKETS)
    return [float(c) for c in benchmark.compressions if float(c) > 1]
