"""Page weight: the bytes a first visit to the home page and to a leaderboard transfers (the HTML
and every static file it links), as a browser that sends `Accept-Encoding: gzip, br` gets them,
and the cache lifetime of each static file.

Builds a throwaway site in a temporary folder (SQLite): migrates, syncs the benchmarks,
`collectstatic` when the static storage needs it, and 7 baselines + 5 reference methods + 10
entries x 7 compressions x 3 seeds of finished runs on digits-mlp. Then fetches `/` and
`/b/digits-mlp/` through the WSGI app (the WhiteNoise middleware serves the static files, as in
production) and counts the response bodies: what goes over the wire, before HTTP framing.
Ends with `bytes=N` (the leaderboard page with its static files).
Run: `.venv/bin/python benchmarks/page_weight.py` (works on older trees too: copy it there).
"""

import gzip
import os
import random
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = Path(tempfile.mkdtemp(prefix="page-weight-"))
os.environ.update(PRUNEBOARD_VAR_DIR=str(VAR), PRUNEBOARD_STATIC_ROOT=str(VAR / "static"),
                  DATABASE_URL=f"sqlite:///{VAR / 'db.sqlite3'}", DJANGO_DEBUG="0",
                  DJANGO_SETTINGS_MODULE="pruneboard.settings", PRUNEBOARD_LOG_LEVEL="WARNING")
PAGES = ["/", "/b/digits-mlp/"]


def seed() -> None:
    from django.utils import timezone

    from leaderboard.models import Benchmark, Method
    from leaderboard.services import benchmarks_sync
    from submissions.models import Run, Submission
    from tests.factories import make_record

    benchmarks_sync()
    bench = Benchmark.objects.get(name="digits-mlp")
    rng = random.Random(0)
    fields = {f.name for f in Method._meta.get_fields()}
    methods = Method.objects.bulk_create(
        [Method(name=f"baseline {i}", slug=f"baseline-{i}", is_baseline=True) for i in range(7)]
        + [Method(name=f"Ref {i}", slug=f"ref-{i}", **({"is_reference": True} if "is_reference" in fields else {}))
           for i in range(5)]
        + [Method(name=f"Entry {i:02d}", slug=f"entry-{i:02d}") for i in range(10)])
    submissions = Submission.objects.bulk_create(
        [Submission(method=m, sha256=f"{m.pk:064x}", status=Submission.Status.FINISHED) for m in methods])
    runs = []
    for submission in submissions:
        skill = rng.uniform(0.0, 0.3)
        for c in bench.compressions:
            for s in bench.seeds:
                top1 = max(0.05, 0.983 - skill * (int(c).bit_length() - 1) / 6 + rng.gauss(0, 0.01))
                record = make_record(compression=float(c), seed=s, top1=top1, strategy=submission.method.slug)
                run = Run(submission=submission, benchmark=bench, compression=float(c), seed=s,
                          status=Run.Status.FINISHED, finished=timezone.now(), top1=record["top1"],
                          top5=record["top5"], pre_top1=record["pre_top1"],
                          actual_compression=record["compression"],
                          compression_error=record["compression_error"],
                          speedup=record["speedup"], record=record)
                if hasattr(run, "take_record"):  # trees since the record's columns (older ones: the fields above)
                    run.take_record(record)
                runs.append(run)
    Run.objects.bulk_create(runs, batch_size=2000)


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    storage = getattr(settings, "STORAGES", {}).get("staticfiles", {}).get("BACKEND", "")
    if "Manifest" in storage:
        call_command("collectstatic", interactive=False, verbosity=0)
    seed()
    client = Client(HTTP_ACCEPT_ENCODING="gzip, br")
    total = 0
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        html = body(response)  # as sent: compressed when the site compresses pages
        text = gzip.decompress(html) if response.get("Content-Encoding") == "gzip" else html
        links = re.findall(rb'(?:src|href)="(/static/[^"]+)"', text)
        size, rows = len(html), []
        for link in dict.fromkeys(links):
            r = client.get(link.decode())
            assert r.status_code == 200, (link, r.status_code)
            data = body(r)
            size += len(data)
            rows.append(f"    {link.decode()}: {len(data):,} bytes, encoding "
                        f"{r.get('Content-Encoding', 'none')}, cache {r.get('Cache-Control', '-')}")
        print(f"{page}: {size:,} bytes ({len(html):,} HTML, {len(text):,} uncompressed, encoding "
              f"{response.get('Content-Encoding', 'none')} + {size - len(html):,} static)")
        print("\n".join(rows))
        total = size
    print(f"bytes={total}")


if __name__ == "__main__":
    main()
