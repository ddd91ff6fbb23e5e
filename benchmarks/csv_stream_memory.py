"""Python heap while streaming /b/digits-mlp.csv: does memory grow with the row count?

Creates a fresh PostgreSQL database (dropped first), migrates it, bulk-inserts 100 000
finished runs with full evaluator records (1 000 methods x 100 runs on digits-mlp), then reads
the CSV through django.test.Client, consuming `streaming_content` chunk by chunk under
tracemalloc. Prints the peak traced memory after the first 10 000 rows and after all 100 000,
and ends with `ratio=X.XXX` = peak at 100k / peak at 10k (about 1: memory is flat).
Run: `.venv/bin/python benchmarks/csv_stream_memory.py` (PostgreSQL on localhost, trust auth;
BENCH_DB and BENCH_PG_ADMIN_URL override the database names).
"""

import os
import sys
import time
import tracemalloc
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _pg import recreate_database, setup_django  # noqa: E402

DB = os.environ.get("BENCH_DB", "pruneboard_bench_csv")
METHODS, RUNS_PER_METHOD, BATCH = 1000, 100, 5000
FIRST = 10_000
URL = "/b/digits-mlp.csv"


def seed() -> int:
    from django.utils import timezone

    from leaderboard.models import Benchmark, Method
    from leaderboard.services import benchmarks_sync
    from submissions.models import Run, Submission
    from tests.factories import make_record

    benchmarks_sync()
    bench = Benchmark.objects.get(name="digits-mlp")
    methods = Method.objects.bulk_create(
        [Method(name=f"Entry {i:04d}", slug=f"entry-{i:04d}") for i in range(METHODS)])
    submissions = Submission.objects.bulk_create(
        [Submission(method=m, sha256=f"{m.pk:064x}", status=Submission.Status.FINISHED) for m in methods])
    jobs = [(float(c), seed) for seed in range(RUNS_PER_METHOD) for c in bench.compressions]
    jobs = jobs[:RUNS_PER_METHOD]
    now, batch, total = timezone.now(), [], 0
    for submission in submissions:
        for compression, seed in jobs:
            top1 = 0.98 - 0.01 * int(compression).bit_length() - (submission.pk % 7) / 1000
            record = make_record(compression=compression, seed=seed, top1=top1,
                                 strategy=submission.method.slug)
            batch.append(Run(submission=submission, benchmark=bench, compression=compression,
                             seed=seed, status=Run.Status.FINISHED, finished=now,
                             top1=top1, top5=record["top5"], pre_top1=record["pre_top1"],
                             actual_compression=record["compression"],
                             compression_error=record["compression_error"],
                             speedup=record["speedup"], record=record))
            if len(batch) == BATCH:
                Run.objects.bulk_create(batch)
                total += len(batch)
                batch = []
    Run.objects.bulk_create(batch)
    return total + len(batch)


def main() -> None:
    recreate_database(DB)
    setup_django(DB)
    t0 = time.perf_counter()
    inserted = seed()
    print(f"inserted {inserted} finished runs in {time.perf_counter() - t0:.0f} s")
    from django.test import Client

    client = Client()
    t0 = time.perf_counter()
    tracemalloc.start()
    response = client.get(URL)
    assert response.status_code == 200 and response.streaming
    lines, peak_first, size = 0, None, 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
        if peak_first is None and lines - 1 >= FIRST:
            peak_first = tracemalloc.get_traced_memory()[1]
    peak_end = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = lines - 1  # the header
    seconds = time.perf_counter() - t0
    print(f"streamed {rows} rows, {size / 2**20:.1f} MiB of CSV in {seconds:.1f} s "
          "(under tracemalloc)")
    print(f"peak Python heap after {FIRST} rows: {peak_first / 2**20:.2f} MiB")
    print(f"peak Python heap after {rows} rows: {peak_end / 2**20:.2f} MiB")
    print(f"ratio={peak_end / peak_first:.3f}")


if __name__ == "__main__":
    main()
