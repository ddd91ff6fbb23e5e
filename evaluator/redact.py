"""Server paths out of what a submitter reads: every error message and traceback of a run passes
through `redact` (evaluator.runner.RunFailed, and the worker's platform errors), so the
repository's location, the Python installation, the data, weights and state folders, the temp
folder and the home folder show as `<pruneboard>`, `<python>`, `<data>`, `<weights>`, `<var>`,
`<tmp>` and `<home>`. The operator's logs keep the real paths."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _variants(path: str | os.PathLike | None) -> list[str]:
    if not path:
        return []
    path = str(path).rstrip("/")
    found = {path, os.path.realpath(path), os.path.abspath(path)}
    return [p for p in found if len(p) > 1]  # never "/" itself


def server_paths() -> list[tuple[str, str]]:
    """(path, placeholder) pairs, the longest path first (a folder inside another wins)."""
    pairs = []
    for placeholder, paths in (
            ("<pruneboard>", [REPO_ROOT]),
            ("<python>", [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).parent]),
            ("<data>", [os.environ.get("PRUNEBOARD_DATA_ROOT")]),
            ("<weights>", [os.environ.get("PRUNEBOARD_WEIGHTS_DIR")]),
            ("<var>", [os.environ.get("PRUNEBOARD_VAR_DIR"), os.environ.get("PRUNEBOARD_MEDIA_ROOT")]),
            ("<tmp>", [tempfile.gettempdir(), "/tmp", "/var/tmp"]),
            ("<home>", [os.path.expanduser("~")])):
        for path in paths:
            pairs += [(variant, placeholder) for variant in _variants(path)]
    return sorted(set(pairs), key=lambda pair: -len(pair[0]))


@lru_cache(maxsize=8)
def _pattern(pairs: tuple[tuple[str, str], ...]) -> tuple[re.Pattern, dict[str, str]]:
    # A path counts only as a whole path component: /root is not redacted inside /rootfs.
    alternatives = "|".join(re.escape(path) for path, _ in pairs)
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])"), dict(pairs)


def redact(text: str) -> str:
    """`text` with every server path replaced by its placeholder."""
    if not text:
        return text
    pattern, names = _pattern(tuple(server_paths()))
    return pattern.sub(lambda m: names[m.group(0)], text)
