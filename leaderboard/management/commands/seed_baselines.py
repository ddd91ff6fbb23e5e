from django.core.management.base import BaseCommand

from evaluator.pruning import BASELINES
from leaderboard.models import Benchmark
from leaderboard.services import benchmarks_sync
from submissions.services import baseline_ensure, runs_enqueue


class Command(BaseCommand):
    help = ("Sync the benchmarks, then make sure every baseline has a run for every compression "
            "and seed of every embedded benchmark, queueing the runs it creates. Idempotent: a "
            "second call creates and queues nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--benchmarks", help="comma-separated names (default: the embedded ones)")

    def handle(self, *args, benchmarks=None, **options):
        benchmarks_sync()
        rows = (Benchmark.objects.filter(name__in=benchmarks.split(",")) if benchmarks
                else Benchmark.objects.filter(embedded=True))
        rows = list(rows)
        total = 0
        for name in BASELINES:
            _, created = baseline_ensure(name, rows)
            runs_enqueue(created)
            total += len(created)
        self.stdout.write(f"baselines: {len(BASELINES)} on {', '.join(b.name for b in rows)}; "
                          f"{total} runs queued now")
