"""What the leaderboard pages read. Plain functions with keyword arguments; views stay thin.

Only finished runs count toward results. A method is *listed* (shown publicly) when it is a
baseline or a reference method (the built-ins), or public and not hidden by a moderator (`Method.listed`); hidden or private methods
are visible only to their owner and to staff.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
from django.db.models import Avg, Count, OuterRef, Prefetch, Q, QuerySet, StdDev, Subquery
from django.db.models.functions import Abs

from submissions.models import ArchivedResult, Rerun, Run, Submission

from .models import Benchmark, Method
from .ranking import (Runs, common_buckets, compression_ranking, cross_benchmark, full_sweep,
                      ranking_at_compression, ranking_at_speedup, speedup_ranking)

FINISHED = Run.Status.FINISHED

CURVE_COLUMNS = ["method_id", "method", "slug", "is_baseline", "is_reference", "created", "compression",
                 "top1_mean", "top1_std", "n", "speedup_mean", "compression_error_mean",
                 "abs_compression_error_mean", "unsandboxed", "effective_compression_mean",
                 "effective_speedup_mean", "disconnected"]


def _listed(prefix: str = "") -> Q:
    """`Method.listed` as a query condition; `prefix` is the path to the method."""
    return (Q(**{f"{prefix}is_baseline": True}) | Q(**{f"{prefix}is_reference": True})
            | Q(**{f"{prefix}is_public": True, f"{prefix}is_hidden": False}))


# A run on the leaderboards: of a listed method, from a submission its owner has not withdrawn.
LISTED_RUN = _listed("submission__method__") & Q(submission__withdrawn=False)


# --- visibility ------------------------------------------------------------------------------

def methods_visible_to(*, user) -> QuerySet[Method]:
    """Listed methods, plus the user's own; staff see every method."""
    if user.is_staff:
        return Method.objects.all()
    if user.is_authenticated:
        return Method.objects.filter(_listed() | Q(owner=user))
    return Method.objects.filter(_listed())


def submissions_visible_to(*, user) -> QuerySet[Submission]:
    """Submissions of listed methods that their owner has not withdrawn, plus the user's own;
    staff see every submission."""
    if user.is_staff:
        return Submission.objects.all()
    visible = _listed("method__") & Q(withdrawn=False)
    if user.is_authenticated:
        visible |= Q(owner=user) | Q(method__owner=user)
    return Submission.objects.filter(visible)


def runs_visible_to(*, user) -> QuerySet[Run]:
    return Run.objects.filter(submission__in=submissions_visible_to(user=user))


def benchmark_listed_runs(*, benchmark: Benchmark) -> QuerySet[Run]:
    """Every run of the listed methods on the benchmark (the benchmark's CSV)."""
    return Run.objects.filter(benchmark=benchmark).filter(LISTED_RUN)


# --- versions --------------------------------------------------------------------------------
# A method's submissions are its versions (Submission.version). On each benchmark the board
# counts one version per method, and only a version that is complete there: its runs there all
# final (none queued or running) with at least one finished. Which one: the version its owner
# chose (Method.counted_version) where that one is complete, else the latest complete version
# (the default). A newer version still queued or running leaves the board on the previous one,
# and one whose runs all failed never replaces it; a first version joins the board when it is
# complete (its page and status page show its runs meanwhile). The baselines and reference
# methods (one built-in version each) fill in as their runs finish, and the rankings say
# "provisional" until they are complete (builtin_fill_in).

def counted_versions(*, runs: QuerySet[Run]) -> dict[tuple[int, int], int]:
    """(benchmark id, method id) -> the id of the submission the board counts there, from
    `runs` (any statuses: pending ones decide whether a version is complete). A withdrawn
    submission is never counted."""
    rows = (runs.filter(submission__withdrawn=False).order_by()
            .values_list("benchmark_id", "submission__method_id", "submission_id", "submission__version",
                         "submission__method__counted_version", "submission__method__is_baseline",
                         "submission__method__is_reference")
            .annotate(finished=Count("id", filter=Q(status=FINISHED, top1__isnull=False)),
                      pending=Count("id", filter=Q(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]))))
    best: dict[tuple[int, int], tuple[tuple[bool, int], int]] = {}
    for benchmark_id, method_id, submission_id, version, chosen, baseline, reference, finished, pending in rows:
        # not complete here; the built-ins (one version each) fill in as their runs finish, and
        # the ranks against them say "provisional" meanwhile (builtin_fill_in)
        if not finished or pending and not (baseline or reference):
            continue
        key, rank = (benchmark_id, method_id), (version == chosen, version)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, submission_id)
    return {key: submission_id for key, (_, submission_id) in best.items()}


