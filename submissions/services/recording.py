"""Recording a run's result or failure, and the submission's status that follows."""

from __future__ import annotations

import logging
import math

from django.db import transaction
from django.utils import timezone

from ..models import Run
from .leases import _fail_queued_siblings, _holds_lease
from .refresh import submission_refresh

log = logging.getLogger(__name__)


def _finite_or_none(record: dict) -> dict:
    """JSON has no inf/NaN (a fully pruned model has infinite speedup; a diverged finetune a
    NaN loss): such values are stored as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}


def run_record_result(*, run: Run, record: dict, token: str | None = None) -> Run:
    """Store a finished run's record. Idempotent: a run already final is left as it is (a
    redelivered or duplicated task), and a result from a worker that no longer holds the run's
    lease (it expired and the run went to another worker) is refused."""
    record = _finite_or_none(record)
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status in Run.FINAL or not _holds_lease(locked, token):
            log.warning("run %s: result refused (status %s, lease %s)", run.pk, locked.status,
                        "held" if _holds_lease(locked, token) else "lost")
            return locked
        locked.status = Run.Status.FINISHED
        locked.finished = timezone.now()
        locked.take_record(record)
        locked.sandbox = record.get("sandbox", "")
        locked.error = locked.traceback = locked.lease_token = ""
        locked.save()
        log.info("run %s: result recorded (attempt %s)", locked.pk, locked.attempt)
    submission_refresh(locked.submission)
    return locked


def run_record_failure(*, run: Run, message: str, traceback: str = "", user_error: bool = True,
                       limit_hit: str = "", token: str | None = None,
                       status: str = Run.Status.FAILED) -> Run:
    with transaction.atomic():
        locked = Run.objects.select_for_update().select_related("submission", "benchmark").get(pk=run.pk)
        if locked.status in Run.FINAL or not _holds_lease(locked, token):
            return locked
        locked.status, locked.finished, locked.lease_token = status, timezone.now(), ""
        locked.error, locked.traceback, locked.user_error = message, traceback, user_error
        locked.limit_hit = limit_hit
        locked.save()
        siblings = _fail_queued_siblings(locked)
        if siblings:
            log.info("run %s hit the %s limit: %s queued sibling(s) failed with it", locked.pk,
                     limit_hit, siblings)
    submission_refresh(locked.submission)
    return locked

