"""Reads of submissions and runs: who may see what, and the progress of a submission."""

from __future__ import annotations

import math

from django.db.models import Count, Q, QuerySet

from ..models import Run, Submission

DONE = Q(runs__status__in=Run.FINAL)


def submission_visible(*, submission: Submission, user) -> bool:
    """Listed methods (baselines included) are public; a private or hidden one, or a submission
    its owner withdrew, is seen only by its owner and staff."""
    return ((submission.method.listed and not submission.withdrawn)
            or submission_errors_visible(submission=submission, user=user))


def submission_errors_visible(*, submission: Submission, user) -> bool:
    """Run errors and tracebacks (the submitter's own code) are for the owner and staff."""
    if not user.is_authenticated:
        return False
    return user.is_staff or (submission.owner_id is not None and submission.owner_id == user.pk)


def submission_progress(*, submission: Submission) -> dict:
    """The status page's state, also served as JSON to its poller. done = finished + failed +
    cancelled runs."""
    runs = list(submission.runs.select_related("benchmark"))
    counts = {status: 0 for status in Run.Status.values}
    for run in runs:
        counts[run.status] += 1
    return {
        "status": submission.status,
        "done": sum(counts[s] for s in Run.FINAL),
        "total": len(runs),
        "finished": counts[Run.Status.FINISHED],
        "failed": counts[Run.Status.FAILED],
        "runs": [{"id": r.pk, "benchmark": r.benchmark.name, "compression": r.compression,
                  "seed": r.seed, "status": r.status, "top1": r.top1, "attempt": r.attempt,
                  "actual_compression": _finite(r.actual_compression), "speedup": _finite(r.speedup),
                  "unsandboxed": r.sandbox == "none"}
                 for r in runs],
        "final": submission.status in Submission.FINAL,
    }


def _finite(value):
    """JSON has no inf (an all-pruned model's speedup): null, shown as '—'."""
    return value if value is None or math.isfinite(value) else None


def submission_failed_runs(*, submission: Submission) -> QuerySet[Run]:
    return submission.runs.filter(status=Run.Status.FAILED).select_related("benchmark")


def submission_list_for_owner(*, user) -> QuerySet[Submission]:
    """The user's submissions, newest first, each with `runs_done` and `runs_total`."""
    return (Submission.objects.filter(owner=user).select_related("method")
            .annotate(runs_total=Count("runs"), runs_done=Count("runs", filter=DONE)))
