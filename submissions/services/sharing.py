"""Results shared by result key (evaluator/sharing.py), and masks kept by their hash."""

from __future__ import annotations

import logging

from evaluator import maskfile
from evaluator.pruning import Mask

from ..models import LISTED_RUN, MasksBlob, ResultCheck, Run

log = logging.getLogger(__name__)


def shared_result(*, key: str) -> Run | None:
    """The finished run that computed the result of `key` (not itself a sharer), a listed one
    first, the earliest of them; None when no run has."""
    computed = Run.objects.filter(result_key=key, status=Run.Status.FINISHED,
                                  record__shared_with="").order_by("pk")
    return computed.filter(LISTED_RUN).first() or computed.first()


def shared_source(*, run: Run) -> Run | None:
    """The run whose computed result `run` reuses (its record's `shared_with`), if any."""
    shared_with = (run.record or {}).get("shared_with")
    if not shared_with or not run.result_key:
        return None
    return Run.objects.filter(result_key=run.result_key, record__run_id=shared_with).order_by("pk").first()


def masks_keep(mask: Mask) -> str:
    """Store `mask` once by its SHA-256 (a file of evaluator/maskfile.py's format); its SHA-256."""
    sha = mask.sha256()
    if not MasksBlob.objects.filter(sha256=sha).exists():
        MasksBlob.objects.bulk_create([MasksBlob(sha256=sha, data=maskfile.dumps(mask))], ignore_conflicts=True)
    return sha


def result_check_record(*, run: Run, original: Run | None, key: str, differences: list[str]) -> ResultCheck:
    """A would-be-shared run computed anyway: the outcome of the comparison, kept for the
    operator (admin); a difference is logged as an error too."""
    if differences:
        log.error("run %s: its computed result differs from run %s's, which it would have shared "
                  "(result key %s), on %s; it keeps its computed record", run.pk,
                  original.pk if original else "?", key, ", ".join(differences))
    return ResultCheck.objects.create(run=run, original=original, result_key=key, differences=differences)