def counted_submissions(*, benchmark: Benchmark) -> dict[int, int]:
    """method id -> the id of its submission (version) the board counts on the benchmark."""
    return {method_id: sub for (_, method_id), sub in
            counted_versions(runs=Run.objects.filter(benchmark=benchmark)).items()}


def method_versions(*, method: Method, with_withdrawn: bool = False) -> list[Submission]:
    """The method's submissions, newest version first, each with `counted_on`: the benchmarks
    on which the board counts that version. Withdrawn ones only `with_withdrawn` (its owner and
    staff)."""
    counted = counted_versions(runs=Run.objects.filter(submission__method=method))
    versions = method.submissions.order_by("-version").prefetch_related("benchmarks")
    versions = list(versions if with_withdrawn else versions.filter(withdrawn=False))
    names = dict(Benchmark.objects.filter(pk__in={b for b, _ in counted}).values_list("pk", "name"))
    for submission in versions:
        submission.counted_on = sorted(names[b] for (b, _), sub in counted.items() if sub == submission.pk)
    return versions


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


# --- search ----------------------------------------------------------------------------------

SEARCH_PARAMS = ("q", "tag", "author", "keyword")


def search_params(params) -> tuple[dict, list[str]]:
    """The search of a page's GET parameters: q (name, title, authors, venue or keywords
    contain it), tag (repeatable, of the fixed vocabulary), author, keyword (one exact
    keyword). Returns (the search, the errors to show: an unknown tag names the vocabulary)."""
    from django.core.exceptions import ValidationError

    from .metadata import tag_axis

    search = {"q": params.get("q", "").strip()[:200], "author": params.get("author", "").strip()[:200],
              "keyword": " ".join(params.get("keyword", "").split()).lower()[:200], "tags": []}
    errors = []
    for tag in params.getlist("tag") if hasattr(params, "getlist") else params.get("tag", []):
        tag = tag.strip().lower()
        if not tag:
            continue
        try:
            tag_axis(tag)
        except ValidationError as exc:
            errors.extend(exc.messages)
        else:
            search["tags"].append(tag)
    return search, errors


def search_active(search: dict) -> bool:
    return bool(search["q"] or search["author"] or search["keyword"] or search["tags"])


def methods_search(*, methods: QuerySet[Method], q: str = "", tags=(), author: str = "",
                   keyword: str = "") -> QuerySet[Method]:
    """The methods matching every given criterion: `q` in the name, title, authors, venue or
    keywords; each tag; `author` in the authors; `keyword` one of the keywords. Text is matched
    as text (case aside, SQL LIKE with its wildcards escaped): no pattern syntax."""
    from django.db.models import Value
    from django.db.models.functions import Concat

    from .metadata import VOCABULARY

    if q:
        methods = methods.filter(Q(name__icontains=q) | Q(title__icontains=q) | Q(authors__icontains=q)
                                 | Q(venue__icontains=q) | Q(keywords__icontains=q))
    for tag in tags:
        methods = methods.filter(**{VOCABULARY[tag]: tag})
    if author:
        methods = methods.filter(authors__icontains=author)
    if keyword:
        methods = (methods.annotate(_keywords=Concat(Value(", "), "keywords", Value(", ")))
                   .filter(_keywords__contains=f", {keyword}, "))
    return methods


# --- home ------------------------------------------------------------------------------------

