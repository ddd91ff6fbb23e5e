"""Seconds to render a method description of 20,000 pathological characters (the description's
cap), before (python-markdown with the extensions the site used, rendered on every page view)
and after (leaderboard/markdown.py: cmark-gfm, nesting bounded, nh3; rendered once when saved).

Each "before" render runs in a child process stopped after --limit seconds (default 60; shown
as ">60"), so the script ends whatever python-markdown does. "after" is the best of 3.
tests/leaderboard/test_method_texts.py renders CASES under a CPU limit.
Run: `.venv/bin/python benchmarks/markdown_render.py [--limit 60] [--only brackets,quotes]`
(no Django, no database)."""

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = 20_000
CASES = {
    "brackets": "[" * SIZE, "quotes": ">" * SIZE, "stars": "*" * SIZE, "backticks": "`" * SIZE,
    "underscores": "_" * SIZE, "lists": "- " * (SIZE // 2 - 1) + "a", "ordered lists": "1. " * (SIZE // 3) + "a",
    "quoted lists": "> - " * (SIZE // 4), "links": "[a](" * (SIZE // 4), "images": "![" * (SIZE // 2),
    "emphasis": "*a " * (SIZE // 6) + " b*" * (SIZE // 6), "strong": "**a" * (SIZE // 3),
    "code spans": "`a``" * (SIZE // 4),
    "link refs": "".join(f"[r{i}]: http://example.org/{i}\n" for i in range(1_000))[:SIZE],
    "ref uses": "[x]: /u\n" + "[x]" * ((SIZE - 8) // 3), "html": "<a " * (SIZE // 3),
    "nested brackets": "[[" * (SIZE // 4) + "]]" * (SIZE // 4),
    "wide table": "|a" * 100 + "|\n" + "|-" * 100 + "|\n" + "x\n" * ((SIZE - 404) // 2),
}


def before(text: str) -> str:
    """What leaderboard_extras.markdown_safe did on each page view until this change."""
    import markdown
    import nh3

    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"])
    return nh3.clean(html, tags=nh3.ALLOWED_TAGS - {"img"}, url_schemes={"http", "https"},
                     link_rel="nofollow noopener noreferrer")


def _timed_before(text: str, queue) -> None:
    start = time.process_time()
    try:
        before(text)
        queue.put(f"{time.process_time() - start:.3f}")
    except RecursionError:
        queue.put(f"{time.process_time() - start:.3f} (RecursionError)")


def time_before(text: str, limit: float) -> str:
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_timed_before, args=(text, queue))
    child.start()
    child.join(limit)
    if child.is_alive():
        child.kill()
        child.join()
        return f">{limit:g}"
    return queue.get() if not queue.empty() else "crashed"


def time_after(text: str) -> float:
    from leaderboard.markdown import render

    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        render(text)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60, help="seconds per 'before' render")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    print(f"{'case':16} {'chars':>6} {'before_s':>18} {'after_s':>8}")
    worst = 0.0
    for name in names:
        text = CASES[name]
        after = time_after(text)
        worst = max(worst, after)
        print(f"{name:16} {len(text):6} {time_before(text, args.limit):>18} {after:8.4f}", flush=True)
    print(f"after_worst_s={worst:.4f}")


if __name__ == "__main__":
    main()
