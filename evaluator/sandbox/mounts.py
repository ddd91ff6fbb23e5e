"""What the sandbox child sees of the host's file system: only what it runs, never a whole tree.

The child runs Python, the `evaluator` package and the libraries it imports (torch, numpy,
safetensors and what they require). Binding whole prefixes (`sys.prefix`, `sys.base_prefix`,
`/usr`) would show whatever else lives there, a data set or a label file included: scikit-learn's
bundled digits in a base prefix that holds the virtualenv (pyenv-virtualenv), or Debian's
`python3-sklearn` under /usr. So the child gets, read-only:

- the interpreter (the virtualenv's `bin/python` and `pyvenv.cfg`, the real executable);
- the standard library folder (lib-dynload inside it) with every `site-packages` and
  `dist-packages` folder inside it emptied;
- per distribution the child needs (`CHILD_DISTRIBUTIONS` and what they require, from their
  metadata), its top-level entries in its site-packages folder, and nothing else of that folder;
- the shared libraries loaded in this process outside Python's folders: a system library folder
  (`/usr/lib/x86_64-linux-gnu`, `/usr/lib64`) whole, any other library (`libpython3.11.so`) as
  its one file;
- `evaluator/` at a neutral path (`CHECKOUT`), so no module path names the checkout.

`plan()` lists these; `evaluator.sandbox.isolation` turns them into bubblewrap arguments.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "/opt/pruneboard"  # where the child sees the repository (only `evaluator/` in it)
CHILD_DISTRIBUTIONS = ("torch", "numpy", "safetensors", "torchvision")  # what the evaluator imports (no data in them)
PACKAGE_FOLDERS = ("site-packages", "dist-packages")
SYSTEM_LIB_DIRS = re.compile(r"^/(usr/)?(lib64|lib32|lib/[a-z0-9_]+-linux-gnu[a-z0-9_]*)$")


@dataclass(frozen=True)
class Plan:
    """Mounts in the order they are made: `trees` (whole folders), then `emptied` (fresh empty
    folders over package folders inside those trees), then `entries` (single files or package
    folders), each (host path, path in the sandbox)."""

    trees: tuple[str, ...]
    emptied: tuple[str, ...]
    entries: tuple[tuple[str, str], ...]


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(names) -> list[metadata.Distribution]:
    """The distributions named and, transitively, those they require (no extras)."""
    found, todo = {}, list(names)
    while todo:
        name = todo.pop()
        if _key(name) in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[_key(name)] = dist
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))
    return list(found.values())


def _distribution_entries() -> set[str]:
    """Top-level entries (package folders, modules, .libs folders) of the child's distributions."""
    entries = set()
    for dist in _requirements(CHILD_DISTRIBUTIONS):
        for file in dist.files or []:
            top = file.parts[0] if file.parts else ""
            if top and top not in ("..", "__pycache__") and not top.endswith(".pth"):
                path = Path(dist.locate_file(top))
                if path.exists():
                    entries.add(str(path))
    return entries


def _python_folders() -> list[str]:
    """Folders whose contents belong to Python installs: package folders and prefixes."""
    folders = {p for p in sys.path if p and Path(p).name in PACKAGE_FOLDERS}
    folders |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return sorted({os.path.realpath(f) for f in folders} | folders)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _shared_libraries() -> tuple[set[str], set[str]]:
    """(system library folders, other library files) mapped into this process, outside Python's
    package folders and the checkout."""
    folders, files = set(), set()
    python = _python_folders()
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split(None, 5)
        if len(fields) < 6 or not fields[5].startswith("/") or ".so" not in fields[5]:
            continue
        path = fields[5]
        if not os.path.isfile(path) or _inside(path, str(REPO_ROOT)):
            continue
        folder = os.path.dirname(path)
        if SYSTEM_LIB_DIRS.match(folder):
            folders.add(folder)
        elif not any(_inside(path, p) for p in python if Path(p).name in PACKAGE_FOLDERS):
            files.add(path)
    return folders, files


def _interpreter() -> set[str]:
    """The executable the child runs (as named and its real file) and the virtualenv's config."""
    paths = {sys.executable, os.path.realpath(sys.executable)}
    config = Path(sys.prefix) / "pyvenv.cfg"
    if config.is_file():
        paths.add(str(config))
    setpriv = shutil.which("setpriv")
    if setpriv:
        paths |= {setpriv, os.path.realpath(setpriv)}
    return paths


@functools.cache
def plan() -> Plan:
    """The mounts for this worker's Python (computed once per process)."""
    stdlib = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    stdlib |= {os.path.join(os.path.dirname(os.__file__), "lib-dynload")}
    stdlib = {p for p in stdlib if os.path.isdir(p) and not any(
        _inside(p, q) for q in _python_folders() if Path(q).name in PACKAGE_FOLDERS)}
    lib_folders, lib_files = _shared_libraries()
    lib_folders |= {d for d in ("/usr/lib64", "/lib64") if os.path.isdir(d) and not os.path.islink(d)}
    trees = sorted(_outermost(stdlib | lib_folders))
    emptied = sorted(str(folder / name) for tree in trees for name in PACKAGE_FOLDERS
                     for folder in [Path(tree)] if (folder / name).is_dir())
    entries = {(p, p) for p in _distribution_entries() | lib_files | _interpreter()}
    entries.add((str(REPO_ROOT / "evaluator"), f"{CHECKOUT}/evaluator"))
    entries = {(h, s) for h, s in entries if not any(_inside(s, t) for t in trees)
               or any(_inside(s, e) for e in emptied)}
    return Plan(tuple(trees), tuple(emptied), tuple(sorted(entries, key=lambda e: e[1])))


def _outermost(paths: set[str]) -> set[str]:
    return {p for p in paths if not any(p != q and _inside(p, q) for q in paths)}


def reachable(path: str, sandbox_plan: Plan | None = None) -> bool:
    """Whether `path` (as the child would name it) is inside something the plan mounts, and not
    under a folder it empties afterwards without mounting the path again."""
    sandbox_plan = sandbox_plan or plan()
    covered = any(_inside(path, t) for t in sandbox_plan.trees)
    if any(_inside(path, e) for e in sandbox_plan.emptied):
        covered = False
    return covered or any(_inside(path, s) for _, s in sandbox_plan.entries)
