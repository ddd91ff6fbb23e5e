"""Server time of the leaderboard page /b/digits-mlp/ on PostgreSQL (target: p95 <= 150 ms).

Creates a fresh database (dropped first), migrates it, syncs the benchmarks and bulk-inserts
200 entries + the 7 baselines x 7 compressions x 3 seeds of finished runs on digits-mlp, each
with a full evaluator record, and ANALYZEs (as autovacuum would). Then loads the WSGI app as
gunicorn does and times N GETs through django.test.Client (URL resolution, middleware,
selectors, figures, template: everything but the network) and prints p50 and p95.
Ends with `p95_ms=X.X`.
With `--both-tracks` every method also has its runs on digits-mlp/init, so that the page's
Kendall tau against that track ranks a full second board; it also prints the share of the
page's server time spent on that (`tau_share=X.XX`).
Run: `.venv/bin/python benchmarks/leaderboard_latency.py [--both-tracks]` (PostgreSQL on
localhost, trust auth; BENCH_DB and BENCH_PG_ADMIN_URL override the database names).
"""

import os
import random
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _pg import recreate_database, setup_django  # noqa: E402

DB = os.environ.get("BENCH_DB", "pruneboard_bench")
ENTRIES, BASELINES, REQUESTS, WARMUP = 200, 7, 200, 10
URL = "/b/digits-mlp/"


def seed(both_tracks: bool) -> int:
    from django.utils import timezone

    from leaderboard.models import Benchmark, Method
    from leaderboard.services import benchmarks_sync
    from submissions.models import Run, Submission
    from tests.factories import make_record

    benchmarks_sync()
    targets = list(Benchmark.objects.filter(name__in=["digits-mlp", "digits-mlp/init"] if both_tracks
                                            else ["digits-mlp"]))
    rng = random.Random(0)
    methods = Method.objects.bulk_create(
        [Method(name=f"baseline {i}", slug=f"baseline-{i}", is_baseline=True) for i in range(BASELINES)]
        + [Method(name=f"Entry {i:03d}", slug=f"entry-{i:03d}", description="A *method*.")
           for i in range(ENTRIES)])
    submissions = Submission.objects.bulk_create(
        [Submission(method=m, sha256=f"{m.pk:064x}", status=Submission.Status.FINISHED) for m in methods])
    now = timezone.now()
    runs = []
    for submission, bench in ((sub, b) for sub in submissions for b in targets):
        skill = rng.uniform(0.0, 0.3)
        for c in bench.compressions:
            for s in bench.seeds:
                top1 = max(0.05, 0.983 - skill * (c.bit_length() - 1) / 6 + rng.gauss(0, 0.01))
                record = make_record(compression=float(c), seed=s, top1=top1,
                                     strategy=submission.method.slug,
                                     compression_error=rng.uniform(-0.005, 0.0))
                run = Run(submission=submission, benchmark=bench, compression=float(c), seed=s,
                          status=Run.Status.FINISHED, finished=now)
                run.take_record(record)
                runs.append(run)
    Run.objects.bulk_create(runs, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:  # table statistics, as autovacuum would gather them
        cursor.execute("ANALYZE")
    return len(runs)


def main() -> None:
    both_tracks = "--both-tracks" in sys.argv[1:]
    recreate_database(DB)
    setup_django(DB)
    n_runs = seed(both_tracks)
    import pruneboard.wsgi  # noqa: F401 - the app as gunicorn loads it (it sets up the GC too)
    from django.db import connection
    from django.test import Client

    client = Client()
    for _ in range(WARMUP):
        assert client.get(URL).status_code == 200
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
        page = client.get(URL)
    from leaderboard import views

    agreement, in_tau = views.track_agreement, []

    def timed_agreement(**kwargs):
        t0 = time.perf_counter()
        try:
            return agreement(**kwargs)
        finally:
            in_tau.append((time.perf_counter() - t0) * 1000)

    views.track_agreement = timed_agreement
    times = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        response = client.get(URL)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    times.sort()
    p50 = statistics.median(times)
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    print(f"database: PostgreSQL {DB}; {ENTRIES} entries + {BASELINES} baselines, "
          f"{n_runs} finished runs on digits-mlp{' and digits-mlp/init' if both_tracks else ''}")
    print(f"page: {len(page.content) / 1024:.0f} KiB, {len(queries)} SQL queries")
    print(f"{REQUESTS} GETs of {URL}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
    print(f"Kendall tau against the other tracks: {statistics.median(in_tau):.1f} ms a page (median), "
          f"{sum(in_tau) / sum(times):.0%} of the server time")
    print(f"tau_share={sum(in_tau) / sum(times):.2f}")
    print(f"p95_ms={p95:.1f}")


if __name__ == "__main__":
    main()
