"""Runs with identical masks (mask twins) among the counted versions of listed methods."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, QuerySet

from leaderboard.models import Benchmark

from ..models import LISTED_RUN, Run
from .versions import counted_versions

FINISHED = Run.Status.FINISHED


# --- identical masks -------------------------------------------------------------------------
# Two runs on the same benchmark, compression and seed whose masks have the same SHA-256
# (the record's masks_sha256) pruned the same weights: the same finetuning then gives the same
# result. Only the counted versions of listed methods are compared, and only where it means
# something: never at 1x and never on dense masks (every weight kept, actual compression 1),
# which every method shares.

DENSE_BELOW = 1.0 + 1e-9  # an actual compression at or below this kept every weight


def _meaningful(runs: QuerySet[Run]) -> QuerySet[Run]:
    """The finished runs whose masks say something: pruned (requested above 1x, and not every
    weight kept), with a masks hash."""
    return (runs.filter(status=FINISHED, compression__gt=1).exclude(masks_sha256="")
            .exclude(actual_compression__lte=DENSE_BELOW))


def _mask_cells(runs: QuerySet[Run]) -> list[tuple]:
    return list(_meaningful(runs).order_by().values_list(
        "pk", "benchmark_id", "compression", "seed", "masks_sha256",
        "submission__method_id", "submission__method__name", "submission__method__slug"))


def _counted_listed_runs(benchmark_ids) -> QuerySet[Run]:
    runs = Run.objects.filter(benchmark_id__in=benchmark_ids).filter(LISTED_RUN)
    return runs.filter(submission__in=counted_versions(runs=runs).values())


def compressions_text(compressions, of) -> str:
    """Compressions as ranges of the benchmark's (`of`): [2, 4, 8, 16, 32, 64] -> '2–64×',
    [2, 4, 16] -> '2–4×, 16×'."""
    order = sorted(float(c) for c in of)
    have = sorted({float(c) for c in compressions})
    runs: list[list[float]] = []
    for c in have:
        if runs and c in order and runs[-1][-1] in order and order.index(c) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ", ".join(f"{r[0]:g}×" if len(r) == 1 else f"{r[0]:g}–{r[-1]:g}×" for r in runs)


def benchmark_mask_twins(*, benchmark: Benchmark, counted=None) -> dict[int, list[dict]]:
    """method id -> the other listed methods whose masks are identical to its own on some
    pruned runs: [{"method", "slug", "runs": runs with identical masks, "of": the method's
    pruned runs, "compressions": where, "at": those as text ('2–64×')}], most shared runs
    first. `counted`: the counted submissions' ids, when already known.
    The database finds the shared masks (grouped by compression, seed and hash): a board with
    no twins reads no run, one with a few reads only theirs."""
    runs = (_counted_listed_runs([benchmark.pk]) if counted is None else
            Run.objects.filter(benchmark=benchmark, submission__in=counted).filter(LISTED_RUN))
    runs = _meaningful(runs).order_by()
    shared_hashes = list(runs.values("compression", "seed", "masks_sha256")
                         .annotate(methods=Count("submission__method_id", distinct=True))
                         .filter(methods__gt=1).values_list("masks_sha256", flat=True))
    if not shared_hashes:
        return {}
    by_cell: dict[tuple, list[tuple]] = defaultdict(list)
    for compression, seed, sha, method_id, name, slug in runs.filter(masks_sha256__in=shared_hashes).values_list(
            "compression", "seed", "masks_sha256", "submission__method_id", "submission__method__name",
            "submission__method__slug"):
        by_cell[compression, seed, sha].append((method_id, name, slug))
    shared: dict[int, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (compression, _, _), methods in by_cell.items():
        for mine in methods:
            for other in methods:
                if other[0] != mine[0]:
                    shared[mine[0]][other].append(compression)
    total = dict(runs.filter(submission__method_id__in=list(shared)).values("submission__method_id")
                 .annotate(n=Count("id")).values_list("submission__method_id", "n"))
    return {m: [_twin(name, slug, where, benchmark, of=total[m])
                for (_, name, slug), where in sorted(others.items(), key=lambda kv: (-len(kv[1]), kv[0][1]))]
            for m, others in shared.items()}


def _twin(name: str, slug: str, where: list[float], benchmark: Benchmark, **more) -> dict:
    compressions = sorted(set(where))
    return {"method": name, "slug": slug, "runs": len(where), **more, "compressions": compressions,
            "at": compressions_text(compressions, benchmark.compressions)}


def run_mask_twins(*, runs) -> dict[int, list[dict]]:
    """run id -> the other listed methods ({"method", "slug"}) that have a run with identical
    masks on its benchmark, compression and seed (their counted versions); `runs`: a queryset.
    Runs at 1x and dense masks are never twins (see above)."""
    mine = _mask_cells(Run.objects.filter(pk__in=[r.pk for r in runs]))
    if not mine:
        return {}
    cells = defaultdict(list)
    for _, _, compression, seed, sha, method_id, name, slug in _mask_cells(
            _counted_listed_runs({row[1] for row in mine})):
        cells[compression, seed, sha].append((method_id, name, slug))
    twins = {}
    for pk, benchmark_id, compression, seed, sha, method_id, _, _ in mine:
        found = [{"method": n, "slug": s, "benchmark_id": benchmark_id, "compression": compression}
                 for m, n, s in cells.get((compression, seed, sha), []) if m != method_id]
        if found:
            twins[pk] = found
    return twins


def mask_twin_summary(*, twins: dict[int, list[dict]]) -> list[dict]:
    """`run_mask_twins`'s answer once per benchmark and other method: [{"benchmark", "method",
    "slug", "runs", "compressions", "at"}], by benchmark, then most shared runs first."""
    where: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    for found in twins.values():
        for twin in found:
            where[twin["benchmark_id"], twin["method"], twin["slug"]].append(twin["compression"])
    benchmarks = Benchmark.objects.in_bulk({b for b, _, _ in where})
    return [{"benchmark": benchmarks[b].name, **_twin(m, s, cs, benchmarks[b])}
            for (b, m, s), cs in sorted(where.items(), key=lambda kv: (
                benchmarks[kv[0][0]].position, benchmarks[kv[0][0]].name, -len(kv[1]), kv[0][1]))]


def mask_twin_lines(*, summary: list[dict]) -> list[dict]:
    """`mask_twin_summary` as one line per benchmark: [{"benchmark", "twins": [...]}]."""
    lines: dict[str, list[dict]] = {}
    for twin in summary:
        lines.setdefault(twin["benchmark"], []).append(twin)
    return [{"benchmark": b, "twins": t} for b, t in lines.items()]
