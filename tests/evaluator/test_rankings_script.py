"""benchmarks/rankings.py ranks the CLI's CSVs with the site's ranking functions, no database."""

import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rankings.py"


def sweep(strategy: str, top1, seeds=(0, 1, 2)) -> list[dict]:
    return [{"strategy": strategy, "compression_requested": float(c), "seed": s, "top1": top1(c, s),
             "speedup": c * 0.9, "disconnected": False, "layer_collapse": False}
            for c in (1, 2, 4, 8, 16, 32, 64) for s in seeds]


def test_it_prints_both_rankings_with_bands_intervals_and_the_mean_rank(tmp_path, monkeypatch, capsys):
    rows = (sweep("random", lambda c, s: 0.5 - c / 200 + s / 100) + sweep("global-mag-weight", lambda c, s: 0.8 + s / 100)
            + sweep("layer-mag-weight", lambda c, s: 0.7, seeds=(0,)))  # one seed: not a full sweep
    pd.DataFrame(rows).to_csv(tmp_path / "digits-mlp-baseline.csv", index=False)
    pd.DataFrame(sweep("synflow", lambda c, s: 0.81 + s / 100)).to_csv(
        tmp_path / "digits-cnn-reference-synflow.csv", index=False)  # one method's sweep
    monkeypatch.setattr(sys, "argv", ["rankings.py", "--out", str(tmp_path), "digits-mlp", "digits-cnn"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    assert done.value.code == 0
    # global magnitude: seed scores 0.80, 0.81, 0.82 -> 81.00 ± 2.48; random's interval lies below
    assert "| 1      | 1      | global-mag-weight | baseline | 81.00     | 2.48 | 78.52–83.48" in out
    assert "| 2      | 2      | layer-mag-weight  | baseline | 70.00     | -    | -" in out  # one seed: no interval
    assert "| 3      | 3      | random            | baseline | 40.50     | 2.48 | 38.02–42.98" in out
    assert "2 of 12 built-in methods with a full 7 x 3 sweep; not full: layer-mag-weight, global-mag-grad" in out
    # across benchmarks: layer-mag-weight has no full sweep, so no mean rank
    assert "| synflow           | -            | 1 (band 1)   | 1.00" in out
    assert "| layer-mag-weight  | 2 (band 2)   | -            | -" in out
