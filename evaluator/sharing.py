"""Results computed once: runs with the same result key share one finetune and scoring.

A run's figures are a function of its result key (evaluator.benchmarks.result_key: run target
and protocol, weights, masks, seed, device kind). So a run whose key has a finished result
already is not finetuned again: its record is that result's figures with its own identity
(`runner.share_run`, OWN_COLUMNS) and `shared_with` naming the run that computed them. At 1x
the seven baselines and five reference methods keep every weight, so 12 methods x 3 seeds x 7
targets are 21 computations, not 252; SNIP's masks equal global-mag-grad's, so SNIP's runs are
all shared.

Sharing must never hide a difference: a sample of would-be-shared runs (a fraction: the CLI's
`--verify-shared`, a worker's PRUNEBOARD_VERIFY_SHARED) is computed anyway and the computed record
must equal the shared one on every reproducible column (evaluator.columns.differences). A
mismatch keeps the computed record (`shared_with` empty) and is reported loudly: the CLI
prints it and exits 1, a worker logs an error and records a ResultCheck for the operator.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from . import maskfile

from .columns import differences
from .pruning import Mask
from .record import RunRecord
from .runner import Context, run_key, score_run, share_run

# The columns a shared run fills itself: what names it, and its own masks time.
_FIELDS = {f.name for f in fields(RunRecord)}
OWN_COLUMNS = ("run_id", "strategy", "strategy_sha256", "sandbox", "compression_requested",
               "compression_error", *sorted(c for c in _FIELDS if c.startswith("time_")), "shared_with")


def sampled(fraction: float, rng=random) -> bool:
    return fraction >= 1 or (fraction > 0 and rng.random() < fraction)


def usable(record: dict | None) -> bool:
    """A record a run may share: computed (not itself shared) and holding every column."""
    return bool(record) and not record.get("shared_with") and _FIELDS <= record.keys()


def _comparable(record: dict) -> dict:
    """inf and NaN as the site stores them (null), so a stored record compares with a fresh one."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}


def mismatches(shared: dict, computed: dict) -> list[str]:
    """The reproducible columns on which a shared record and the computed one differ."""
    return differences(_comparable(shared), _comparable(computed))


@dataclass
class Evaluated:
    record: dict  # the run's record: shared, or computed here
    original: dict | None = None  # the record it shared (or was checked against)
    checked: bool = False  # computed anyway, to verify the sharing
    differing: list[str] = field(default_factory=list)  # columns where the check found a difference


def evaluate(ctx: Context, source, compression: float, seed: int, raw_masks, mask_seconds: float = 0.0, *,
             find: Callable[[str], dict | None], verify: bool = False, should_stop=None,
             compute: Callable[[], dict] | None = None) -> Evaluated:
    """The run's record, shared when `find` knows a usable result for its key (and `verify` is
    false), computed otherwise (`compute`, default `score_run`). RunFailed as scoring raises it."""
    compute = compute or (lambda: score_run(ctx, source, compression, seed, raw_masks, mask_seconds, should_stop))
    key = run_key(ctx, raw_masks, seed)
    original = find(key) if key else None
    if not usable(original):
        return Evaluated(compute())
    shared = share_run(ctx, source, compression, seed, raw_masks, original, mask_seconds)
    if not verify:
        return Evaluated(shared, original)
    computed = compute()
    return Evaluated(computed, original, checked=True, differing=mismatches(shared, computed))


class SweepResults:
    """The CLI sweep's sharing (runner.sweep's `results`): each result key computed once within
    the sweep, `verify` of the would-be-shared runs computed anyway and compared. The sweep asks
    `lookup` before scoring a job (a shared record, or None: score it) and hands every computed
    record to `keep`."""

    def __init__(self, verify: float = 0.0, *, share: bool = True, masks_dir: Path | None = None, out=None):
        self.verify, self.share, self.masks_dir, self.out = verify, share, masks_dir, out
        self.by_key: dict[str, dict] = {}
        self.to_check: dict[str, dict] = {}  # run_id -> the record it would have shared
        self.computed = self.shared = self.checked = 0
        self.mismatched: list[tuple[str, str, list[str]]] = []  # (run_id, shared_with, columns)

    def lookup(self, ctx, source, compression, seed, raw_masks, mask_seconds=0.0) -> dict | None:
        """The job's shared record when its key was computed earlier in the sweep (RunFailed
        as scoring would raise it); None when it is to be scored (also when sampled to verify)."""
        if self.masks_dir is not None:
            maskfile.write(raw_masks if isinstance(raw_masks, Mask) else Mask(raw_masks), self.masks_dir)
        key = run_key(ctx, raw_masks, seed) if self.share else None
        original = self.by_key.get(key) if key else None
        if not usable(original):
            return None
        record = share_run(ctx, source, compression, seed, raw_masks, original, mask_seconds)
        if sampled(self.verify):
            self.to_check[record["run_id"]] = record
            return None
        self.shared += 1
        return record

    def keep(self, record: dict) -> dict:
        """A record scored in the sweep: kept for the runs after it; a sampled one compared with
        the record it would have shared (a difference is printed, the computed record kept)."""
        shared = self.to_check.pop(record["run_id"], None)
        if shared is not None:
            self.checked += 1
            differing = mismatches(shared, record)
            if differing:
                self.mismatched.append((record["run_id"], shared["shared_with"], differing))
                print(f"MISMATCH: run {record['run_id']} computed differs from run {shared['shared_with']} "
                      f"it would have shared, on {', '.join(differing)}; kept the computed record",
                      file=self.out or sys.stderr)
        self.computed += 1
        self.by_key.setdefault(record["result_key"], record)
        return record
