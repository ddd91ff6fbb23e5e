"""Searching the methods by text, tag, author and keyword."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ..models import Method

# --- search ----------------------------------------------------------------------------------

SEARCH_PARAMS = ("q", "tag", "author", "keyword")


def search_params(params) -> tuple[dict, list[str]]:
    """The search of a page's GET parameters: q (name, title, authors, venue or keywords
    contain it), tag (repeatable, of the fixed vocabulary), author, keyword (one exact
    keyword). Returns (the search, the errors to show: an unknown tag names the vocabulary)."""
    from django.core.exceptions import ValidationError

    from ..metadata import tag_axis

    search = {"q": params.get("q", "").strip()[:200], "author": params.get("author", "").strip()[:200],
              "keyword": " ".join(params.get("keyword", "").split()).lower()[:200], "tags": []}
    errors = []
    for tag in params.getlist("tag") if hasattr(params, "getlist") else params.get("tag", []):
        tag = tag.strip().lower()
        if not tag:
            continue
        try:
            tag_axis(tag)
        except ValidationError as exc:
            errors.extend(exc.messages)
        else:
            search["tags"].append(tag)
    return search, errors


def search_active(search: dict) -> bool:
    return bool(search["q"] or search["author"] or search["keyword"] or search["tags"])


def methods_search(*, methods: QuerySet[Method], q: str = "", tags=(), author: str = "",
                   keyword: str = "") -> QuerySet[Method]:
    """The methods matching every given criterion: `q` in the name, title, authors, venue or
    keywords; each tag; `author` in the authors; `keyword` one of the keywords. Text is matched
    as text (case aside, SQL LIKE with its wildcards escaped): no pattern syntax."""
    from django.db.models import Value
    from django.db.models.functions import Concat

    from ..metadata import VOCABULARY

    if q:
        methods = methods.filter(Q(name__icontains=q) | Q(title__icontains=q) | Q(authors__icontains=q)
                                 | Q(venue__icontains=q) | Q(keywords__icontains=q))
    for tag in tags:
        methods = methods.filter(**{VOCABULARY[tag]: tag})
    if author:
        methods = methods.filter(authors__icontains=author)
    if keyword:
        methods = (methods.annotate(_keywords=Concat(Value(", "), "keywords", Value(", ")))
                   .filter(_keywords__contains=f", {keyword}, "))
    return methods
