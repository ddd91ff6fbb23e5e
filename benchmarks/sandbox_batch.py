"""Sandbox starts per 21-run submission in the worker path, and the sweep's time, one sandbox per
run (before) vs one per (submission, benchmark) batch (after).

    .venv/bin/python benchmarks/sandbox_batch.py              # both, digits-mlp
    .venv/bin/python benchmarks/sandbox_batch.py --benchmark mnist1d-cnn
    .venv/bin/python benchmarks/sandbox_batch.py --masks-only   # scoring stubbed: the masks' cost alone

Each mode runs in a fresh process on a fresh SQLite database under a temporary PRUNEBOARD_VAR_DIR:
a user uploads a layerwise-magnitude strategy file, and the 21 runs are evaluated one after the
other through the Celery task (`submissions.tasks.run_evaluate`), as one worker does. A sandbox
start is a call of `evaluator.sandbox.compute_jobs` for the uploaded file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STRATEGY = b'''import numpy as np
from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask


class LayerMagnitude(LayerPruning, VisionPruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
'''


def one(benchmark: str, batch: bool, masks_only: bool) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from leaderboard.models import Benchmark
    from submissions import execution, services, tasks
    from submissions.models import Run

    call_command("migrate", verbosity=0)
    call_command("sync_benchmarks", verbosity=0)
    services.runs_enqueue = lambda runs: None  # no broker: this process is the worker
    user = get_user_model().objects.create_user("alice", "a@example.org", "correct horse 42")
    submission, _ = services.submission_create(
        user=user, upload=SimpleUploadedFile("s.py", STRATEGY), name="Layer magnitude",
        benchmarks=[Benchmark.objects.get(name=benchmark)])
    starts = []
    real = execution.compute_jobs

    def counted(source, **kwargs):
        starts.append(len(kwargs["jobs"]))
        return real(source, **kwargs)

    execution.compute_jobs = counted
    if masks_only:
        from tests.factories import make_record

        execution.score_run = lambda ctx, source, c, s, masks, **kw: make_record(compression=c, seed=s)
        execution.batchable = lambda ctx: False  # one stand-in call per run, no batched scoring
    if not batch:
        masks_for = execution._masks_for
        execution._masks_for = lambda run, ctx, source, batch: masks_for(run, ctx, source, False)
    execution.context_for(benchmark)  # data and weights loaded once per worker, not timed
    began = time.perf_counter()
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate(run.pk)
    seconds = time.perf_counter() - began
    finished = submission.runs.filter(status=Run.Status.FINISHED).count()
    return {"mode": ("batch" if batch else "per-run") + (", masks only" if masks_only else ""), "runs": submission.runs.count(), "finished": finished,
            "sandbox_starts": len(starts), "jobs_per_start": starts, "sweep_s": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="digits-mlp")
    parser.add_argument("--masks-only", action="store_true", help="stub the scoring (finetuning)")
    parser.add_argument("--one", choices=["batch", "per-run"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.benchmark, args.one == "batch", args.masks_only)))
        return
    for mode in ("per-run", "batch"):
        with tempfile.TemporaryDirectory() as var:
            env = {**os.environ, "PRUNEBOARD_VAR_DIR": var, "DATABASE_URL": f"sqlite:///{var}/db.sqlite3",
                   "DJANGO_SETTINGS_MODULE": "pruneboard.settings", "PRUNEBOARD_LOG_LEVEL": "WARNING",
                   "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, __file__, "--benchmark", args.benchmark, "--one", mode]
                                 + (["--masks-only"] if args.masks_only else []),
                                 env=env, cwd=ROOT, capture_output=True, text=True, check=True)
            print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
