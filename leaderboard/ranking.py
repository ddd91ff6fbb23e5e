"""The rankings' uncertainty and their second axis, as plain functions over numbers.

Score by compression (the table's default): for each seed, the mean over the compressions
2x..64x of the method's top-1 at that seed (seeds that lack one of them are left out); the score
is the mean of those per-seed scores (the mean over compressions of the mean over seeds when
every seed is complete), with a 95 % Student t interval over seeds:

    score ± t(0.975, n - 1) * s / sqrt(n)      (s: the sample std of the n per-seed scores)

n = 1 has no interval. Rank bands: walking the ranking from the top, a band starts at the first
method not yet banded; every later method (complete like it) whose interval reaches the band
leader's lower bound (high >= leader's low) joins it. Methods without an interval have a band of
their own. Differences inside a band are not told apart by the seeds.

Score by speedup: top-1 against theoretical speedup (flops / flops_nz), compression and speedup
not being interchangeable (ShrinkBench). The method's mean top-1 per compression is placed at
its mean speedup; the curve is interpolated linearly in log2(speedup) and read at the speedups
2, 4, 8, 16, 32 (PruningBench's fixed-speedup buckets); the score is the mean of those readings.
A bucket beyond the method's largest (or below its smallest) measured speedup is missing, and
such a method is "partial", ranked after the complete ones.
"""

from __future__ import annotations

import math
from statistics import mean, stdev

from scipy.stats import t as student_t

SPEEDUP_BUCKETS = (2.0, 4.0, 8.0, 16.0, 32.0)


def seed_scores(top1: dict[tuple[float, int], float], scored: list[float]) -> list[float]:
    """Per seed, the mean top-1 over `scored` compressions; top1 maps (compression, seed)."""
    seeds = sorted({seed for _, seed in top1})
    return [mean(top1[c, s] for c in scored) for s in seeds if all((c, s) in top1 for c in scored)]


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The Student t interval of the mean; None for fewer than two values."""
    if len(values) < 2:
        return None
    half = student_t.ppf(0.5 + level / 2, len(values) - 1) * stdev(values) / math.sqrt(len(values))
    return mean(values) - half, mean(values) + half


def rank_bands(rows: list[dict]) -> None:
    """Set row["band"] on rows already in ranking order (each with "interval" and "complete")."""
    band, i = 0, 0
    while i < len(rows):
        band += 1
        leader = rows[i]
        leader["band"] = band
        i += 1
        while (i < len(rows) and leader["interval"] is not None and rows[i]["interval"] is not None
               and rows[i]["complete"] == leader["complete"] and rows[i]["interval"][1] >= leader["interval"][0]):
            rows[i]["band"] = band
            i += 1


def speedup_score(points: list[tuple[float, float]]) -> tuple[float | None, list[float]]:
    """(mean top-1 at the speedup buckets, the buckets it cannot read); points: (speedup, top1)."""
    points = sorted((math.log2(s), top1) for s, top1 in points if s and s > 0 and s == s)
    readings, missing = [], []
    for bucket in SPEEDUP_BUCKETS:
        x = math.log2(bucket)
        value = None
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if x0 <= x <= x1:
                value = y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
                break
        if value is None and points and points[0][0] == x:
            value = points[0][1]
        if value is None:
            missing.append(bucket)
        else:
            readings.append(value)
    return (mean(readings) if readings else None), missing
