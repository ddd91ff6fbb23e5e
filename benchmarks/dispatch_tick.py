"""The dispatcher's tick with 100,000 queued runs on PostgreSQL (target: <= 100 ms).

Creates a fresh database (dropped first), migrates it, syncs the benchmarks and bulk-inserts
100,000 runs waiting in the database: the 12 built-in methods' fill-in on every target, and
researchers' submissions (147 runs each: 7 embedded targets x 7 compressions x 3 seeds) from
300 users, round-robin; besides them, 8 runs running on `cpu` (busy workers: room for 16 in the
broker a tick) and 20,000 finished runs (the history the fill-in's share reads). ANALYZEs (as
autovacuum would). Then times `submissions.dispatch.runs_dispatch()` (the beat's tick: the lost
check, then each queue's head in priority order, claimed and sent) with the broker replaced by
a counter; after each tick the runs it sent wait again, so every tick does the same work.
Prints the median and p95 of the ticks, the SQL queries of one tick, and EXPLAIN ANALYZE of
its main queries on `cpu` (the researchers' first runs, the fill-in's head, the last dispatches).
Ends with `tick_p95_ms=X.X`.
Run: `.venv/bin/python benchmarks/dispatch_tick.py` (PostgreSQL on localhost, trust auth;
BENCH_DB and BENCH_PG_ADMIN_URL override the database names).
"""

import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _pg import analyze, p95, recreate_database, setup_django  # noqa: E402

DB = os.environ.get("BENCH_DB", "pruneboard_bench_dispatch")
QUEUED, USERS, BUSY, FINISHED, TICKS, WARMUP = 100_000, 300, 8, 20_000, 30, 3


def seed() -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from evaluator.pruning import BASELINES, REFERENCES
    from leaderboard.models import Benchmark, Method
    from leaderboard.services import benchmarks_sync
    from submissions.models import Run, Submission

    benchmarks_sync()
    targets = list(Benchmark.objects.order_by("position"))
    embedded = [b for b in targets if b.embedded]
    builtins = [*BASELINES, *REFERENCES]
    methods = Method.objects.bulk_create([Method(name=n, slug=f"b-{n}", builtin_name=n, is_baseline=True)
                                          for n in builtins])
    subs = Submission.objects.bulk_create([Submission(method=m, baseline=m.builtin_name, sha256=f"baseline:{m.pk}",
                                                      status=Submission.Status.QUEUED) for m in methods])
    runs = [Run(submission=s, benchmark=b, compression=float(c), seed=seed)
            for s in subs for b in targets for c in b.compressions for seed in b.seeds]
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"user{i}") for i in range(USERS)])
    per_sub = sum(len(b.compressions) * len(b.seeds) for b in embedded)
    n_subs = -(-(QUEUED + BUSY - len(runs)) // per_sub)
    methods = Method.objects.bulk_create([Method(name=f"Entry {i}", slug=f"entry-{i}", owner=users[i % USERS])
                                          for i in range(n_subs)])
    subs = Submission.objects.bulk_create([Submission(method=m, owner=m.owner, sha256=f"{m.pk:064x}",
                                                      status=Submission.Status.QUEUED) for m in methods])
    for s in subs:
        runs += [Run(submission=s, benchmark=b, compression=float(c), seed=seed)
                 for b in embedded for c in b.compressions for seed in b.seeds]
    runs = runs[:QUEUED + BUSY]
    Run.objects.bulk_create(runs, batch_size=5000)
    # the history: finished runs (a finished submission's), and the busy workers' runs
    now = timezone.now()
    done = Submission.objects.bulk_create([
        Submission(method=Method.objects.create(name=f"Done {i}", slug=f"done-{i}", owner=users[i % USERS]),
                   owner=users[i % USERS], sha256=f"{i:064x}", status=Submission.Status.FINISHED)
        for i in range(-(-FINISHED // per_sub))])
    history = [Run(submission=s, benchmark=b, compression=float(c), seed=seed, status=Run.Status.FINISHED,
                   queued_at=now, started=now, finished=now)
               for s in done for b in embedded for c in b.compressions for seed in b.seeds][:FINISHED]
    Run.objects.bulk_create(history, batch_size=5000)
    busy = list(Run.objects.filter(status=Run.Status.QUEUED, benchmark__queue="cpu",
                                   submission__owner__isnull=False).order_by("-pk")[:BUSY])
    for n, run in enumerate(busy):  # 8 workers, each holding its own lease
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, queued_at=now, started=now,
                                             lease_token=f"{n:032d}")
    analyze()
    return {"queued": Run.objects.filter(status=Run.Status.QUEUED).count(),
            "users": USERS, "submissions": n_subs, "targets": len(targets),
            "finished": Run.objects.filter(status=Run.Status.FINISHED).count()}


def main() -> None:
    recreate_database(DB)
    setup_django(DB)
    counts = seed()
    from django.db import connection

    from submissions import dispatch
    from submissions.models import Run

    sent = []

    def send(name, args, **options):
        sent.append(args[0])

    def undo():
        Run.objects.filter(pk__in=sent).update(queued_at=None)
        sent.clear()

    times, per_tick = [], []
    with mock.patch.object(dispatch, "_task_send", side_effect=send), \
            mock.patch.object(dispatch, "broker_count", side_effect=lambda q: dispatch._in_broker(q)):
        for n in range(WARMUP + TICKS):
            t0 = time.perf_counter()
            dispatch.runs_dispatch()
            elapsed = (time.perf_counter() - t0) * 1000
            per_tick.append(len(sent))
            if n >= WARMUP:
                times.append(elapsed)
            undo()
        queries = []
        with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
            dispatch.runs_dispatch()
        undo()
    times.sort()
    tick_p95 = p95(times)
    print(f"database: PostgreSQL {DB}; {counts['queued']} queued runs ({counts['submissions']} researchers' "
          f"submissions of {counts['users']} users, the built-ins' fill-in on {counts['targets']} targets), "
          f"{BUSY} running, {counts['finished']} finished")
    print(f"{TICKS} ticks: median {statistics.median(times):.1f} ms, p95 {tick_p95:.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms; {per_tick[-1]} runs sent a tick; "
          f"{len(queries)} SQL queries a tick")
    main_query = getattr(dispatch, "MAIN_QUERY", None)
    for title, query in (main_query("cpu") if main_query else {}).items():
        sql, params = query if isinstance(query, tuple) else query.query.sql_with_params()  # SQL, or a queryset
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
            print(f"EXPLAIN ANALYZE of {title} (cpu):")
            print("\n".join("  " + row[0] for row in cursor.fetchall()))
    print(f"tick_p95_ms={tick_p95:.1f}")


if __name__ == "__main__":
    main()
