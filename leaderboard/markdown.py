"""A method's description: Markdown in, sanitized HTML out, in time linear in the text's length.

Rendered once when the method is saved (Method.description_html); pages only show the stored
HTML and never parse. Three steps, each linear:
- cmark-gfm (the `cmarkgfm` package) parses: GitHub's fork of CommonMark's reference parser in
  C, whose test suite holds it to linear time on pathological input ("[" * N, ">" * N, "*" * N,
  backticks, link references). python-markdown, used before, was quadratic: 10,000 "[" took
  10 s of CPU (benchmarks/markdown_render.py). GFM tables, strikethrough and autolinks; raw HTML
  in the text is omitted (cmark's safe mode), so the HTML that follows is cmark's own. One GFM
  feature multiplies: a table's rows are padded to its header's width, so 20,000 characters
  of one-cell rows under a wide header made 5 MB of HTML (cmark-gfm stops padding at 524,288
  cells; 0.2 s). HTML over MAX_GROWTH times the text's length is therefore rendered again
  without tables (CommonMark alone stays under 30 times: ">" * N is 27).
- Elements nested deeper than MAX_DEPTH are unwrapped (their text kept): ">" * 20,000 is
  20,000 nested blockquotes, and the sanitizer's HTML parser is quadratic in nesting depth
  (1.2 s for that one). No library bounds depth, so `_flatten` does, on cmark's well-formed
  output.
- nh3 (ammonia) sanitizes: its default tags minus images (no tracking pixels), links only to
  http(s), every link rel="nofollow noopener noreferrer"."""

from __future__ import annotations

import re

import cmarkgfm
import nh3
from cmarkgfm.cmark import Options

ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"img"}
URL_SCHEMES = {"http", "https"}
MAX_DEPTH = 32
MAX_GROWTH = 30
EXTENSIONS = ["table", "strikethrough", "autolink", "tagfilter"]
# cmark escapes every "<" and ">" of text and attributes: a "<" followed by a letter or "/" is a tag.
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
_VOID = {"br", "hr", "img", "input"}


def render(text: str) -> str:
    """Markdown to sanitized HTML (what a page may show as it is)."""
    text = str(text or "")
    html = cmarkgfm.markdown_to_html_with_extensions(text, Options.CMARK_OPT_VALIDATE_UTF8, EXTENSIONS)
    if len(html) > MAX_GROWTH * len(text) + 1000:
        html = cmarkgfm.markdown_to_html_with_extensions(text, Options.CMARK_OPT_VALIDATE_UTF8,
                                                         [e for e in EXTENSIONS if e != "table"])
    return nh3.clean(_flatten(html, MAX_DEPTH), tags=ALLOWED_TAGS, url_schemes=URL_SCHEMES,
                     link_rel="nofollow noopener noreferrer")


def _flatten(html: str, limit: int) -> str:
    """Drop the tags of elements nested deeper than `limit`, keeping what is between them. For
    well-formed HTML (cmark's), where each closing tag closes the latest open element: a closing
    tag sits at its opening tag's depth, so both are dropped or both kept."""
    out, depth, last = [], 0, 0
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID or match.group(0).endswith("/>"):
            continue
        if closing:
            drop, depth = depth > limit, depth - 1
        else:
            depth += 1
            drop = depth > limit
        if drop:
            out.append(html[last:match.start()])
            last = match.end()
    out.append(html[last:])
    return "".join(out)
