"""`python -m evaluator replay`: check a leaderboard entry on your own machine.

Takes one run's CSV row (the evaluator's CSV, or the site's: /r/<run>.csv, /b/<benchmark>.csv)
and its masks file (evaluator/maskfile.py; the site's /r/<run>/masks), checks that this
evaluator scores under the row's protocol and that the weights and masks are the row's (by
SHA-256), then finetunes and scores the masks exactly as a worker does and compares every
reproducible column (evaluator/columns.py) with the row: "identical", or each figure that
differs, old -> new. The strategy is not needed, nor run: the masks are its whole output.
"""

from __future__ import annotations

import csv
import math
import urllib.error
import urllib.request
from pathlib import Path

import torch

from . import maskfile
from .benchmarks import PROTOCOL_VERSION, get_benchmark, run_identity
from .columns import REPRODUCIBLE_COLUMNS
from .pruning import BASELINES, Mask
from .runner import Context, score_run
from .sandbox import StrategySource

FETCH_BYTES = 512 * 1024 * 1024  # most a server's answer may be (the largest masks are a few MB)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what the site's CSV escapes with a leading '


class ReplayError(ValueError):
    """The row, the masks or this machine cannot replay the run; the message says which."""


def read_row(path: Path, run_id: str | None = None) -> dict[str, str]:
    """The row of `run_id` (its run_id, or the site's run_pk) in the CSV; without one, the CSV's only row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV {path} does not exist")
    with open(path, newline="", encoding="utf-8") as f:
        return _pick(list(csv.DictReader(f)), run_id, str(path))


def _pick(rows: list[dict], run_id: str | None, where: str) -> dict[str, str]:
    if rows and "run_id" not in rows[0]:
        raise ReplayError(f"{where} is not a run CSV (it has no run_id column)")
    if run_id is None:
        if len(rows) != 1:
            raise ReplayError(f"{where} has {len(rows)} runs; name one with --run-id")
        return rows[0]
    found = [r for r in rows if run_id in (r.get("run_id"), r.get("run_pk"))]
    if not found:
        raise ReplayError(f"{where} has no run {run_id!r} ({len(rows)} runs in it)")
    return found[0]


def fetch(server: str, run: str, *, masks: bool) -> tuple[dict[str, str], bytes | None]:
    """The run's row from a site (/r/<run>.csv) and, when `masks`, its masks file (/r/<run>/masks)."""
    if not run.isdigit():
        raise ReplayError(f"--run-id with --server is the run's number on the site (/r/<number>/), got {run!r}")
    base = server.rstrip("/")
    text = _get(f"{base}/r/{run}.csv", f"run {run}").decode("utf-8")
    row = _pick(list(csv.DictReader(text.splitlines())), None, f"{base}/r/{run}.csv")
    return row, (_get(f"{base}/r/{run}/masks", f"run {run}'s masks") if masks else None)


def _get(url: str, what: str) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise ReplayError(f"--server must be an http:// or https:// address, got {url.split('/r/')[0]!r}")
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            data = answer.read(FETCH_BYTES + 1)
    except urllib.error.HTTPError as exc:
        hint = " (not there, or not public)" if exc.code == 404 else ""
        raise ReplayError(f"{url}: the server answered {exc.code} for {what}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ReplayError(f"{url}: cannot reach the server: {getattr(exc, 'reason', exc)}") from None
    if len(data) > FETCH_BYTES:
        raise ReplayError(f"{url}: the answer is over {FETCH_BYTES} bytes; refused")
    return data


def check_row(row: dict[str, str], mask: Mask):
    """The row's benchmark, if this evaluator can replay it with these masks; ReplayError if not."""
    missing = [c for c in ("benchmark", "seed", "compression_requested", "protocol_version",
                           "protocol_hash", "weights_sha256", "masks_sha256") if not row.get(c)]
    if missing:
        raise ReplayError(f"the row has no {', '.join(missing)}: not a finished run's row")
    benchmark = get_benchmark(row["benchmark"])
    version, digest = row["protocol_version"], row["protocol_hash"]
    if version != str(PROTOCOL_VERSION) or digest != benchmark.protocol_hash():
        raise ReplayError(f"the run was scored under protocol version {version} (hash {digest}); this "
                          f"evaluator scores {benchmark.name} under version {PROTOCOL_VERSION} (hash "
                          f"{benchmark.protocol_hash()}): replay it with the evaluator of its "
                          f"code_version ({row.get('code_version') or 'not recorded'})")
    if mask.sha256() != row["masks_sha256"]:
        raise ReplayError(f"the masks file holds masks {mask.sha256()}, but the run's masks are "
                          f"{row['masks_sha256']}: not this run's masks file")
    return benchmark


def replay(row: dict[str, str], mask: Mask, *, device: str | None = None, data_root=None) -> list[tuple[str, str, object]]:
    """Finetune and score `mask` under the row's protocol; the reproducible columns that differ
    from the row, (column, the row's text, the replayed value). Empty: identical."""
    benchmark = check_row(row, mask)
    device = device or row.get("device") or "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReplayError("the run was scored on cuda and this machine has none; figures differ "
                          "between device kinds (pass --device cpu to replay on the CPU anyway)")
    ctx = Context.load(benchmark, device=device, data_root=data_root)
    if ctx.weights_sha256 != row["weights_sha256"]:
        raise ReplayError(f"the run's weights are {row['weights_sha256']}; this evaluator's "
                          f"{benchmark.name} weights are {ctx.weights_sha256}")
    compression, seed = float(row["compression_requested"]), int(row["seed"])
    # The masks are the strategy's whole output: it is not run, so any built-in stands in for
    # it, and the columns that name the run are the row's own.
    record = score_run(ctx, StrategySource(baseline=next(iter(BASELINES))), compression, seed, mask)
    record.update(strategy=row.get("strategy", ""), strategy_sha256=row.get("strategy_sha256", ""),
                  sandbox=row.get("sandbox", ""),
                  run_id=run_identity(benchmark=benchmark, weights_sha256=ctx.weights_sha256,
                                      strategy_sha256=row.get("strategy_sha256", ""),
                                      compression=compression, seed=seed))
    return [(c, row[c], record.get(c)) for c in REPRODUCIBLE_COLUMNS
            if c in row and not same(row[c], record.get(c))]


def same(cell: str, value) -> bool:
    """Whether a CSV cell (the evaluator's or the site's format) holds `value`."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA):
        cell = cell[1:]  # the site's formula escape
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        # the site stores inf and NaN as null (an empty cell); the evaluator's CSV writes them
        return cell == "" or (value is not None and cell.lower() == str(value).lower())
    if isinstance(value, bool):
        return cell == str(value)
    if isinstance(value, (int, float)):
        try:
            return float(cell) == value
        except ValueError:
            return False
    return cell == str(value)


def difference_text(differences: list[tuple[str, str, object]]) -> str:
    return "\n".join(f"{column}: {old or '(empty)'} -> {'(empty)' if new is None else new}"
                     for column, old, new in differences)
