"""The leaderboard table's reader controls, server side (so they work without JavaScript):
sorting the ranking by any column (`?sort=score&dir=desc`) and choosing methods to compare
(`?compare=slug&compare=slug`). static/js/sort-table.js sorts the same way in the browser."""

from __future__ import annotations

import math
from urllib.parse import urlencode

# Columns a reader may sort by; per-compression columns are "c<compression>" (c4, c0.5).
FIXED_COLUMNS = {"rank", "method", "score", "err", "eff", "spd", "meas", "n"}
ASCENDING_FIRST = {"rank", "method"}  # the others start highest first


def sort_columns(compressions) -> list[str]:
    return ["rank", "method", *(f"c{float(c):g}" for c in compressions), "score", "err", "eff", "spd", "meas", "n"]


def _value(row, column: str, compressions: list[float], by: str):
    """The value of `column` in a ranking row (selectors.RankedMethod) ranked `by`."""
    if column == "method":
        return row.method.casefold()
    if column == "score":
        return row.by(by).score
    if column == "err":
        return row.abs_compression_error
    if column == "eff":
        return row.effective_top
    if column == "spd":
        return row.theoretical_top
    if column == "meas":
        return row.measured_top
    if column == "n":
        return row.n_min
    key = float(column[1:])
    for c, cell in zip(compressions, row.cells):
        if float(c) == key:
            return None if cell is None else cell.mean
    return None


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def sort_ranking(rows: list, column: str, descending: bool, compressions, by: str = "compression") -> list:
    """The rows (in the order of the ranking `by`) ordered by `column` (an unknown column leaves
    the ranking's order); rows with no value sort last either way; ties keep the ranking's order."""
    compressions = [float(c) for c in compressions]
    if column not in sort_columns(compressions) or column == "rank":
        return list(reversed(rows)) if column == "rank" and descending else list(rows)
    present = [r for r in rows if not _missing(_value(r, column, compressions, by))]
    absent = [r for r in rows if _missing(_value(r, column, compressions, by))]
    present.sort(key=lambda r: _value(r, column, compressions, by), reverse=descending)
    return present + absent


def sort_state(params, compressions) -> tuple[str, bool]:
    """The requested (column, descending) from the query; unknown values fall back to the
    ranking's own order."""
    column = params.get("sort", "rank")
    if column not in sort_columns(compressions):
        column = "rank"
    direction = params.get("dir")
    descending = direction == "desc" if direction in ("asc", "desc") else column not in ASCENDING_FIRST
    return column, descending


def sort_links(params, compressions, column: str, descending: bool) -> dict[str, dict]:
    """Per column: the href that sorts by it (the current column flips its direction) and its
    aria-sort value. Other query parameters (by, compare) are kept."""
    links = {}
    kept = kept_params(params, "sort", "dir")
    for name in sort_columns(compressions):
        if name == column:
            flip = not descending
        else:
            flip = name not in ASCENDING_FIRST
        query = urlencode(kept + [("sort", name), ("dir", "desc" if flip else "asc")])
        links[name] = {"href": f"?{query}#ranking",
                       "aria": ("descending" if descending else "ascending") if name == column else "none"}
    return links


def kept_params(params, *dropped: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs but the dropped names: what a link or form that changes
    one setting carries over (by, at, sort, compare, search)."""
    return [(k, v) for k, values in params.lists() for v in values if k not in dropped]


def carried(params) -> dict:
    """What the page's links and forms that change one setting carry over, so that comparing,
    switching the ranking or ranking at one point keeps the rest (sort, search, ...):
    `compare`: the compare form's hidden fields, `every`: its "show every method" query;
    `by`: each ranking's query (the point `at` is dropped: each ranking has its own points);
    `at`: the rank-at form's hidden fields besides `by`."""
    besides_compare = kept_params(params, "compare")
    besides_ranking = kept_params(params, "by", "at")
    return {"compare": besides_compare, "every": urlencode(besides_compare), "at": besides_ranking,
            "by": {"compression": urlencode(besides_ranking),
                   "speedup": urlencode(besides_ranking + [("by", "speedup")])}}


def compared(params, ranking: list) -> tuple[list, list[str]]:
    """The ranking rows the reader chose to compare (`compare`, repeated or comma-separated
    slugs), and the requested slugs that name no method of this leaderboard."""
    wanted = list(dict.fromkeys(s.strip() for value in params.getlist("compare")
                                for s in value.split(",") if s.strip()))
    by_slug = {r.slug: r for r in ranking}
    return [by_slug[s] for s in wanted if s in by_slug], [s for s in wanted if s not in by_slug]
