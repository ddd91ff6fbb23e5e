"""Keeping the site's benchmarks in step with the evaluator's registry."""

from evaluator.benchmarks import PROTOCOL_VERSION, list_benchmarks
from evaluator.published import PUBLISHED

from .models import Benchmark


def benchmarks_sync() -> list[Benchmark]:
    """Create or update one Benchmark row per registry entry (idempotent)."""
    rows = []
    for position, b in enumerate(list_benchmarks()):
        row, _ = Benchmark.objects.update_or_create(name=b.name, defaults={
            "track": b.track, "base": b.base, "dataset": b.dataset, "model": b.model, "description": b.description,
            "embedded": b.embedded, "queue": b.queue, "reference_top1": b.reference_top1,
            "published_top1": PUBLISHED[b.name].top1 if b.name in PUBLISHED else None,
            "weights_sha256": b.weights_sha256 or "", "compressions": list(b.compressions),
            "seeds": list(b.seeds), "protocol_version": PROTOCOL_VERSION,
            "protocol_hash": b.protocol_hash(), "position": position,
        })
        rows.append(row)
    return rows


METHOD_EDITABLE = ("title", "authors", "venue", "year", "bibtex", "paper_url", "code_url", "description",
                   "granularity", "data_use", "schedule", "keywords", "is_public")


def method_update(*, method, user, data: dict):
    """Save the method's paper metadata, tags and visibility (already validated: the edit form
    or the API). Only its owner may: PermissionDenied for anyone else, staff included (the
    moderators hide methods in the admin)."""
    from django.core.exceptions import PermissionDenied

    if method.owner_id is None or method.owner_id != user.pk:
        raise PermissionDenied("only the method's owner may edit it")
    unknown = set(data) - set(METHOD_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for field, value in data.items():
        setattr(method, field, value)
    method.save(update_fields=list(data))
    return method
