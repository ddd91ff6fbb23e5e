"""Worker-seconds one submission costs under the batch attacker of issue 19 (case 1): a strategy
that answers the job its run is for (the first job its sandbox computes) and, for every other
job of the batch, sleeps just under the per-job budget and then raises (its source:
`tests/hostile_cases.py`, `batch_abuse`, which the worker's hostile tests upload too).

    .venv/bin/python benchmarks/batch_abuse.py                    # budget 0.5 s a job
    .venv/bin/python benchmarks/batch_abuse.py --budget 1 --benchmark digits-mlp

In a fresh process on a fresh SQLite database under a temporary PRUNEBOARD_VAR_DIR, a user
uploads the attacker on the benchmark and its 21 runs are evaluated one after the other through
the Celery task (`submissions.tasks.run_evaluate`), as one worker does (scoring is real). The
figure is the wall time of those 21 tasks: what the submission held the worker for. Also
printed: sandbox starts, the jobs each computed, and the runs' outcomes. The honest maximum at
this budget is about 21 x budget (every job using its whole budget once) plus the starts.
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

def one(benchmark: str, budget: float) -> dict:
    import django

    os.environ["PRUNEBOARD_SANDBOX_TIMEOUT"] = str(budget)
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    import evaluator.sandbox.jobs as sandbox
    from leaderboard.models import Benchmark
    from submissions import execution, services, tasks
    from submissions.models import Run
    from tests.hostile_cases import batch_abuse

    call_command("migrate", verbosity=0)
    call_command("sync_benchmarks", verbosity=0)
    services.runs_enqueue = lambda runs: None  # no broker: this process is the worker
    user = get_user_model().objects.create_user("mallory", "m@example.org", "correct horse 42")
    submission, _ = services.submission_create(
        # just under the budget, then fail: the sibling is not kept
        user=user, upload=SimpleUploadedFile("abuse.py", batch_abuse(sleep=budget * 0.8).encode()),
        name="Batch abuse", benchmarks=[Benchmark.objects.get(name=benchmark)])
    starts = []
    real = sandbox._run_child

    def counted(inputs, jobs, *args, **kwargs):
        starts.append(len(jobs))
        return real(inputs, jobs, *args, **kwargs)

    sandbox._run_child = counted
    execution.context_for(benchmark)  # data and weights loaded once per worker, not timed
    began = time.perf_counter()
    for run in submission.runs.order_by("seed", "compression"):
        tasks.run_evaluate(run.pk)
    seconds = time.perf_counter() - began
    runs = submission.runs.all()
    return {"budget_s": budget, "runs": len(runs),
            "finished": sum(r.status == Run.Status.FINISHED for r in runs),
            "failed": sum(r.status == Run.Status.FAILED for r in runs),
            "sandbox_starts": len(starts), "jobs_per_start": starts, "jobs_computed": sum(starts),
            "worker_s": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="digits-mlp")
    parser.add_argument("--budget", type=float, default=0.5, help="per-job mask budget, s")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.benchmark, args.budget)))
        return
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "PRUNEBOARD_VAR_DIR": var, "DATABASE_URL": f"sqlite:///{var}/db.sqlite3",
               "DJANGO_SETTINGS_MODULE": "pruneboard.settings", "PRUNEBOARD_LOG_LEVEL": "WARNING",
               "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, __file__, "--benchmark", args.benchmark, "--budget",
                              str(args.budget), "--one"], env=env, cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
