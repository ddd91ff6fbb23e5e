"""The embedded product's whole fill-in on this machine: wall time and CPU seconds until every
built-in run `make run` seeds is final.

As `manage.py serve` does, on a fresh SQLite database and broker file in a throwaway var/ folder:
migrate, seed the baselines and reference methods (`seed_baselines`), and start one worker of
the `cpu,gpu` queues and the control worker with the beat (the dispatcher, the reaper); no web
server (it does none of the fill-in's work). Then polls the database until every built-in run is
final, or `--limit-minutes` have passed, and stops the workers. Prints the wall time from the
workers' start, the CPU seconds of the worker processes (and everything they ran), the runs
finished (failed), runs computed vs runs shared (a run whose record has a non-empty
"shared_with": the result of an identical earlier computation, reused), the runs a minute and,
for a partial measurement, the projected total at that rate.
Ends with `fillin_wall_s=X` (measured or projected) and `fillin_cpu_s=X`.
Run: `.venv/bin/python benchmarks/fillin_time.py [--benchmarks digits-mlp,...] [--limit-minutes N]`
(default: every embedded target, as `make run`; it takes hours today: give a limit).
"""

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 5


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", help="comma-separated targets (default: every embedded one)")
    parser.add_argument("--limit-minutes", type=float, help="stop after this long and extrapolate")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="fillin-time-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(PRUNEBOARD_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="pruneboard.settings")
    os.environ.update(env)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
    seed = [*manage, "seed_baselines", *(["--benchmarks", args.benchmarks] if args.benchmarks else [])]
    print(subprocess.run(seed, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip())

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from leaderboard.selectors.fillin import BUILTIN_RUN
    from submissions.models import Run

    builtin = Run.objects.filter(BUILTIN_RUN)
    total = builtin.count()
    cpu_before = children_cpu_s()
    celery = [sys.executable, "-m", "celery", "-A", "pruneboard", "worker", "--concurrency", "1",
              "--pool", "solo", "--loglevel", "WARNING"]
    logs = [open(var / f"{name}.log", "wb") for name in ("worker", "control")]
    start = time.monotonic()
    procs = [subprocess.Popen([*celery, "--queues", "cpu,gpu", "--hostname", "local@%h"], cwd=ROOT, env=env,
                              stdout=logs[0], stderr=subprocess.STDOUT),
             subprocess.Popen([*celery, "--queues", "control", "--hostname", "control@%h", "--beat",
                               "--schedule", str(var / "beat-schedule")], cwd=ROOT, env=env,
                              stdout=logs[1], stderr=subprocess.STDOUT)]
    limit = args.limit_minutes * 60 if args.limit_minutes else None
    try:
        while True:
            time.sleep(POLL_SECONDS)
            final = builtin.filter(status__in=Run.FINAL).count()
            elapsed = time.monotonic() - start
            if final == total or (limit and elapsed >= limit) or any(p.poll() is not None for p in procs):
                break
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    wall = time.monotonic() - start
    cpu = children_cpu_s() - cpu_before
    finished = builtin.filter(status=Run.Status.FINISHED)
    failed = builtin.filter(status=Run.Status.FAILED).count()
    done = builtin.filter(status__in=Run.FINAL).count()
    shared = sum(1 for value in finished.filter(record__has_key="shared_with")
                 .values_list("record__shared_with", flat=True) if value)
    computed = finished.count() - shared
    rate = done / (wall / 60) if wall else 0.0
    print(f"built-in runs: {total} on {args.benchmarks or 'every embedded target'}; "
          f"final {done} ({finished.count()} finished, {failed} failed) in {wall:.0f} s wall, "
          f"{cpu:.0f} CPU s of the worker processes ({os.cpu_count()} cores)")
    print(f"runs computed {computed}, runs shared {shared}")
    print(f"rate: {rate:.1f} runs/minute, {cpu / max(done, 1):.2f} CPU s a run")
    if done < total:
        projected = wall * total / max(done, 1)
        print(f"partial: projected whole fill-in {projected / 60:.0f} min wall, "
              f"{cpu * total / max(done, 1) / 60:.0f} CPU min at this rate "
              f"(the first minute includes the workers' start)")
        print(f"fillin_wall_s={projected:.0f} (projected)")
        print(f"fillin_cpu_s={cpu * total / max(done, 1):.0f} (projected)")
    else:
        print(f"fillin_wall_s={wall:.0f}")
        print(f"fillin_cpu_s={cpu:.0f}")
    if any(p.returncode not in (0, -signal.SIGTERM) for p in procs):
        print(f"a worker stopped early: see {var}/worker.log, {var}/control.log", file=sys.stderr)


if __name__ == "__main__":
    main()
