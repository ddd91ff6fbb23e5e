"""A submission's status, derived from its runs' (the aggregation step after each run)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import Run, Submission


def submission_refresh(submission: Submission) -> Submission:
    """Derive the submission's status from its runs (the aggregation step after each run)."""
    counts = submission.runs.aggregate(
        total=Count("id"),
        final=Count("id", filter=Q(status__in=Run.FINAL)),
        finished=Count("id", filter=Q(status=Run.Status.FINISHED)),
        failed=Count("id", filter=Q(status=Run.Status.FAILED)),
        started=Count("id", filter=~Q(status=Run.Status.QUEUED)),
    )
    with transaction.atomic():
        sub = Submission.objects.select_for_update().get(pk=submission.pk)
        if sub.status == Submission.Status.CANCELLED:
            return sub
        if counts["total"] and counts["final"] == counts["total"]:
            sub.status = Submission.Status.FINISHED if counts["finished"] else Submission.Status.FAILED
            sub.finished = timezone.now()
            sub.error = (f"{counts['failed']} of {counts['total']} runs failed"
                         if counts["failed"] else "")
        elif counts["started"]:
            sub.status = Submission.Status.RUNNING
        sub.save(update_fields=["status", "finished", "error", "updated"])
    return sub

