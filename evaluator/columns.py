"""The per-run CSV: one row per run, the run record's fields (evaluator/record.py) as its columns in
this order; docs/columns.md lists them too (`columns_table`)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd

from .record import RunRecord

COLUMN_HELP: dict[str, str] = {f.name: f.metadata["help"] for f in fields(RunRecord)}
COLUMNS = list(COLUMN_HELP)


def columns_table() -> str:
    """docs/columns.md's table of the columns (a test keeps the page in step)."""
    return "\n".join(["| column | meaning |", "| --- | --- |",
                      *(f"| `{name}` | {text} |" for name, text in COLUMN_HELP.items())])


def write_csv(records: list[dict], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records, columns=COLUMNS).to_csv(path, index=False)


# What a re-run must reproduce exactly on the same kind of device (CPU): everything but the
# timings, the measured latencies (they depend on the machine and its load) and the description
# of where and with which versions it ran.
_CIRCUMSTANCES = {"code_version", "torch_version", "cuda_version", "device_name", "torch_threads",
                  "deterministic"}
# `shared_with` says where the figures were computed, not what they are (evaluator/sharing.py).
_CIRCUMSTANCES |= {"shared_with"}
MEASURED_LATENCY_COLUMNS = [c for c in COLUMNS if "latency" in c or c.startswith("measured_speedup")]
REPRODUCIBLE_COLUMNS = [c for c in COLUMNS if not c.startswith("time_") and c not in _CIRCUMSTANCES
                        and c not in MEASURED_LATENCY_COLUMNS]


def differences(original: dict, rerun: dict) -> list[str]:
    """The reproducible columns whose values differ between two records of the same run."""
    return [c for c in REPRODUCIBLE_COLUMNS if original.get(c) != rerun.get(c)]
