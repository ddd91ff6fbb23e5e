"""Formatting for the leaderboard templates: `{% load leaderboard_extras %}`."""

import json
import math
from urllib.parse import urlsplit

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from leaderboard import markdown
from leaderboard.charts import measured, seeds_label

register = template.Library()

URL_SCHEMES = markdown.URL_SCHEMES


@register.filter
def figure_json(value, element_id: str) -> str:
    """Django's `json_script`, escaped the same way (<, > and & as \\u003C, \\u003E, \\u0026, so
    no string in the data can close the script element), by three replaces: `str.translate`
    falls off its fast path on a figure's hover templates ("<br>") and took 30 ms a figure
    of 200 methods."""
    data = json.dumps(value, cls=DjangoJSONEncoder)
    data = data.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")
    return format_html('<script id="{}" type="application/json">{}</script>', element_id, mark_safe(data))


@register.filter
def markdown_safe(text) -> str:
    """Markdown rendered, then sanitized (leaderboard/markdown.py: linear time, no scripts, no
    event handlers, no style, only http/https links). A method's page shows the description
    rendered when it was saved (Method.description_html) instead."""
    return mark_safe(markdown.render(text))


@register.filter
def http_url(url) -> str:
    """The URL when it is http(s) with a host, else '' (so the template shows no link)."""
    url = str(url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in URL_SCHEMES and parts.netloc else ""


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# The site's one notation (README "Notation"): top-1 and other accuracies as percentages with
# one decimal ("97.2"); a requested compression or speedup as "4×"; a measured ratio to three
# significant digits ("3.98×", "15.8×"); seed counts as "1 seed" / "n = 3".


@register.filter
def mean_std(cell, unit: str = "pct") -> str:
    """A cell {'mean', 'std', 'n'} (or a (mean, std) pair) as '97.2 ± 0.4'.
    unit 'pct': fractions shown as percentages with 1 decimal; 'x': 2 decimals; an integer
    string: that many decimals, unscaled. A missing cell is '—'."""
    if cell is None:
        return "—"
    mean, std = (cell["mean"], cell["std"]) if isinstance(cell, dict) else cell
    if _missing(mean):
        return "—"
    scale, digits = (100.0, 1) if unit == "pct" else (1.0, 2 if unit == "x" else int(unit))
    std = 0.0 if _missing(std) else std
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


@register.filter
def pct(value, digits: int = 1) -> str:
    """A fraction as a percentage: 0.98333 -> '98.3'; missing -> '—'."""
    if _missing(value):
        return "—"
    return f"{value * 100:.{int(digits)}f}"


@register.filter
def times(value, digits=None) -> str:
    """A measured ratio (actual compression, speedup) to three significant digits: '3.98×',
    '15.8×', '32.0×' (31.98: the zero is a digit), '350×'; with `digits`, that many decimals.
    Missing or infinite -> '—'."""
    if _missing(value) or math.isinf(float(value)):
        return "—"
    if digits is not None:
        return f"{float(value):.{int(digits)}f}×"
    return f"{measured(value)}×"


@register.filter
def count(value) -> str:
    """A count with thousands separators: 151306 -> '151,306'; missing -> '—'."""
    if _missing(value) or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def seeds(n) -> str:
    """How many seeds a value is over: '1 seed', 'n = 3'."""
    return seeds_label(n)


@register.filter
def ratio(value) -> str:
    """A compression from the protocol as '4×' (2.0 -> '2×', 1.5 -> '1.5×')."""
    return f"{float(value):g}×"


@register.filter
def column_link(links: dict, compression) -> dict:
    """The sort link of a compression's column (leaderboard.tables.sort_links)."""
    return links.get(f"c{float(compression):g}", {})


@register.filter
def python_highlight(code) -> str:
    """Python source as highlighted HTML (Pygments, classes styled in site.css). The code is
    only tokenized as text; it is never imported or run."""
    formatter = HtmlFormatter(cssclass="highlight", linenos="table", wrapcode=True)
    return mark_safe(highlight(str(code), PythonLexer(), formatter))


@register.filter
def fixed(value, digits: int = 4) -> str:
    """A number with a fixed count of decimals (a cheap floatformat); missing -> '—'."""
    if _missing(value):
        return "—"
    return f"{value:.{int(digits)}f}"


@register.filter
def ranking_cells(cells, seeds: int = 3) -> str:
    """The per-compression <td>s of one ranking row: mean ± std (%) with n in the tooltip, and
    n shown when below the protocol's `seeds`. Built in Python: the leaderboard has hundreds of
    rows x 7 cells, and a template loop per cell costs more than the rest of the page."""
    # Every piece is a number formatted here: nothing needs escaping.
    seeds, html = int(seeds), []
    for cell in cells:
        if cell is None:
            html.append('<td class="num cell">—</td>')
            continue
        n = cell.n
        low = f"<sub>{seeds_label(n)}</sub>" if n < seeds else ""
        mean, _, std = mean_std((cell.mean, cell.std)).partition(" ± ")
        # one seed has no spread: "± 0.0" would be false precision
        std = f'<span class="pm"> ± {std}</span>' if std and n > 1 else ""
        html.append(f'<td class="num cell" title="{seeds_label(n)}" data-sort="{cell.mean:.6g}">{mean}{std}{low}</td>')
    return mark_safe("".join(html))


@register.filter
def duration(seconds) -> str:
    """Seconds as a reader reads an ETA: 'under a minute', 'about 12 min', 'about 2 h 5 min'."""
    if _missing(seconds):
        return "—"
    minutes = round(float(seconds) / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


@register.filter
def fill_in_eta(fill) -> str:
    """A FillIn's time to go, or why it is unknown."""
    if fill.eta_s is not None:
        worker = "worker" if fill.workers == 1 else "workers"
        runs = "run" if fill.queue_missing == 1 else "runs"
        low, high = fill.run_s_range or (0.0, 0.0)
        each = (f"{measured(low)} s" if measured(low) == measured(high)
                else f"{measured(low)}–{measured(high)} s")
        theirs = ""
        if fill.researchers_between:
            theirs = (f" + {fill.researchers_between:,} researchers' run{'s' if fill.researchers_between != 1 else ''} "
                      f"dispatched among them at the queue's median")
        return (f"{duration(fill.eta_s)} to go ({fill.queue_missing:,} built-in {runs} left on the "
                f"{fill.queue} queue × {each}, the median finished run of their benchmark,{theirs} "
                f"÷ {fill.workers} live {worker})")
    if not fill.workers:
        return "no time to go known: no live worker of its queue"
    return "no time to go known until a run finishes"


@register.filter
def zip_with(values, others) -> list[tuple]:
    """Pairs of two lists, for a loop over both: {% for a, b in xs|zip_with:ys %}."""
    return list(zip(values or [], others or []))
