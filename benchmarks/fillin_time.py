"""The embedded product's whole fill-in on this machine: wall time and CPU seconds until every
built-in run `make run` seeds is final.

As `manage.py serve` does, on a fresh SQLite database and broker file in a throwaway var/ folder:
migrate, seed the baselines and reference methods (`seed_baselines`), and start one worker of
the `cpu,gpu` queues per core (`--workers`; its `worker_commands`) and the control worker with
the beat (the dispatcher, the reaper); no web
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
    parser.add_argument("--workers", type=int, help="run workers (default: as `manage.py serve`, one per core)")
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
    from leaderboard.management.commands.serve import worker_commands

    commands = worker_commands(args.workers, loglevel="WARNING")
    commands[-1][0].extend(["--schedule", str(var / "beat-schedule")])  # the control worker's beat
    logs = [open(var / f"worker{i}.log", "wb") for i in range(len(commands))]
    start = time.monotonic()
    procs = [subprocess.Popen(argv, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
             for (argv, worker_env), log in zip(commands, logs)]
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
    left_s, unknown = per_target(builtin, Run.FINAL)
    if done < total:
        workers = len(procs) - 1
        projected = wall + left_s / workers
        print(f"partial: projected whole fill-in {projected / 60:.0f} min wall (each target's runs left x "
              f"its finished runs' mean seconds, on {workers} workers), or {wall * total / max(done, 1) / 60:.0f} "
              f"min at the overall rate so far (the first minute includes the workers' start)"
              + (f"; no run finished yet on {', '.join(unknown)}: not counted" if unknown else ""))
        print(f"fillin_wall_s={projected:.0f} (projected)")
        print(f"fillin_cpu_s={cpu * total / max(done, 1):.0f} (projected at the overall rate)")
    else:
        print(f"fillin_wall_s={wall:.0f}")
        print(f"fillin_cpu_s={cpu:.0f}")
    if any(p.returncode not in (0, -signal.SIGTERM) for p in procs):
        print(f"a worker stopped early: see {var}/worker*.log", file=sys.stderr)


def per_target(builtin, final_statuses) -> tuple[float, list[str]]:
    """Print each target's final / total runs and its final runs' mean seconds (`time_total_s`:
    a run's worker seconds, its share of a batch's; a shared run's own few); return the worker
    seconds its runs left would take at that mean, and the targets with no final run yet."""
    rows: dict[str, list] = {}
    for name, status, seconds in builtin.values_list("benchmark__name", "status", "record__time_total_s"):
        row = rows.setdefault(name, [0, 0, 0.0])
        row[0] += 1
        if status in final_statuses:
            row[1] += 1
            row[2] += float(seconds or 0)
    left, unknown = 0.0, []
    print(f"{'target':<24} {'final':>11} {'s a run':>8}")
    for name, (total, final, seconds) in rows.items():
        mean = seconds / final if final else None
        print(f"{name:<24} {final:>5} / {total:<5} {mean if mean is not None else float('nan'):>8.2f}")
        if final < total:
            if mean is None:
                unknown.append(name)
            else:
                left += (total - final) * mean
    return left, unknown


if __name__ == "__main__":
    main()
