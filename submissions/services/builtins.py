"""The baselines' and reference methods' submissions and runs (idempotent)."""

from __future__ import annotations

from django.db import transaction

from leaderboard.models import Method

from ..models import Run, Submission
from .rows import runs_create, unique_slug


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
            "slug": lambda: unique_slug(f"{tier}-{name}", builtin=name), "name": name, "description": doc,
            "is_baseline": tier == "baseline", "is_reference": tier == "reference"})
        submission, _ = Submission.objects.get_or_create(
            method=method, baseline=name,
            defaults={"sha256": f"baseline:{name}", "status": Submission.Status.QUEUED})
        submission.benchmarks.add(*benchmarks)
        created = runs_create(submission, benchmarks)
        if created and submission.status in Submission.FINAL:
            submission.status = Submission.Status.QUEUED
            submission.save(update_fields=["status", "updated"])
    return submission, created