def benchmark_summaries() -> list[dict]:
    """One dict per benchmark for the home page, in two queries: the benchmarks with their
    latest finished listed run, and the run counts grouped by benchmark.

    `entries`: listed methods with at least one finished run (baselines and reference methods
    included; `baselines` says how many of them are built in). `baseline_done`/`baseline_total`:
    built-in runs (baselines and reference methods) in a final state / all of them, so the page
    can show them filling in."""
    latest = (Run.objects.filter(benchmark=OuterRef("pk"), status=FINISHED).filter(LISTED_RUN)
              .order_by("-finished", "-pk"))
    benchmarks = Benchmark.objects.annotate(
        latest_finished=Subquery(latest.values("finished")[:1]),
        latest_method=Subquery(latest.values("submission__method__name")[:1]),
        latest_slug=Subquery(latest.values("submission__method__slug")[:1]),
    )
    baseline = Q(submission__method__is_baseline=True) | Q(submission__method__is_reference=True)
    finished_listed = Q(status=FINISHED) & LISTED_RUN
    counts = {row["benchmark_id"]: row for row in (
        Run.objects.order_by().values("benchmark_id").annotate(
            entries=Count("submission__method_id", distinct=True, filter=finished_listed),
            baselines=Count("submission__method_id", distinct=True,
                            filter=finished_listed & baseline),
            baseline_total=Count("id", filter=baseline),
            baseline_done=Count("id", filter=baseline & Q(status__in=Run.FINAL)),
            dense_measured=Avg("pre_top1", filter=finished_listed & Q(compression=1.0)),
        ))}
    empty = {"entries": 0, "baselines": 0, "baseline_total": 0, "baseline_done": 0, "dense_measured": None}
    rows = []
    for b in benchmarks:
        c = counts.get(b.pk, empty)
        rows.append({
            "benchmark": b, "name": b.name, "dataset": b.dataset, "model": b.model,
            "reference_top1": b.reference_top1, "embedded": b.embedded,
            "dense": _dense(b, c["dense_measured"]),
            "entries": c["entries"], "baselines": c["baselines"],
            "baseline_done": c["baseline_done"], "baseline_total": c["baseline_total"],
            "filling_in": c["baseline_done"] < c["baseline_total"],
            "latest_finished": b.latest_finished, "latest_method": b.latest_method,
            "latest_slug": b.latest_slug,
        })
    return rows


def _dense(benchmark: Benchmark, measured: float | None) -> dict:
    """The dense top-1 to show: the registry's, else measured by a worker (the mean test top-1
    before finetuning of finished runs at 1x, whose masks keep every weight), else the
    publisher's figure of pinned published weights (marked "published"); `value` None if none."""
    if benchmark.reference_top1 is not None:
        return {"value": benchmark.reference_top1, "source": "registry"}
    if measured is not None:
        return {"value": measured, "source": "measured"}
    if benchmark.published_top1 is not None:
        return {"value": benchmark.published_top1, "source": "published"}
    return {"value": None, "source": None}


def benchmark_dense_top1(*, benchmark: Benchmark) -> dict:
    """{"value", "source"} of the benchmark's dense top-1 (see `_dense`)."""
    measured = (Run.objects.filter(benchmark=benchmark, status=FINISHED, compression=1.0)
                .filter(LISTED_RUN).aggregate(v=Avg("pre_top1"))["v"])
    return _dense(benchmark, measured)


# --- one benchmark ---------------------------------------------------------------------------

