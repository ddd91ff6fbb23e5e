"""What one method's page reads: its versions, code, runs, curves and archived results."""

from __future__ import annotations

import pandas as pd
from django.db.models import Prefetch, Q, QuerySet

from submissions.models import ArchivedResult, Rerun, Run, Submission
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, Method
from .board import FINISHED, benchmark_curves

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
