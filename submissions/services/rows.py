"""The rows that uploads and the built-ins share: a free slug for a new method, a submission's
missing runs."""

from __future__ import annotations

from django.utils.text import slugify

from leaderboard.metadata import slug_reserved
from leaderboard.models import Method

from ..models import Run, Submission


def unique_slug(name: str, *, builtin: str = "") -> str:
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


def runs_create(submission: Submission, benchmarks) -> list[Run]:
    wanted = [Run(submission=submission, benchmark=b, compression=float(c), seed=int(s))
              for b in benchmarks for c in b.compressions for s in b.seeds]
    have = set(submission.runs.values_list("benchmark_id", "compression", "seed"))
    new = [r for r in wanted if (r.benchmark_id, r.compression, r.seed) not in have]
    Run.objects.bulk_create(new)  # sets primary keys on PostgreSQL and SQLite
    return new

