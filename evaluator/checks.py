"""Static checks of an uploaded strategy file, before anything runs it: size, UTF-8, parses,
defines a strategy. Nothing here imports or executes the file."""

from __future__ import annotations

import ast
import inspect

MAX_BYTES = 256 * 1024
_BINARY_MAGIC = {b"PK\x03\x04": "zip archive", b"\x1f\x8b": "gzip archive",
                 b"\x7fELF": "compiled program (ELF)", b"%PDF": "PDF document"}


class UploadRejected(ValueError):
    """The file cannot be a strategy; the message says why, for the submitter."""


def _strategy_bases() -> set[str]:
    import evaluator.pruning as api

    return {name for name, obj in vars(api).items()
            if inspect.isclass(obj) and issubclass(obj, api.Pruning)}


def check_strategy_source(filename: str, data: bytes, max_bytes: int = MAX_BYTES) -> list[str]:
    """The names of the strategy classes the file defines; UploadRejected says what is wrong."""
    if not filename.endswith(".py"):
        raise UploadRejected(f"the file must be a Python file ending in .py (got {filename!r})")
    if len(data) > max_bytes:
        raise UploadRejected(f"the file is {len(data) / 1024:.0f} KB; the limit is {max_bytes // 1024} KB")
    if not data.strip():
        raise UploadRejected("the file is empty")
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise UploadRejected(f"the file is a {kind}, not Python source text")
    if b"\0" in data:
        position = data.index(b"\0")
        raise UploadRejected(f"the file contains a null byte (at byte {position}): it is not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadRejected(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                             f"position {exc.start})") from None
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise UploadRejected(f"the file does not parse as Python: line {exc.lineno}: {exc.msg}") from None
    strategies = _defined_strategies(tree)
    if not strategies:
        raise UploadRejected("the file defines no strategy: no class that inherits from "
                             "evaluator.pruning.Pruning (or VisionPruning, LayerPruning, a baseline)")
    return strategies


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _defined_strategies(tree: ast.Module) -> list[str]:
    known = _strategy_bases()
    found: list[str] = []
    for node in tree.body:  # in order, so a class may build on one defined above it
        if isinstance(node, ast.ClassDef) and any(_base_name(b) in known for b in node.bases):
            known.add(node.name)
            found.append(node.name)
    return found
