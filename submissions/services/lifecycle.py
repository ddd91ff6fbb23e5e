"""A submission cancelled, re-run, withdrawn; a benchmark's runs queued again after a protocol
change."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..dispatch import runs_enqueue
from ..models import ArchivedResult, Run, Submission
from .refresh import submission_refresh


def submission_cancel(submission: Submission) -> int:
    """Cancel the submission and its runs that have not finished; returns how many runs."""
    with transaction.atomic():
        n = submission.runs.exclude(status__in=Run.FINAL).update(status=Run.Status.CANCELLED)
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.CANCELLED,
                                                           updated=timezone.now())
    return n


# A run queued again from scratch: no outcome, no lease, no result.
_FRESH_RUN = dict(status=Run.Status.QUEUED, queued_at=None, error="", traceback="", record={}, user_error=False,
                  limit_hit="", sandbox="", lease_token="", lease_expires=None, started=None, finished=None,
                  **Run.columns_from({}))


def submission_rerun(submission: Submission) -> int:
    """Queue every run of the submission again from scratch; returns how many."""
    with transaction.atomic():
        runs = list(submission.runs.select_related("benchmark"))
        submission.runs.update(**_FRESH_RUN)
        Submission.objects.filter(pk=submission.pk).update(
            status=Submission.Status.QUEUED, error="", finished=None, updated=timezone.now())
        transaction.on_commit(lambda: runs_enqueue(runs))
    return len(runs)


def benchmark_requeue(*, benchmark) -> int:
    """After the evaluator's protocol changed: archive every finished result on the benchmark
    (kept visible, marked with its protocol version) and queue every run of every entry again
    under the current protocol. Returns how many runs were queued."""
    from evaluator.benchmarks import get_benchmark

    current = get_benchmark(benchmark.name)
    with transaction.atomic():
        runs = list(Run.objects.select_for_update().filter(benchmark=benchmark)
                    .exclude(status=Run.Status.RUNNING).select_related("benchmark"))
        ArchivedResult.objects.bulk_create([
            ArchivedResult(run=r, protocol_version=r.record.get("protocol_version", 0),
                           protocol_hash=r.record.get("protocol_hash", ""), top1=r.top1, record=r.record)
            for r in runs if r.status == Run.Status.FINISHED])
        Run.objects.filter(pk__in=[r.pk for r in runs]).update(**_FRESH_RUN)
        Submission.objects.filter(runs__benchmark=benchmark).exclude(
            status=Submission.Status.CANCELLED).update(status=Submission.Status.QUEUED, finished=None)
        type(benchmark).objects.filter(pk=benchmark.pk).update(protocol_hash=current.protocol_hash())
        transaction.on_commit(lambda: runs_enqueue(runs))
    return len(runs)


def submission_withdraw(*, submission: Submission, user, withdrawn: bool = True) -> int:
    """Its owner withdraws the submission (its runs leave the leaderboards and the CSVs, and
    others no longer see it; its runs not yet done are cancelled), or restores it
    (`withdrawn=False`: its finished runs count again). Returns how many runs were cancelled.
    PermissionDenied for anyone but the owner."""
    from django.core.exceptions import PermissionDenied

    if user.pk is None or user.pk not in (submission.owner_id, submission.method.owner_id):
        raise PermissionDenied("only the submission's owner may withdraw it")
    with transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(withdrawn=withdrawn, updated=timezone.now())
        cancelled = (submission.runs.exclude(status__in=Run.FINAL).update(status=Run.Status.CANCELLED)
                     if withdrawn else 0)
    submission.refresh_from_db()
    if cancelled:
        submission_refresh(submission)
    return cancelled