def benchmark_curves(*, benchmark: Benchmark, methods=None, submissions=None) -> pd.DataFrame:
    """Finished runs aggregated over seeds (in SQL), one row per (method, compression).

    `methods=None`: every listed method. Otherwise exactly these methods (Method rows or ids),
    listed or not: the caller has checked that the user may see them.
    Each method's runs are those of the version the board counts (`counted_submissions`), or of
    exactly the `submissions` given (a version's own page).
    top1_std is the sample standard deviation (ddof=1), 0 when n = 1; compression is the
    requested one; compression_error_mean is the mean signed error and
    abs_compression_error_mean the mean |error|; effective_compression_mean and
    effective_speedup_mean average the records' effective values (evaluator/connectivity.py;
    a disconnected run has no effective speedup) and `disconnected` counts the runs with no
    input-to-output path. Rows are ordered by method creation, then compression."""
    runs = Run.objects.filter(benchmark=benchmark, status=FINISHED, top1__isnull=False)
    runs = runs.filter(LISTED_RUN) if methods is None else runs.filter(submission__method__in=methods)
    if submissions is None:
        submissions = counted_submissions(benchmark=benchmark).values()
    runs = runs.filter(submission__in=submissions)
    # Two queries: the aggregates per (method, compression), then the methods' names. Grouping
    # by the method's columns instead would parse one `created` timestamp per row, not per method.
    stats = list(runs.order_by().values_list("submission__method_id", "compression").annotate(
        top1_mean=Avg("top1"), top1_std=StdDev("top1", sample=False), n=Count("id"),
        speedup_mean=Avg("speedup"), compression_error_mean=Avg("compression_error"),
        abs_compression_error_mean=Avg(Abs("compression_error")),
        unsandboxed=Count("id", filter=Q(sandbox="none")),
        # Runs recorded before the effective values existed have none (null); a disconnected run
        # has no effective speedup (null, and left out by the filter all the same).
        effective_compression_mean=Avg("effective_compression"),
        effective_speedup_mean=Avg("effective_speedup", filter=Q(disconnected=False)),
        disconnected=Count("id", filter=Q(disconnected=True)),
    ))
    about = {pk: rest for pk, *rest in Method.objects.filter(
        pk__in={row[0] for row in stats}).values_list("pk", "name", "slug", "is_baseline", "is_reference",
                                                      "created")}
    rows = [(method_id, *about[method_id], compression, *values)
            for method_id, compression, *values in stats]
    rows.sort(key=lambda r: (r[5], r[0], r[6]))  # created, method id, compression
    frame = pd.DataFrame.from_records(rows, columns=CURVE_COLUMNS)
    # The database gives the population std (STDDEV_POP: SQLite's sample version fails on a
    # single value); the sample std is sqrt(n / (n - 1)) times it, and 0 for one seed.
    n = frame["n"].astype(float)
    sample = frame["top1_std"].astype(float).fillna(0.0) * (n / (n - 1).clip(lower=1)) ** 0.5
    frame["top1_std"] = sample.where(n > 1, 0.0).clip(lower=0.0)
    return frame


def _scored(benchmark: Benchmark) -> list[float]:
    """The compressions the summary score averages over: every one above 1 (2..64)."""
    return [float(c) for c in benchmark.compressions if float(c) > 1]


def benchmark_ranking(*, benchmark: Benchmark, curves: pd.DataFrame | None = None,
                      counted: dict[int, int] | None = None, scores_only: bool = False) -> list[dict]:
    """The ranked table: one dict per listed method with finished runs, in the order of the
    ranking by compression (leaderboard/ranking.py: formulas, partial methods, ties, bands).

    Display fields from the curves: `cells` (per compression: mean, std, n, ...), `n_min`/`n_max`
    (seeds per compression), `runs`, `abs_compression_error`, `unsandboxed`, `effective_top` (the
    mean effective compression at the method's highest compression), `disconnected_at` (the
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
               "top1_std", "n", "abs_compression_error_mean", "effective_compression_mean", "disconnected"]
    for created, (method_id, name, slug, is_baseline, is_reference, compression, mean, std, n, abs_error,
                  effective, disconnected) in zip(
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
            "disconnected": int(disconnected or 0)}
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
            "submission__method_id", "compression", "seed", "top1", "speedup"):
        out[method_id][compression, seed] = (top1, speedup if speedup is not None and math.isfinite(speedup) else None)
    return out


def benchmark_progress(*, benchmark: Benchmark) -> tuple[int, int]:
    """(runs in a final state, all runs) of listed methods on the benchmark."""
    counts = Run.objects.filter(benchmark=benchmark).filter(LISTED_RUN).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status__in=Run.FINAL)))
    return counts["done"], counts["total"]


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


# --- one run ---------------------------------------------------------------------------------

def run_layers(*, run: Run) -> list[dict]:
    """The run's per-layer sparsity bars (charts.layer_bars), each naming its module's type and
    its shape, read from the benchmark's model in the evaluator's registry."""
    from evaluator.benchmarks import get_benchmark

    from .charts import layer_bars

    try:
        parameters = _model_parameters(get_benchmark(run.benchmark.name).model)
    except ValueError:  # a benchmark the registry no longer has: names only
        parameters = {}
    return layer_bars(run.record or {}, parameters)


_PARAMETERS: dict[str, dict] = {}


def _model_parameters(model: str) -> dict:
    if model not in _PARAMETERS:
        from evaluator.models import model_parameters

        _PARAMETERS[model] = model_parameters(model)
    return _PARAMETERS[model]


# --- one method ------------------------------------------------------------------------------

def method_latest_submission(*, method: Method) -> Submission | None:
    """The method's newest version."""
    return method.submissions.order_by("-version", "-created", "-id").first()


