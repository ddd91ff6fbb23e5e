"""A board's ranked table, one screen at a time: the page's HTML does not grow with methods it
does not show. The first PAGE_ROWS rows of the (sorted, searched) table are shown; `?page=N`
shows the N-th screen and `?all=1` every row. The charts draw the baselines, the reference
methods, the top entries and the methods the reader chose to compare; the legend also offers the
other methods of the screen shown, and the compare form lists those of the screen (plus the
built-ins and the chosen ones)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Paginator

from ..charts import initially_shown

PAGE_ROWS = 50  # rows of the ranking table on one screen


@dataclass(frozen=True)
class TablePage:
    """The rows of the table to show, and where they are in the whole table."""

    rows: list  # the rows shown
    number: int  # this screen, 1 for the first
    pages: int  # screens in the whole table
    total: int  # rows in the whole table
    first: int  # the 1-based position of rows[0] in the table (0 when empty)
    last: int  # the position of rows[-1]
    show_all: bool  # every row shown (?all=1)
    links: dict  # query strings: "previous", "next", "all", "first" (None where there is none)

    @property
    def partial(self) -> bool:
        """Some rows of the table are not on this screen."""
        return self.total > len(self.rows)


def table_page(rows: list, params, *, per_page: int | None = None) -> TablePage:
    """The screen of `rows` the query asks for (`page`, 1-based: Django's Paginator.get_page, so
    a page that is not a number shows the first screen and one past the end the last; `all=1`:
    every row; `per_page`: PAGE_ROWS unless given). The links keep the other parameters (sort, search, by, compare)."""
    kept = [(k, v) for k, values in params.lists() for v in values if k not in ("page", "all")]
    if params.get("all") == "1" or not rows:
        return TablePage(rows=list(rows), number=1, pages=1, total=len(rows), first=1 if rows else 0,
                         last=len(rows), show_all=bool(rows) and params.get("all") == "1",
                         links={"previous": None, "next": None, "all": None,
                                "first": urlencode(kept) if params.get("all") == "1" else None})
    page = Paginator(rows, per_page or PAGE_ROWS).get_page(params.get("page"))
    pages = page.paginator.num_pages
    return TablePage(
        rows=list(page.object_list), number=page.number, pages=pages, total=len(rows),
        first=page.start_index(), last=page.end_index(), show_all=False,
        links={"previous": urlencode(kept + [("page", page.previous_page_number())]) if page.has_previous() else None,
               "next": urlencode(kept + [("page", page.next_page_number())]) if page.has_next() else None,
               "all": urlencode(kept + [("all", "1")]) if pages > 1 else None,
               "first": None})


def charted_methods(ranking: list, page_rows: list, chosen: list, *, entries: int = 10) -> tuple[set[int], set[int]]:
    """(the method ids whose curves the charts carry, those drawn when the page opens): the
    chosen ones alone when the reader compares; else every baseline and reference method and the
    top `entries` entries drawn, and the other methods of the screen shown offered in the legend."""
    if chosen:
        ids = {r.method_id for r in chosen}
        return ids, ids
    shown = initially_shown(ranking, entries=entries)
    return shown | {r.method_id for r in page_rows}, shown


def compare_choices(ranking: list, page_rows: list, chosen: list) -> list:
    """The methods the compare form offers, in ranking order: the built-ins, the screen's rows
    and the chosen ones (not all of a board of thousands)."""
    offered = {r.method_id for r in page_rows} | {r.method_id for r in chosen}
    return [r for r in ranking if r.method_id in offered or r.is_baseline or r.is_reference]
