"""What the sandbox costs an honest strategy, and what an attack costs the worker.

    .venv/bin/python benchmarks/sandbox_cost.py            # honest costs + attacks
    .venv/bin/python benchmarks/sandbox_cost.py --honest   # only the honest costs (runs on older trees too)

Honest (digits-mlp, a layerwise-magnitude strategy file): seconds for one sandbox with one job
(the start-up cost), for a 21-job sweep in one sandbox (the CLI's way), and for 21 sandboxes of
one job each (the worker's way today). Attacks (each in a fresh process, so its peak RSS is its
own): the worker's peak RSS before and after, and the size of the message the submitter gets.
Figures are measured in one run; the machine is shared and noisy, so compare ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STRATEGY = """
import numpy as np
from evaluator.pruning import LayerPruning, Pruning, fraction_mask

class LayerMagnitude(LayerPruning, Pruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
"""
ATTACKS = ["endless-bytes-on-the-channel", "deflate-bomb-sent-as-masks", "deflate-bomb-left-as-a-file",
           "symlink-to-dev-zero", "eight-megabyte-exception", "eight-megabyte-report-on-the-channel",
           "endless-printing"]


def setup():
    import torch

    from evaluator.models import get_model

    torch.manual_seed(0)
    state = get_model("digits_mlp").state_dict()
    g = torch.Generator().manual_seed(0)
    calibration = {s: (torch.rand(128, 1, 8, 8, generator=g), torch.randint(0, 10, (128,), generator=g))
                   for s in (0, 1, 2)}
    return state, calibration


def masks(path, state, calibration, jobs, **limits):
    from evaluator.sandbox import Limits
    from evaluator.sandbox import StrategySource, compute_masks

    return compute_masks(StrategySource(path=Path(path)), model_name="digits_mlp", num_classes=10,
                         state_dict=state, calibration=calibration, jobs=jobs, limits=Limits(**limits))


def honest() -> dict:
    state, calibration = setup()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer_magnitude.py"
        path.write_text(STRATEGY)
        jobs = [(c, s) for c in (1, 2, 4, 8, 16, 32, 64) for s in (0, 1, 2)]
        starts = []
        for _ in range(3):
            t0 = time.perf_counter()
            masks(path, state, calibration, [(2.0, 0)], wall_seconds=120)
            starts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = masks(path, state, calibration, jobs, wall_seconds=120)
        one_child = time.perf_counter() - t0
        assert all(type(m).__name__ == "Mask" for m in out), out
        t0 = time.perf_counter()
        for job in jobs:
            masks(path, state, calibration, [job], wall_seconds=120)
        per_run = time.perf_counter() - t0
    return {"sandbox_start_s_median_of_3": round(statistics.median(starts), 2),
            "sweep_21_jobs_one_sandbox_s": round(one_child, 2),
            "sweep_21_sandboxes_of_one_job_s": round(per_run, 2)}


def attack(case_id: str) -> dict:
    import os

    from tests.hostile_cases import CASES

    case = next(c for c in CASES if c.id == case_id)
    for key, value in case.settings.items():
        os.environ[key] = value
    state, calibration = setup()
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret"
        secret.write_text("token")
        path = Path(tmp) / "hostile.py"
        path.write_text(case.source(secret, "token"))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        [result] = masks(path, state, calibration, [(2.0, 0)],
                         wall_seconds=float(os.environ.get("PRUNEBOARD_SANDBOX_TIMEOUT", 30)))
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    message = getattr(result, "message", "")
    return {"attack": case_id, "peak_rss_mb_before": round(before), "peak_rss_mb_after": round(after),
            "message_bytes": len(message.encode()), "traceback_bytes": len(getattr(result, "traceback", "").encode()),
            "seconds": round(seconds, 1), "message": textwrap.shorten(message, 120)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--honest", action="store_true", help="only the honest costs")
    p.add_argument("--attack", help=argparse.SUPPRESS)  # one attack, in this process
    args = p.parse_args()
    if args.attack:
        print(json.dumps(attack(args.attack)))
        return
    print(json.dumps(honest()))
    if args.honest:
        return
    for case_id in ATTACKS:
        out = subprocess.run([sys.executable, __file__, "--attack", case_id], capture_output=True,
                             text=True, cwd=ROOT)
        print(out.stdout.strip() or out.stderr[-2000:])


if __name__ == "__main__":
    main()
