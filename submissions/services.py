"""Submission and run lifecycle. Views, the API, the admin and Celery tasks call these; the
evaluation itself is the evaluator's (see `submissions.execution`)."""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify

from evaluator.checks import UploadRejected, check_strategy_source
from leaderboard.markdown import render as render_markdown
from leaderboard.metadata import slug_reserved
from leaderboard.models import Method

from . import capabilities
from .dispatch import dispatch_soon, runs_enqueue
from .models import ArchivedResult, Quota, Rerun, Run, StrategyFile, Submission

log = logging.getLogger(__name__)

__all__ = ["UploadRejected", "LimitExceeded", "RerunPending", "submission_create", "method_enter", "baseline_ensure",
           "runs_enqueue", "run_record_result", "run_record_failure", "submission_refresh",
           "submission_cancel", "submission_rerun", "rerun_request"]


def _unique_slug(name: str, *, builtin: str = "") -> str:
    """A free slug from the name ("lamp", then "lamp-2", ...). An entry's is never a reserved
    one (leaderboard.metadata.slug_reserved; the form and the API refuse such names, and a
    caller that did not gets "entry-reference-lamp"); a built-in's is "<tier>-<name>"."""
    base = slugify(name)[:100] or "method"
    if not builtin and slug_reserved(base):
        base = f"entry-{base}"
    slug, n = base, 1
    while Method.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class LimitExceeded(UploadRejected):
    """The file is fine but its owner is over a per-user limit (the API answers 429).
    `retry_after`: seconds until the limit lets the upload through, when that is known."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def read_upload(upload) -> bytes:
    """The upload's bytes, refusing an oversized file by its size before reading it (a file
    over the limit arrives empty, with its real size: submissions.uploads)."""
    limit = settings.PRUNEBOARD_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadRejected(f"the file is {math.ceil(upload.size / 1024)} KB; "
                             f"the limit is {limit // 1024} KB")
    data = upload.read(limit + 1)
    check_strategy_source(upload.name or "", data, limit)
    return data


def submission_create(*, user, upload, name: str, benchmarks, description: str = "",
                      paper_url: str = "", code_url: str = "", is_public: bool = True
                      ) -> tuple[Submission, bool]:
    """Check the file, store it with its SHA-256 and create one Run per benchmark x compression
    x seed, queued after the commit. Returns (submission, created); `submission.added_benchmarks`
    lists the benchmarks whose runs this call queued.

    - The same file again from its owner (under any name): that submission, created=False; the
      chosen benchmarks it is not yet entered on are added to it (`_benchmarks_add`), and nothing
      else is queued. A limit refuses only the added runs.
    - A new file under the name of one of the owner's methods (case aside): the next version of
      that method (Submission.version); a non-empty description, paper or code URL replaces the
      method's. Another user's method of that name is never touched: the owner gets a method of
      their own (its slug gets a number).
    - Otherwise a new method, version 1.
    A new submission over one of the user's limits raises LimitExceeded (`limits_check`)."""
    data = read_upload(upload)
    sha = hashlib.sha256(data).hexdigest()
    benchmarks = list(benchmarks)
    Quota.objects.get_or_create(user=user)
    with transaction.atomic():
        _quota_lock(user)
        existing = (Submission.objects.filter(owner=user, sha256=sha).select_related("method")
                    .order_by("created", "id").first())
        if existing is not None:
            existing.added_benchmarks = _benchmarks_add(existing, benchmarks, user=user)
            return existing, False
        if not benchmarks:
            raise UploadRejected("choose at least one benchmark")
        limits_check(user=user, new_runs=sum(len(b.compressions) * len(b.seeds) for b in benchmarks))
        method = Method.objects.filter(owner=user, name__iexact=name.strip()).order_by("created", "id").first()
        if method is None:
            method = Method.objects.create(name=name.strip(), slug=_unique_slug(name), description=description,
                                           paper_url=paper_url, code_url=code_url, owner=user,
                                           is_public=is_public)
            version = 1
        else:
            given = {k: v for k, v in [("description", description), ("paper_url", paper_url),
                                       ("code_url", code_url)] if v}
            if "description" in given:
                given["description_html"] = render_markdown(description)  # as Method.save does
            if given:
                Method.objects.filter(pk=method.pk).update(**given)
            version = (method.submissions.aggregate(v=Max("version"))["v"] or 0) + 1
        submission = Submission(method=method, version=version, owner=user, sha256=sha,
                                filename=upload.name, status=Submission.Status.QUEUED)
        submission.save()
        StrategyFile.objects.create(submission=submission, data=data)
        submission.benchmarks.set(benchmarks)
        runs = _runs_create(submission, benchmarks)
        transaction.on_commit(lambda: runs_enqueue(runs))
    submission.added_benchmarks = benchmarks
    return submission, True


