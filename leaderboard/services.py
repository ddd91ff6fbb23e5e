"""Keeping the site's benchmarks in step with the evaluator's registry."""

from evaluator.benchmarks import PROTOCOL_VERSION, list_benchmarks
from evaluator.frontier import get_frontier
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
            "frontier": frontier.as_dict() if (frontier := get_frontier(b.name)) else {},
        })
        rows.append(row)
    return rows


METHOD_EDITABLE = ("title", "authors", "venue", "year", "bibtex", "paper_url", "code_url", "description",
                   "granularity", "data_use", "schedule", "keywords", "is_public", "code_public")


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
    if data.get("bibtex"):  # pasted BibTeX fills the paper fields left empty
        from .metadata import bibtex_fields

        for field, value in bibtex_fields(data["bibtex"]).items():
            if data.get(field, getattr(method, field)) in ("", None):
                data = {**data, field: value}
    for field, value in data.items():
        setattr(method, field, value)
    method.save(update_fields=list(data))
    return method


PAPER_FIELDS = {"title": "title", "authors": "authors", "venue": "venue", "year": "year", "bibtex": "bibtex",
                "paper_url": "url", "granularity": "granularity", "data_use": "data_use",
                "schedule": "schedule", "keywords": "keywords"}


def builtin_papers_sync() -> int:
    """Give each built-in method whose evaluator class names its paper (the reference methods:
    `paper = Paper(...)`) that paper's title, authors, venue, year, BibTeX, link and tags, in
    the fields still empty (a moderator's edit in the admin stays). Idempotent; returns how
    many methods changed."""
    from django.db.models import Q

    from evaluator.pruning import get_builtin

    from .models import Method

    changed = 0
    for method in Method.objects.filter(Q(is_baseline=True) | Q(is_reference=True)):
        name = method.slug.partition("-")[2]  # the slug is "<tier>-<registry name>"
        try:
            paper = getattr(get_builtin(name), "paper", None)
        except ValueError:  # not (or no longer) in the registry
            continue
        if paper is None:
            continue
        fill = {field: getattr(paper, attr) for field, attr in PAPER_FIELDS.items()
                if getattr(method, field) in ("", None)}
        if fill:
            for field, value in fill.items():
                setattr(method, field, value)
            method.save(update_fields=list(fill))
            changed += 1
    return changed



def method_count_version(*, method, user, version: int | None):
    """The owner's choice of the version the leaderboards count: a version number (counted on
    each benchmark where it is complete; elsewhere the latest complete one), or None for the
    default, the latest complete version. PermissionDenied for anyone but the owner; ValueError
    for a version the method does not have."""
    from django.core.exceptions import PermissionDenied

    if method.owner_id is None or method.owner_id != user.pk:
        raise PermissionDenied("only the method's owner may choose its counted version")
    if version is not None and not method.submissions.filter(version=version).exists():
        known = ", ".join(f"v{v}" for v in method.submissions.order_by("version").values_list("version", flat=True))
        raise ValueError(f"{method.name} has no version {version} (it has {known or 'none'})")
    method.counted_version = version
    method.save(update_fields=["counted_version"])
    return method
