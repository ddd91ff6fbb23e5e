"""Per-user limits on submissions and queued runs, checked under the user's Quota lock."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from evaluator.checks import UploadRejected

from ..models import Quota, Rerun, Run, Submission


class LimitExceeded(UploadRejected):
    """The file is fine but its owner is over a per-user limit (the API answers 429).
    `retry_after`: seconds until the limit lets the upload through, when that is known."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def limits_check(*, user, new_runs: int) -> None:
    """Raise LimitExceeded when a new submission of `new_runs` runs would take the user over a
    limit. Call it holding the user's Quota lock (submission_create), or two uploads at the same
    instant could both pass.

    - PRUNEBOARD_SUBMISSIONS_PER_DAY: the user's submissions created since 00:00 UTC today,
      except a failed one none of whose runs failed in the user's code (Run.user_error): the
      platform failed it, so it is not held against them. A cancelled one counts: only a
      moderator cancels, and the upload was made all the same.
    - PRUNEBOARD_QUEUED_RUNS_PER_USER: `queued_runs_check`.

    Staff are exempt (moderators re-submit and test the site). Baselines are never counted:
    they have no owner and are made by `baseline_ensure`, not here."""
    if user.is_staff:
        return
    now = timezone.now()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)  # UTC: settings.USE_TZ
    per_day = settings.PRUNEBOARD_SUBMISSIONS_PER_DAY
    user_failed = Run.objects.filter(submission=OuterRef("pk"), user_error=True)
    today = (Submission.objects.filter(owner=user, created__gte=day_start)
             .exclude(Q(status=Submission.Status.FAILED) & ~Exists(user_failed)).count())
    if today >= per_day:
        retry_after = math.ceil((day_start + timedelta(days=1) - now).total_seconds())
        raise LimitExceeded(f"you have made {_plural(today, 'submission')} today (UTC); the limit "
                            f"is {per_day} — try again after 00:00 UTC", retry_after=retry_after)
    queued_runs_check(user=user, new_runs=new_runs, adding=f"this submission adds {new_runs}")


def queued_runs_check(*, user, new_runs: int, adding: str) -> None:
    """Raise LimitExceeded when `new_runs` more would take the user past
    PRUNEBOARD_QUEUED_RUNS_PER_USER: the runs of their submissions that are queued or running,
    plus the re-runs they asked for that are still pending. `adding` says what is being added,
    for the message. Call it holding the user's Quota lock; staff are exempt."""
    if user.is_staff:
        return
    per_user = settings.PRUNEBOARD_QUEUED_RUNS_PER_USER
    runs = Run.objects.filter(submission__owner=user,
                              status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).count()
    reruns = Rerun.objects.filter(requested_by=user, status=Rerun.Status.QUEUED).count()
    queued = runs + reruns
    if queued + new_runs > per_user:
        of_them = f" ({reruns} of them re-runs)" if reruns else ""
        raise LimitExceeded(f"you have {_plural(queued, 'run')} queued or running{of_them}; "
                            f"{adding} and the limit is {per_user} — try again when some have "
                            f"finished")


def _quota_lock(user) -> None:
    """The user's lock, as the first statement of the transaction: an UPDATE locks the row on
    PostgreSQL (as SELECT ... FOR UPDATE would) and takes SQLite's one write lock. A second
    request of the same user waits here until the first commits, then sees it."""
    Quota.objects.filter(user=user).update(locked=timezone.now())
