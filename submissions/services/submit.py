"""Uploads: a new method or version from a strategy file, and a method entered on more benchmarks."""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from evaluator.checks import UploadRejected, check_strategy_source
from leaderboard.markdown import render as render_markdown
from leaderboard.models import Method

from ..dispatch import runs_enqueue
from ..models import Quota, StrategyFile, Submission
from .quotas import _quota_lock, limits_check, queued_runs_check
from .rows import runs_create, unique_slug


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
            method = Method.objects.create(name=name.strip(), slug=unique_slug(name), description=description,
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
        runs = runs_create(submission, benchmarks)
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
    runs = runs_create(submission, new)
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
