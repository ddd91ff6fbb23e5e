"""The home page's benchmarks and one benchmark's curves: finished runs of listed methods,
aggregated over seeds."""

from __future__ import annotations

import pandas as pd
from django.db.models import Avg, Count, OuterRef, Q, QuerySet, StdDev, Subquery
from django.db.models.functions import Abs

from submissions.models import LISTED_RUN, Run
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, Method

FINISHED = Run.Status.FINISHED

CURVE_COLUMNS = ["method_id", "method", "slug", "is_baseline", "is_reference", "created", "compression",
                 "top1_mean", "top1_std", "n", "speedup_mean", "compression_error_mean",
                 "abs_compression_error_mean", "unsandboxed", "effective_compression_mean",
                 "effective_speedup_mean", "disconnected", "measured_speedup_mean"]


def benchmark_listed_runs(*, benchmark: Benchmark) -> QuerySet[Run]:
    """Every run of the listed methods on the benchmark (the benchmark's CSV)."""
    return Run.objects.filter(benchmark=benchmark).filter(LISTED_RUN)


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
    """{"value", "source"} of the benchmark's dense top-1 (see `_dense`); no query where the
    registry has it."""
    if benchmark.reference_top1 is not None:
        return _dense(benchmark, None)
    measured = (Run.objects.filter(benchmark=benchmark, status=FINISHED, compression=1.0)
                .filter(LISTED_RUN).aggregate(v=Avg("pre_top1"))["v"])
    return _dense(benchmark, measured)


# --- one benchmark ---------------------------------------------------------------------------

def board_axis(benchmark: Benchmark) -> str:
    """What the benchmark's board ranks by first: its track's axis (evaluator/tracks.py
    `Track.board_axis`), "compression" or "measured_speedup"."""
    from evaluator.benchmarks import get_benchmark
    from evaluator.tracks import get_track

    return get_track(get_benchmark(benchmark.name).track).board_axis


def speedup_column(benchmark: Benchmark) -> str:
    """The Run column the speedup ranking reads: measured on a board whose axis is measured
    speedup, once runs carry it (the latency column), else theoretical."""
    measured = board_axis(benchmark) == "measured_speedup" and any(
        f.name == "measured_speedup" for f in Run._meta.get_fields())
    return "measured_speedup" if measured else "speedup"


def benchmark_curves(*, benchmark: Benchmark, methods=None, submissions=None) -> pd.DataFrame:
    """Finished runs aggregated over seeds (in SQL), one row per (method, compression).

    `methods=None`: every listed method. Otherwise exactly these methods (Method rows or ids),
    listed or not: the caller has checked that the user may see them.
    Each method's runs are those of the version the board counts (`counted_submissions`), or of
    exactly the `submissions` given (a version's own page).
    top1_std is the sample standard deviation (ddof=1), 0 when n = 1; compression is the
    requested one; speedup_mean averages `speedup_column` (measured on a structured board);
    compression_error_mean is the mean signed error and
    abs_compression_error_mean the mean |error|; effective_compression_mean and
    effective_speedup_mean average the records' effective values (evaluator/connectivity.py;
    a disconnected run has no effective speedup) and `disconnected` counts the runs with no
    input-to-output path; measured_speedup_mean averages the measured speedups at batch 64
    (evaluator/latency.py; see `benchmark_latency_machines` for where they were timed). Rows are
    ordered by method creation, then compression."""
    runs = Run.objects.filter(benchmark=benchmark, status=FINISHED, top1__isnull=False)
    runs = runs.filter(LISTED_RUN) if methods is None else runs.filter(submission__method__in=methods)
    if submissions is None:
        submissions = counted_submissions(benchmark=benchmark).values()
    runs = runs.filter(submission__in=submissions)
    # Two queries: the aggregates per (method, compression), then the methods' names. Grouping
    # by the method's columns instead would parse one `created` timestamp per row, not per method.
    stats = list(runs.order_by().values_list("submission__method_id", "compression").annotate(
        top1_mean=Avg("top1"), top1_std=StdDev("top1", sample=False), n=Count("id"),
        speedup_mean=Avg(speedup_column(benchmark)), compression_error_mean=Avg("compression_error"),
        abs_compression_error_mean=Avg(Abs("compression_error")),
        unsandboxed=Count("id", filter=Q(sandbox="none")),
        # Runs recorded before the effective values existed have none (null); a disconnected run
        # has no effective speedup (null, and left out by the filter all the same).
        effective_compression_mean=Avg("effective_compression"),
        effective_speedup_mean=Avg("effective_speedup", filter=Q(disconnected=False)),
        disconnected=Count("id", filter=Q(disconnected=True)),
        # null for runs recorded before latency was measured
        measured_speedup_mean=Avg("measured_speedup"),
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


def benchmark_latency_machines(*, benchmark: Benchmark, submissions=None) -> list[dict]:
    """The machines the board's finished runs were timed on, most runs first:
    [{"machine": "AMD EPYC 7763 (cpu)", "runs": 40}, ...]. The runs are those of
    `benchmark_curves` (listed methods, the versions the board counts, or `submissions`); runs
    recorded before latency was measured are left out. More than one machine: their measured
    latencies do not compare, and the board says so."""
    if submissions is None:
        submissions = counted_submissions(benchmark=benchmark).values()
    wanted = set(submissions)
    # counted per (submission, machine) and summed here: a board's thousands of counted
    # versions as an IN list cost the database more than the rows it sends back
    runs = Run.objects.filter(benchmark=benchmark, status=FINISHED).filter(LISTED_RUN).exclude(latency_device="")
    counts: dict[str, int] = {}
    for submission_id, machine, n in (runs.order_by().values_list("submission_id", "latency_device")
                                      .annotate(n=Count("id"))):
        if submission_id in wanted:
            counts[machine] = counts.get(machine, 0) + n
    return [{"machine": machine, "runs": n} for machine, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def benchmark_progress(*, benchmark: Benchmark) -> tuple[int, int]:
    """(runs in a final state, all runs) of listed methods on the benchmark."""
    counts = Run.objects.filter(benchmark=benchmark).filter(LISTED_RUN).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status__in=Run.FINAL)))
    return counts["done"], counts["total"]
