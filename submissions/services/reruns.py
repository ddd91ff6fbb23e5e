"""Reproducibility re-runs of finished runs."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .. import capabilities
from ..dispatch import dispatch_soon
from ..models import Quota, Rerun, Run
from .quotas import _quota_lock, queued_runs_check
from .recording import _finite_or_none


class RerunPending(ValueError):
    """A re-run of the run is already queued (the API answers 409)."""


def rerun_request(*, run: Run, user=None) -> Rerun:
    """Queue a reproducibility re-run of a finished run (admin action or API), evaluated in full
    like a run. Refused, with nothing stored: a run that is not finished (ValueError); a run one
    of whose re-runs is still pending, whoever asked for it (RerunPending); a re-run that would
    take `user` past PRUNEBOARD_QUEUED_RUNS_PER_USER, where their pending re-runs count with
    their queued runs (LimitExceeded; staff exempt, as `user=None`: the platform itself); a
    run on a benchmark no live worker can run now (capabilities.BenchmarkUnavailable)."""
    if user is not None:
        Quota.objects.get_or_create(user=user)
    with transaction.atomic():
        if user is not None:
            _quota_lock(user)
        run = Run.objects.select_for_update().select_related("benchmark").get(pk=run.pk)
        if run.status != Run.Status.FINISHED:
            raise ValueError(f"run {run.pk} is {run.status}; only a finished run can be re-run")
        if run.reruns.filter(status=Rerun.Status.QUEUED).exists():
            raise RerunPending(f"a re-run of run {run.pk} is already pending; ask again when it "
                               f"has finished")
        capabilities.require_runnable([run.benchmark])  # no worker could take it: it would wait forever
        if user is not None:
            queued_runs_check(user=user, new_runs=1, adding="this re-run adds 1")
        rerun = Rerun.objects.create(run=run, requested_by=user)
        transaction.on_commit(dispatch_soon)  # it waits in the database for the dispatcher
    return rerun


def rerun_start(rerun_id: int) -> Rerun | None:
    """Mark the re-run taken by this worker; None when it is final or another worker has it
    (a duplicate delivery)."""
    now = timezone.now()
    taken = Rerun.objects.filter(pk=rerun_id, status=Rerun.Status.QUEUED, started__isnull=True).update(
        started=now)
    if not taken:
        return None
    return Rerun.objects.select_related("run__submission__method", "run__benchmark").get(pk=rerun_id)


def rerun_record(*, rerun: Rerun, record: dict | None = None, error: str = "") -> Rerun:
    """Store a re-run's outcome and what differs from the original (idempotent)."""
    from evaluator.columns import differences

    with transaction.atomic():
        locked = Rerun.objects.select_for_update().select_related("run").get(pk=rerun.pk)
        if locked.status != Rerun.Status.QUEUED:
            return locked
        locked.finished = timezone.now()
        if record is None:
            locked.status, locked.error = Rerun.Status.FAILED, error
        else:
            record = _finite_or_none(record)
            locked.status, locked.record = Rerun.Status.FINISHED, record
            locked.masks_identical = record["masks_sha256"] == locked.run.record.get("masks_sha256")
            locked.differences = differences(locked.run.record, record)
        locked.save()
    return locked
