from django.core.management.base import BaseCommand

from evaluator.benchmarks import get_benchmark
from evaluator.tracks import get_track
from leaderboard.models import Benchmark
from leaderboard.services import benchmarks_sync, builtin_papers_sync
from submissions.services import baseline_ensure, runs_enqueue


class Command(BaseCommand):
    help = ("Sync the benchmarks, then make sure every built-in method a target's track shows "
            "(evaluator/tracks.py `Track.builtin_names`: every baseline and reference method on the "
            "masked tracks, the channel methods on structured, 2:4 magnitude on nm24) has a run for "
            "every compression and seed of every embedded benchmark on every track, queueing the runs "
            "it creates. Idempotent: a second call creates and queues nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--benchmarks", help="comma-separated names of benchmarks or targets "
                                                 "(digits-mlp/init; default: the embedded ones, every track)")

    def handle(self, *args, benchmarks=None, **options):
        benchmarks_sync()
        rows = (Benchmark.objects.filter(name__in=benchmarks.split(",")) if benchmarks
                else Benchmark.objects.filter(embedded=True))
        rows = list(rows)
        shown: dict[str, list] = {}  # built-in -> the targets whose track shows it, in first-seen order
        for row in rows:
            target = get_benchmark(row.name)
            for name in get_track(target.track).builtin_names(target):
                shown.setdefault(name, []).append(row)
        created = []
        for order, (name, targets) in enumerate(shown.items()):
            created += [(order, run) for run in baseline_ensure(name, targets)[1]]
        # Seed 0 of every built-in first, so whole curves appear early and fill in seed by seed.
        created.sort(key=lambda item: (item[1].benchmark.position, item[1].seed, item[0],
                                       item[1].compression))
        runs_enqueue([run for _, run in created])
        builtin_papers_sync()  # the reference methods' papers, tags and BibTeX
        self.stdout.write(f"built-in methods: {len(shown)} on {', '.join(b.name for b in rows)}; "
                          f"{len(created)} runs queued now")