def _benchmarks_add(submission: Submission, benchmarks, *, user) -> list:
    """Enter the submission on the benchmarks it is not yet on: their runs are created and
    queued after the commit. Returns the benchmarks added. Call it holding the user's Quota
    lock. Refused: a submission a moderator cancelled (UploadRejected), runs over the user's
    queued-runs limit (LimitExceeded)."""
    have = set(submission.benchmarks.values_list("pk", flat=True))
    new = [b for b in benchmarks if b.pk not in have]
    if not new:
        return []
    if submission.status == Submission.Status.CANCELLED:
        raise UploadRejected(f"submission #{submission.pk} (this file) was cancelled by a "
                             f"moderator; it cannot be entered on more benchmarks")
    n = sum(len(b.compressions) * len(b.seeds) for b in new)
    queued_runs_check(user=user, new_runs=n, adding=f"entering it on {', '.join(b.name for b in new)} adds {n}")
    submission.benchmarks.add(*new)
    runs = _runs_create(submission, new)
    # A submission that had finished (or failed) is waiting again; a running one stays running.
    if Submission.objects.filter(pk=submission.pk, status__in=Submission.FINAL).update(
            status=Submission.Status.QUEUED, finished=None, error="", updated=timezone.now()):
        submission.status = Submission.Status.QUEUED
    transaction.on_commit(lambda: runs_enqueue(runs))
    return new


def method_enter(*, method: Method, user, benchmarks) -> tuple[Submission, list]:
    """Enter the method's latest version on more benchmarks (its owner only: PermissionDenied
    otherwise). Returns (that submission, the benchmarks added; empty when it was on all of
    them already)."""
    if method.owner_id is None or method.owner_id != user.pk:
        raise PermissionDenied("only the method's owner may enter it on benchmarks")
    Quota.objects.get_or_create(user=user)
    with transaction.atomic():
        _quota_lock(user)
        submission = method.submissions.order_by("-version").first()
        if submission is None:
            raise UploadRejected("this method has no uploaded version to enter")
        added = _benchmarks_add(submission, list(benchmarks), user=user)
    return submission, added


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class RerunPending(ValueError):
    """A re-run of the run is already queued (the API answers 409)."""


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


def baseline_ensure(name: str, benchmarks) -> tuple[Submission, list[Run]]:
    """The baseline's (or reference method's) method and submission, with every missing run
    created (idempotent). Returns the submission and the runs created now (to be queued)."""
    import sys

    from evaluator.pruning import builtin_tier, get_builtin

    cls, tier = get_builtin(name), builtin_tier(name)
    doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip()
    with transaction.atomic():
        # Found by its registry name, never by slug: an entry that took "<tier>-<name>" before
        # such slugs were reserved keeps it, and the built-in gets "<tier>-<name>-2".
        method, _ = Method.objects.get_or_create(builtin_name=name, defaults={
            "slug": lambda: _unique_slug(f"{tier}-{name}", builtin=name), "name": name, "description": doc,
            "is_baseline": tier == "baseline", "is_reference": tier == "reference"})
        submission, _ = Submission.objects.get_or_create(
            method=method, baseline=name,
            defaults={"sha256": f"baseline:{name}", "status": Submission.Status.QUEUED})
        submission.benchmarks.add(*benchmarks)
        created = _runs_create(submission, benchmarks)
        if created and submission.status in Submission.FINAL:
            submission.status = Submission.Status.QUEUED
            submission.save(update_fields=["status", "updated"])
    return submission, created


