"""Runs whose worker vanished: their lease lapsed, so they are queued again or failed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..dispatch import dispatch_soon
from ..models import Rerun, Run, Submission
from .leases import _lease_seconds
from .refresh import submission_refresh


def runs_reap() -> dict:
    """The reaper (Celery beat, on the `control` queue): runs whose worker stopped renewing its
    lease go back to waiting in the database (the dispatcher sends them again, at their
    priority), up to PRUNEBOARD_MAX_ATTEMPTS, then fail as a platform failure (not charged to
    the submitter). A re-run taken by a worker that died (started longer ago than its
    benchmark's time limit and a lease) waits again too. Lost broker messages are the
    dispatcher's (`dispatch.runs_find_lost`). Duplicate deliveries are harmless: `run_start`
    lets one worker through."""
    from evaluator.benchmarks import get_benchmark

    now = timezone.now()
    requeued, failed = 0, []
    with transaction.atomic():
        expired = Run.objects.select_for_update(skip_locked=True).filter(
            status=Run.Status.RUNNING, lease_expires__lt=now)
        for run in expired:
            if run.attempt >= settings.PRUNEBOARD_MAX_ATTEMPTS:
                run.status, run.finished, run.user_error = Run.Status.FAILED, now, False
                run.error = (f"platform failure: the worker stopped responding on each of "
                             f"{run.attempt} attempts (not charged to you)")
                run.lease_token = ""
                run.save(update_fields=["status", "finished", "user_error", "error", "lease_token"])
                failed.append(run)
            else:
                run.status, run.lease_token, run.queued_at = Run.Status.QUEUED, "", None
                run.save(update_fields=["status", "lease_token", "queued_at"])
                requeued += 1
        for rerun in Rerun.objects.filter(status=Rerun.Status.QUEUED, started__isnull=False).select_related("run__benchmark"):
            limit = get_benchmark(rerun.run.benchmark.name).task_seconds() + _lease_seconds()
            if rerun.started < now - timedelta(seconds=limit):
                requeued += Rerun.objects.filter(pk=rerun.pk, started=rerun.started).update(
                    started=None, queued_at=None)
    if requeued:
        transaction.on_commit(dispatch_soon)
    for submission in Submission.objects.filter(pk__in={r.submission_id for r in failed}):
        submission_refresh(submission)
    return {"requeued": requeued, "failed": len(failed)}
