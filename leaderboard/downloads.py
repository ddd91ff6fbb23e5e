"""CSV downloads of finished runs, streamed: rows are read from the database in chunks
(`.iterator(chunk_size=...)`, a server-side cursor on PostgreSQL) and written through the csv
module into an echo buffer, so memory does not grow with the number of rows.

Columns: method, method_slug, is_baseline, tier (baseline, reference or entry: the reference
methods are built in but not baselines), submission_id, run_pk, version (the submission's
version of its method), counted (True when the leaderboard counts this row: a listed method's
version that the board counts on the run's benchmark, selectors.counted_versions),
frontier_distance_params and frontier_distance_macs (the run's top-1 minus that of the best network
of its benchmark's dense frontier with no more parameters than its nonzero ones, or MACs:
evaluator/frontier.py; empty when none is that small or the benchmark has no frontier), then every column of the
evaluator's per-run record (evaluator/columns.py COLUMNS, documented in docs/columns.md), in
the same format as the evaluator's own CSV (booleans True/False, missing values empty).

Formula injection (OWASP "CSV Injection"): a spreadsheet evaluates a cell that begins with
=, +, -, @, a tab or a carriage return, and a method's name is the submitter's text. Every text
cell that begins so is written with a single quote in front; numbers (a negative
compression_error) are written as numbers. The csv module quotes a cell holding a line feed but
not one holding a lone carriage return, which many readers take as the end of the row (the
text after it would start a row of its own, unchecked): a row with one is written fully quoted."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from evaluator.columns import COLUMNS
from evaluator.frontier import COSTS, Frontier
from submissions.models import Run

LEADING = ["method", "method_slug", "is_baseline", "tier", "submission_id", "run_pk", "version", "counted",
           "frontier_distance_params", "frontier_distance_macs"]
HEADER = [*LEADING, *COLUMNS]
FIELDS = ("submission__method__name", "submission__method__slug",
          "submission__method__is_baseline", "submission__method__is_reference", "submission_id", "pk",
          "record", "benchmark__track", "submission__version", "benchmark_id", "submission__method_id")
CHUNK_ROWS = 2000  # rows fetched from the database at a time
YIELD_ROWS = 500  # rows joined into one chunk of the response


class Echo:
    """A file-like object whose write returns what it is given (no buffering)."""

    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would run as a formula gets a ' in front; others are as given."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return neutralise(json.dumps(value))
    return neutralise(value)


def csv_lines(runs: QuerySet[Run]) -> Iterator[str]:
    """The CSV text of the finished runs among `runs`, in chunks of rows, ordered by run pk."""
    writer = csv.writer(Echo(), lineterminator="\n")
    quoted = csv.writer(Echo(), lineterminator="\n", quoting=csv.QUOTE_ALL)
    yield writer.writerow(HEADER)
    finished = runs.filter(status=Run.Status.FINISHED)
    counted = _counted(finished)
    frontiers = _frontiers(finished)
    rows = finished.order_by("pk").values_list(*FIELDS).iterator(chunk_size=CHUNK_ROWS)
    batch: list[str] = []
    for (name, slug, is_baseline, is_reference, submission_id, pk, record, track, version, benchmark_id,
         method_id) in rows:
        record = {"track": track, **(record or {})}  # records from before tracks: their benchmark's
        tier = "baseline" if is_baseline else "reference" if is_reference else "entry"
        frontier = frontiers.get(benchmark_id)
        distances = [_cell(frontier and frontier.run_distance(record.get("top1"), record.get("compression"),
                                                              record.get("speedup"), cost)) for cost in COSTS]
        row = [neutralise(name), neutralise(slug), is_baseline, tier, submission_id, pk, version,
               counted.get((benchmark_id, method_id)) == submission_id, *distances,
               *(_cell(record.get(c)) for c in COLUMNS)]
        breaks = any(isinstance(v, str) and "\r" in v for v in row)
        batch.append((quoted if breaks else writer).writerow(row))
        if len(batch) >= YIELD_ROWS:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _counted(runs: QuerySet[Run]) -> dict[tuple[int, int], int]:
    """(benchmark id, method id) -> the submission the leaderboards count there, for the
    benchmarks and methods of `runs`, listed methods only (as the boards count them)."""
    from .selectors import LISTED_RUN, counted_versions

    pairs = runs.order_by().values("benchmark_id", "submission__method_id").distinct()
    benchmarks = {p["benchmark_id"] for p in pairs}
    methods = {p["submission__method_id"] for p in pairs}
    return counted_versions(runs=Run.objects.filter(benchmark_id__in=benchmarks, submission__method_id__in=methods)
                            .filter(LISTED_RUN))


def _frontiers(runs: QuerySet[Run]) -> dict[int, Frontier]:
    """benchmark id -> its dense frontier, for the benchmarks of `runs` that have one."""
    from .models import Benchmark

    stored = Benchmark.objects.filter(pk__in=runs.order_by().values("benchmark_id")).values_list("pk", "frontier")
    return {pk: frontier for pk, data in stored if (frontier := Frontier.from_dict(data)) is not None}


def csv_response(runs: QuerySet[Run], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(runs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