def _runs_create(submission: Submission, benchmarks) -> list[Run]:
    wanted = [Run(submission=submission, benchmark=b, compression=float(c), seed=int(s))
              for b in benchmarks for c in b.compressions for s in b.seeds]
    have = set(submission.runs.values_list("benchmark_id", "compression", "seed"))
    new = [r for r in wanted if (r.benchmark_id, r.compression, r.seed) not in have]
    Run.objects.bulk_create(new)  # sets primary keys on PostgreSQL and SQLite
    return new


def _lease_seconds() -> int:
    return settings.PRUNEBOARD_LEASE_SECONDS


def run_start(run_id: int, *, host: str) -> tuple[Run, str] | None:
    """Take the run's lease and mark it running: returns (run, lease token), or None when there
    is nothing to do: the run is final, another worker holds a live lease on it (a duplicate
    delivery), its submission was cancelled, another of its jobs on the benchmark hit a
    sandbox limit (the run fails at once with that limit, no sandbox started), or it was
    started PRUNEBOARD_MAX_ATTEMPTS times already (it fails as the platform's)."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("submission", "benchmark").get(pk=run_id)
        if run.status in Run.FINAL:
            return None
        if run.status == Run.Status.RUNNING and run.lease_expires and run.lease_expires > now:
            return None
        if run.submission.status == Submission.Status.CANCELLED:
            run.status = Run.Status.CANCELLED
            run.save(update_fields=["status"])
            return None
        tripped = _limit_tripped_by_sibling(run)
        spent = tripped is None and run.attempt >= settings.PRUNEBOARD_MAX_ATTEMPTS
        if spent:  # however it came back (the reaper, a retry, a duplicate message): no more starts
            run.status, run.finished, run.user_error = Run.Status.FAILED, now, False
            run.error = (f"platform failure: the run was started {run.attempt} times without a "
                         f"result (not charged to you)")
            run.lease_token, run.lease_expires = "", None
            run.save(update_fields=["status", "finished", "user_error", "error", "lease_token",
                                    "lease_expires"])
        elif tripped is None:
            token = _lease_take(run, host=host, now=now)
        else:
            run.status, run.finished, run.user_error = Run.Status.FAILED, now, True
            run.error, run.limit_hit = _sibling_hit_limit(tripped), tripped.limit_hit
            run.save(update_fields=["status", "finished", "user_error", "error", "limit_hit"])
    if tripped is not None or spent:
        submission_refresh(run.submission)
        return None
    return run, token


def _lease_take(run: Run, *, host: str, now) -> str:
    token = uuid.uuid4().hex
    run.status, run.attempt, run.worker_host = Run.Status.RUNNING, run.attempt + 1, host
    run.started, run.lease_token = now, token
    run.lease_expires = now + timedelta(seconds=_lease_seconds())
    run.save(update_fields=["status", "attempt", "worker_host", "started", "lease_token",
                            "lease_expires"])
    Submission.objects.filter(pk=run.submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING, updated=now)
    return token


# A strategy that ran into a sandbox limit (memory, time, ...) on one job of a benchmark would run
# into it on each of the others: they fail at once, charged to the submitter, instead of each
# holding a worker until the limit stops it again. Baselines (trusted code) are never affected.

def _limit_tripped_by_sibling(run: Run) -> Run | None:
    """The run of the same uploaded submission on the same benchmark that failed on a sandbox
    limit in the submitter's code, if one did: one that ran (its siblings failed with it never
    started), the first to fail."""
    if run.submission.baseline:
        return None
    return (Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                               status=Run.Status.FAILED, user_error=True)
            .exclude(limit_hit="").exclude(pk=run.pk).select_related("benchmark")
            .order_by(F("started").asc(nulls_last=True), "finished", "pk").first())


def _sibling_hit_limit(tripped: Run) -> str:
    return (f"not run: job ({tripped.compression:g}x, seed {tripped.seed}) hit the "
            f"{tripped.limit_hit} limit on {tripped.benchmark.name}, and every job of this "
            f"submission there runs the same code, so this one was failed at once without "
            f"running. That job's error: {tripped.error}")


def _fail_queued_siblings(run: Run) -> int:
    """Fail the queued runs of `run`'s submission on its benchmark, `run` having just hit a
    sandbox limit in the submitter's code; returns how many. Their tasks, when delivered, find
    them final and do nothing. A sibling already running is left to finish."""
    if run.submission.baseline or not (run.user_error and run.limit_hit) or run.status != Run.Status.FAILED:
        return 0
    return (Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                               status=Run.Status.QUEUED).exclude(pk=run.pk)
            .update(status=Run.Status.FAILED, finished=run.finished, user_error=True,
                    limit_hit=run.limit_hit, error=_sibling_hit_limit(run), traceback="",
                    lease_token="", lease_expires=None))


# A batch: the sandbox of one run's task computes the masks of the run's queued siblings too
# (submissions.execution). Its claim on them is the siblings' `lease_token` (the batch's own,
# while they are still queued; `run_start` replaces it with the run's lease) until
# `lease_expires`: no other batch computes them meanwhile.

def batch_claim(run: Run, *, claim: str, seconds: int) -> list[tuple[int, float, int]]:
    """Claim `run`'s queued siblings (same submission and benchmark) that no live batch holds,
    for `seconds`; returns them as (pk, compression, seed), by seed then compression."""
    now = timezone.now()
    siblings = Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                                  status=Run.Status.QUEUED).exclude(pk=run.pk)
    siblings.filter(Q(lease_token="") | Q(lease_expires__isnull=True) | Q(lease_expires__lt=now)).update(
        lease_token=claim, lease_expires=now + timedelta(seconds=seconds))
    return list(siblings.filter(lease_token=claim).order_by("seed", "compression")
                .values_list("pk", "compression", "seed"))


def batch_release(run_ids, *, claim: str) -> int:
    """Give back the claim on runs the batch did not compute (its window closed first)."""
    return Run.objects.filter(pk__in=list(run_ids), status=Run.Status.QUEUED, lease_token=claim).update(
        lease_token="", lease_expires=None)


def batch_record_failures(submission: Submission, failures, *, claim: str) -> int:
    """Record each (run id, message, traceback, limit) as the failure of that queued run, the
    submitter's: its job failed in a batch, so no task computes it again (the run's own task
    finds it final). Returns how many were recorded."""
    now, recorded = timezone.now(), 0
    for pk, message, traceback, limit in failures:
        recorded += Run.objects.filter(pk=pk, status=Run.Status.QUEUED, lease_token=claim).update(
            status=Run.Status.FAILED, finished=now, user_error=True, error=message,
            traceback=traceback, limit_hit=limit, lease_token="", lease_expires=None)
    if recorded:
        log.info("submission %s: %s run(s) failed in another run's batch", submission.pk, recorded)
        submission_refresh(submission)
    return recorded


def run_heartbeat(run_id: int, token: str) -> bool:
    """Renew the lease; False when the worker should stop: it lost the lease (the reaper gave
    the run to another worker) or the submission was cancelled."""
    renewed = Run.objects.filter(pk=run_id, lease_token=token, status=Run.Status.RUNNING).exclude(
        submission__status=Submission.Status.CANCELLED).update(
        lease_expires=timezone.now() + timedelta(seconds=_lease_seconds()))
    return bool(renewed)


def _holds_lease(run: Run, token: str | None) -> bool:
    if token is None:  # recorded outside a worker (tests, the admin)
        return True
    return run.lease_token == token and run.status == Run.Status.RUNNING


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
