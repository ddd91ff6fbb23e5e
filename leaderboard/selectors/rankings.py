"""A benchmark's ranked table, by compression and by speedup, and the cross-benchmark overview
(the formulas: leaderboard/ranking.py)."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from submissions.models import LISTED_RUN, Run
from submissions.selectors.twins import benchmark_mask_twins
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, Method
from ..ranking import (
    Runs,
    common_buckets,
    compression_ranking,
    cross_benchmark,
    full_sweep,
    ranking_at_compression,
    ranking_at_speedup,
    speedup_ranking,
)
from .board import FINISHED, benchmark_curves, speedup_column
from .fillin import builtin_fill_in


def _scored(benchmark: Benchmark) -> list[float]:
    """The compressions the summary score averages over: every one above 1 (2..64)."""
    return [float(c) for c in benchmark.compressions if float(c) > 1]


def benchmark_ranking(*, benchmark: Benchmark, curves: pd.DataFrame | None = None,
                      counted: dict[int, int] | None = None, scores_only: bool = False) -> list[dict]:
    """The ranked table: one dict per listed method with finished runs, in the order of the
    ranking by compression (leaderboard/ranking.py: formulas, partial methods, ties, bands).

    Display fields from the curves: `cells` (per compression: mean, std, n, ...), `n_min`/`n_max`
    (seeds per compression), `runs`, `abs_compression_error`, `unsandboxed`, `effective_top` (the
    mean effective compression at the method's highest compression), `theoretical_top` and
    `measured_top` (its mean theoretical and measured speedup there, the measured one at batch 64;
    None where no run was timed), `disconnected_at` (the
    compressions where some seed's network has no input-to-output path).
    By compression: `score`, `interval` (95 % t interval over seeds, None with one), `half_width`,
    `n` (seeds in the interval), `complete`, `missing`, `rank`, `band`; `full`: a run at every
    (compression, seed) of the benchmark. By speedup: the same keys prefixed `speedup_`
    (`speedup_score`, `speedup_interval`, ..., `speedup_rank`, `speedup_band`), and
    `speedup_buckets`, the speedups read (ranking.common_buckets).
    Pass `curves` and `counted` (counted_submissions) when already computed to save their
    queries. `scores_only`: the ranking by
    compression alone (no speedup keys, no `full`, no `twins`), for a comparison of rankings."""
    if counted is None:
        counted = counted_submissions(benchmark=benchmark)
    if curves is None:
        curves = benchmark_curves(benchmark=benchmark, submissions=counted.values())
    compressions = [float(c) for c in benchmark.compressions]
    methods: dict[int, dict] = {}
    cells: dict[int, dict[float, dict]] = defaultdict(dict)
    # The creation order as numbers: converting the timestamps themselves to Python objects
    # costs more than the whole ranking.
    created_order = curves["created"].rank(method="dense").tolist()
    columns = ["method_id", "method", "slug", "is_baseline", "is_reference", "compression", "top1_mean",
               "top1_std", "n", "abs_compression_error_mean", "effective_compression_mean", "disconnected",
               "speedup_mean", "measured_speedup_mean"]
    for created, (method_id, name, slug, is_baseline, is_reference, compression, mean, std, n, abs_error,
                  effective, disconnected, theoretical, measured) in zip(
            created_order, zip(*(curves[c].tolist() for c in columns))):
        if method_id not in methods:
            methods[method_id] = {"method_id": method_id, "method": name, "slug": slug,
                                  "is_baseline": bool(is_baseline), "is_reference": bool(is_reference),
                                  "tier": "baseline" if is_baseline else "reference" if is_reference else "entry",
                                  "created_order": created}
        cells[method_id][float(compression)] = {
            "mean": mean, "std": std, "n": int(n),
            "abs_error": None if abs_error is None or abs_error != abs_error else abs_error,
            "effective": None if effective is None or effective != effective else effective,
            "disconnected": int(disconnected or 0),
            "theoretical": _finite(theoretical), "measured": _finite(measured)}
    unsandboxed = set(curves.loc[curves["unsandboxed"] > 0, "method_id"].tolist())
    for method_id, row in methods.items():
        have = cells[method_id]
        ns = [cell["n"] for cell in have.values()]
        errors = [(cell["abs_error"], cell["n"]) for cell in have.values() if cell["abs_error"] is not None]
        row.update(
            cells=[have.get(c) for c in compressions],
            abs_compression_error=(sum(e * n for e, n in errors) / sum(n for _, n in errors)
                                   if errors else None),
            n_min=min(ns), n_max=max(ns), runs=sum(ns), unsandboxed=method_id in unsandboxed,
            effective_top=have[max(have)]["effective"],
            theoretical_top=have[max(have)]["theoretical"], measured_top=have[max(have)]["measured"],
            disconnected_at=[c for c in compressions if c in have and have[c]["disconnected"]],
        )
    counted_ids = list(counted.values())
    per_seed = _per_seed_runs(benchmark, list(methods), counted_ids)
    order = {m: (row["created_order"], m) for m, row in methods.items()}
    if scores_only:
        return [methods[result.pop("key")] | result
                for result in compression_ranking(per_seed, _scored(benchmark), order)]
    # The speedup buckets: those every built-in method's curves span (ranking.common_buckets).
    buckets = common_buckets({m: per_seed[m] for m, row in methods.items() if row["tier"] != "entry"})
    for result in speedup_ranking(per_seed, order, buckets):
        methods[result.pop("key")].update({f"speedup_{k}": v for k, v in result.items()},
                                          speedup_buckets=list(buckets))
    for m, row in methods.items():
        row["full"] = full_sweep(per_seed[m], compressions, [int(s) for s in benchmark.seeds])
    rows = []
    for result in compression_ranking(per_seed, _scored(benchmark), order):
        row = methods[result.pop("key")]
        row.update(result)
        rows.append(row)
    twins = benchmark_mask_twins(benchmark=benchmark, counted=counted_ids)
    for row in rows:
        row["twins"] = twins.get(row["method_id"], [])
    return rows


def _finite(value) -> float | None:
    """A mean from the curves, or None where it is missing or not finite."""
    return None if value is None or not math.isfinite(value) else float(value)


def benchmark_speedup_ranking(*, ranking: list[dict]) -> list[dict]:
    """The rows of benchmark_ranking in the order of the ranking by speedup (same dicts)."""
    return sorted(ranking, key=lambda r: r["speedup_rank"])


def _method_about(method_ids) -> dict[int, dict]:
    rows = Method.objects.filter(pk__in=method_ids).values("pk", "name", "slug", "is_baseline", "is_reference",
                                                            "created")
    return {r["pk"]: {"method_id": r["pk"], "method": r["name"], "slug": r["slug"],
                      "is_baseline": r["is_baseline"], "is_reference": r["is_reference"],
                      "tier": "baseline" if r["is_baseline"] else "reference" if r["is_reference"] else "entry",
                      "order": (r["created"], r["pk"])} for r in rows}


def benchmark_rank_at(*, benchmark: Benchmark, compression: float | None = None,
                      speedup: float | None = None) -> list[dict]:
    """The listed methods ranked by mean top-1 at one compression of the benchmark, or at one
    speedup bucket (leaderboard/ranking.py; give exactly one, already checked with
    ranking.parse_point). One dict per method with a value there: method_id, method, slug, tier,
    is_baseline, is_reference, score, interval, half_width, n, rank, band."""
    if (compression is None) == (speedup is None):
        raise ValueError("give a compression or a speedup")
    counted = list(counted_submissions(benchmark=benchmark).values())
    method_ids = (Run.objects.filter(benchmark=benchmark, status=FINISHED, top1__isnull=False,
                                     submission__in=counted)
                  .filter(LISTED_RUN).values_list("submission__method_id", flat=True).distinct())
    about = _method_about(set(method_ids))
    per_seed = _per_seed_runs(benchmark, list(about), counted)
    order = {m: a["order"] for m, a in about.items()}
    results = (ranking_at_compression(per_seed, float(compression), order) if compression is not None
               else ranking_at_speedup(per_seed, float(speedup), order))
    return [{**{k: v for k, v in about[r.pop("key")].items() if k != "order"}, **r} for r in results]


def benchmarks_overview(*, by: str = "compression", provisional: bool = False) -> dict:
    """Each listed method's rank on each benchmark (by compression or by speedup) and its mean
    rank over the benchmarks where it has a full sweep (ranking.cross_benchmark).
    {"benchmarks": [Benchmark with finished runs], "rows": [{method fields, "ranks": [per benchmark
    {rank, band, of, full} or None], "mean_rank", "benchmarks_full"}]}. `provisional`: also
    "fill_in", per benchmark its FillIn (builtin_fill_in; a column whose built-in methods are
    still filling in ranks provisionally), and per row "provisional" (some rank it has is)."""
    if by not in ("compression", "speedup"):
        raise ValueError(f"unknown ranking {by!r}; known: compression, speedup")
    benchmarks = list(Benchmark.objects.all())
    rankings, full, about = {}, {}, {}
    for b in benchmarks:
        rows = benchmark_ranking(benchmark=b)
        if by == "speedup":
            rows = benchmark_speedup_ranking(ranking=rows)
        prefix = "speedup_" if by == "speedup" else ""
        rankings[b.name] = [{"key": r["method_id"], "rank": r[f"{prefix}rank"], "band": r[f"{prefix}band"]}
                            for r in rows]
        full[b.name] = {r["method_id"] for r in rows if r["full"]}
    benchmarks = [b for b in benchmarks if rankings[b.name]]  # no column for a benchmark without results
    about = _method_about({r["key"] for ranked in rankings.values() for r in ranked})
    order = {m: a["order"] for m, a in about.items()}
    rows = []
    for r in cross_benchmark(rankings, full, order):
        row = {k: v for k, v in about[r["key"]].items() if k != "order"}
        row.update(ranks=[r["ranks"].get(b.name) for b in benchmarks], mean_rank=r["mean_rank"],
                   benchmarks_full=r["benchmarks_full"])
        rows.append(row)
    if not provisional:
        return {"benchmarks": benchmarks, "rows": rows}
    fill = builtin_fill_in(benchmarks=benchmarks, scored_only=by == "compression")
    fill_in = [fill[b.pk] for b in benchmarks]
    for row in rows:
        row["provisional"] = any(cell is not None and f.provisional for cell, f in zip(row["ranks"], fill_in))
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
