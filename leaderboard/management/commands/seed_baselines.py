from django.core.management.base import BaseCommand

from evaluator.pruning import BASELINES, REFERENCES
from leaderboard.models import Benchmark
from leaderboard.services import benchmarks_sync, builtin_papers_sync
from submissions.services import baseline_ensure, runs_enqueue


class Command(BaseCommand):
    help = ("Sync the benchmarks, then make sure every baseline and every reference method has a "
            "run for every compression and seed of every embedded benchmark on every track, queueing "
            "the runs it creates. Idempotent: a second call "
            "creates and queues nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--benchmarks", help="comma-separated names of benchmarks or targets "
                                                 "(digits-mlp/init; default: the embedded ones, every track)")

    def handle(self, *args, benchmarks=None, **options):
        benchmarks_sync()
        rows = (Benchmark.objects.filter(name__in=benchmarks.split(",")) if benchmarks
                else Benchmark.objects.filter(embedded=True))
        rows = list(rows)
        created = []
        for order, name in enumerate([*BASELINES, *REFERENCES]):
            created += [(order, run) for run in baseline_ensure(name, rows)[1]]
        # Seed 0 of every built-in first, so whole curves appear early and fill in seed by seed.
        created.sort(key=lambda item: (item[1].benchmark.position, item[1].seed, item[0],
                                       item[1].compression))
        runs_enqueue([run for _, run in created])
        builtin_papers_sync()  # the reference methods' papers, tags and BibTeX
        self.stdout.write(f"baselines: {len(BASELINES)}, reference methods: {len(REFERENCES)} on "
                          f"{', '.join(b.name for b in rows)}; {len(created)} runs queued now")
