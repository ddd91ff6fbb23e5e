"""The full baseline sweep on digits-mlp: 7 baselines x 7 compressions x 3 seeds (target <= 180 s
on 2 CPU cores). Runs it through the CLI exactly as a user would and ends with `seconds=X.X`.
Run: `.venv/bin/python benchmarks/sweep_digits_mlp.py`
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs.csv"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evaluator", "run", "--benchmark", "digits-mlp",
                        "--baseline", "all", "--out", str(out)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        runs = len(pd.read_csv(out))
    print(f"runs={runs} (expected 147)")
    print(f"seconds={seconds:.1f}")