def code_visible(*, method: Method, user) -> bool:
    """Whether the user may read the method's uploaded files: published with its results unless
    its owner keeps them private (Method.code_public); the owner and staff always may."""
    return method.code_public or user.is_staff or (user.is_authenticated and method.owner_id == user.pk)


def method_code(*, submission: Submission | None) -> str | None:
    """The uploaded strategy file as text (read, never imported); None for a baseline. The
    caller checks code_visible first."""
    if submission is None or not submission.has_code:
        return None
    return submission.code


def method_runs(*, method: Method, submission: Submission | None = None,
                with_withdrawn: bool = False) -> QuerySet[Run]:
    """Every run of the method (any status), or of one of its versions, for its page; without
    the record JSON. Withdrawn submissions' runs only `with_withdrawn`."""
    runs = Run.objects.filter(submission__method=method)
    if not with_withdrawn:
        runs = runs.filter(submission__withdrawn=False)
    if submission is not None:
        runs = runs.filter(submission=submission)
    return (runs.select_related("benchmark")
            .prefetch_related(Prefetch("reruns", queryset=Rerun.objects.only(
                "pk", "run_id", "status", "differences", "masks_identical", "created")))
            .only("pk", "submission_id", "compression", "seed", "status", "top1", "speedup",
                  "sandbox", "benchmark__name", "benchmark__position")
            .order_by("benchmark__position", "benchmark__name", "compression", "seed", "pk"))


def method_curves(*, method: Method, submission: Submission | None = None) -> list[tuple[Benchmark, pd.DataFrame]]:
    """For each benchmark the method has finished runs on: its curves beside the baselines' and
    the reference methods'. With `submission`: that version's. Without: every version with
    finished runs there, overlaid, one curve each ("Name v1", "Name v2 (counted)"); the counted
    version keeps the method's id (so its look is the method's own, charts.method_style_index),
    the others stand as -(submission id)."""
    mine = Run.objects.filter(submission__method=method, status=FINISHED)
    mine = mine.filter(submission=submission) if submission is not None else mine.filter(submission__withdrawn=False)
    benchmarks = Benchmark.objects.filter(pk__in=mine.values("benchmark_id"))
    baselines = Method.objects.filter(Q(is_baseline=True) | Q(is_reference=True)).values("pk")
    shown = Method.objects.filter(Q(pk=method.pk) | Q(pk__in=baselines))
    charts = []
    for b in benchmarks:
        counted = counted_submissions(benchmark=b)
        if submission is not None:
            counted[method.pk] = submission.pk
            charts.append((b, benchmark_curves(benchmark=b, methods=shown, submissions=counted.values())))
            continue
        versions = list(method.submissions.filter(runs__in=mine.filter(benchmark=b)).distinct()
                        .order_by("version").values_list("pk", "version"))
        others = Method.objects.filter(pk__in=baselines)
        frames = [benchmark_curves(benchmark=b, methods=others, submissions=counted.values())]
        for pk, number in versions:
            frame = benchmark_curves(benchmark=b, methods=[method], submissions=[pk])
            is_counted = counted.get(method.pk) == pk
            if len(versions) > 1 or not is_counted:
                frame = frame.assign(method=f"{method.name} v{number}" + (" (counted)" if is_counted else ""))
            if not is_counted:
                frame = frame.assign(method_id=-pk, slug=f"{method.slug}/v{number}")
            frames.append(frame)
        charts.append((b, pd.concat(frames, ignore_index=True)))
    return charts


def method_archived(*, method: Method) -> QuerySet[ArchivedResult]:
    """The method's results under earlier protocols, newest version first."""
    return (ArchivedResult.objects.filter(run__submission__method=method)
            .select_related("run__benchmark")
            .only("protocol_version", "top1", "archived", "run__compression", "run__seed",
                  "run__benchmark__name")
            .order_by("-protocol_version", "run__benchmark__name", "run__compression", "run__seed"))
