"""Server time of the leaderboard page /b/digits-mlp/ on PostgreSQL (targets: p95 <= 150 ms at
200 methods, <= 300 ms at 2,000 methods, x 7 compressions x 3 seeds).

Creates a fresh database (dropped first), migrates it, syncs the benchmarks and bulk-inserts
the 7 baselines + entries x 7 compressions x 3 seeds of finished runs on digits-mlp, each with a
full evaluator record, and VACUUM ANALYZEs (as autovacuum would after so many inserts: the
statistics, and the visibility map an index-only scan needs; `--analyze-only`: ANALYZE alone,
as the figures before 2026-12-03 16:00 were taken). Then loads the WSGI app as gunicorn
does and times N GETs through django.test.Client (URL resolution, middleware, selectors,
figures, template: everything but the network) and prints p50, p95 and the page's HTML size.
`--methods 200,2000` (the default): measured at each size in turn, the entries added between
(the first GET after adding them is the first after runs finished: it is not in the timings).
Ends with `p95_ms_<methods>=X.X` and `html_kib_<methods>=X` per size.
With `--both-tracks` every method also has its runs on digits-mlp/init, so that the page's
Kendall tau against that track ranks a full second board; it also prints the share of the
page's server time spent on that (`tau_share=X.XX`).
Run: `.venv/bin/python benchmarks/leaderboard_latency.py [--both-tracks] [--methods 200,2000]
[--requests 200]` (PostgreSQL on
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

from _pg import analyze, p95, recreate_database, setup_django  # noqa: E402

DB = os.environ.get("BENCH_DB", "pruneboard_bench")
BASELINES, WARMUP = 7, 5
URL = "/b/digits-mlp/"


def _option(name: str, default: str) -> str:
    args = sys.argv[1:]
    return args[args.index(name) + 1] if name in args else default


def seed(both_tracks: bool, first: int, entries: int) -> int:
    """Entries number `first` .. `first + entries - 1` (and, with first == 0, the baselines)
    with every run finished; the number of runs added."""
    from django.utils import timezone

    from leaderboard.models import Benchmark, Method
    from leaderboard.services import benchmarks_sync
    from submissions.models import Run, Submission
    from tests.factories import make_record

    benchmarks_sync()
    targets = list(Benchmark.objects.filter(name__in=["digits-mlp", "digits-mlp/init"] if both_tracks
                                            else ["digits-mlp"]))
    rng = random.Random(first)
    methods = Method.objects.bulk_create(
        [Method(name=f"baseline {i}", slug=f"baseline-{i}", is_baseline=True)
         for i in range(BASELINES if first == 0 else 0)]
        + [Method(name=f"Entry {i:04d}", slug=f"entry-{i:04d}", description="A *method*.")
           for i in range(first, first + entries)])
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
    return len(runs)


def measure(client, requests: int, timed_agreement_calls: list) -> tuple[list[float], int, int, float]:
    """(sorted milliseconds of `requests` GETs, the page's bytes, its SQL queries, the
    milliseconds of the first GET: the first after the runs finished, which ranks them)."""
    from django.db import connection

    t0 = time.perf_counter()
    assert client.get(URL).status_code == 200
    first = (time.perf_counter() - t0) * 1000
    for _ in range(WARMUP):
        assert client.get(URL).status_code == 200
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
        page = client.get(URL)
    timed_agreement_calls.clear()
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(URL)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return sorted(times), len(page.content), len(queries), first


def main() -> None:
    both_tracks = "--both-tracks" in sys.argv[1:]
    sizes = [int(n) for n in _option("--methods", "200,2000").split(",")]
    requests = int(_option("--requests", "200"))
    recreate_database(DB)
    setup_django(DB)
    import pruneboard.wsgi  # noqa: F401 - the app as gunicorn loads it (it sets up the GC too)
    from django.test import Client

    from leaderboard import views

    agreement, in_tau = views.track_agreement, []

    def timed_agreement(**kwargs):
        t0 = time.perf_counter()
        try:
            return agreement(**kwargs)
        finally:
            in_tau.append((time.perf_counter() - t0) * 1000)

    views.track_agreement = timed_agreement
    client, n_runs, have, results = Client(), 0, 0, []
    for size in sizes:
        entries = size  # entries; the baselines come on top, as in the earlier figures
        n_runs += seed(both_tracks, have, entries - have)
        have = entries
        analyze(vacuum="--analyze-only" not in sys.argv[1:])
        times, size_bytes, n_queries, first = measure(client, requests, in_tau)
        p50 = statistics.median(times)
        page_p95 = p95(times)
        print(f"database: PostgreSQL {DB}; {entries} entries + {BASELINES} baselines, "
              f"{n_runs} finished runs on digits-mlp{' and digits-mlp/init' if both_tracks else ''}")
        print(f"page: {size_bytes / 1024:.0f} KiB, {n_queries} SQL queries")
        print(f"{requests} GETs of {URL}: p50 {p50:.1f} ms, p95 {page_p95:.1f} ms, "
              f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms; the first after the runs finished {first:.1f} ms")
        if in_tau:
            print(f"Kendall tau against the other tracks: {statistics.median(in_tau):.1f} ms a page (median), "
                  f"{sum(in_tau) / sum(times):.0%} of the server time")
            print(f"tau_share_{size}={sum(in_tau) / sum(times):.2f}")
        results.append((size, p50, page_p95, size_bytes))
    for size, p50, page_p95, size_bytes in results:
        print(f"p50_ms_{size}={p50:.1f} p95_ms_{size}={page_p95:.1f} html_kib_{size}={size_bytes / 1024:.0f}")


if __name__ == "__main__":
    main()
