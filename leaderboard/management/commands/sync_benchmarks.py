from django.core.management.base import BaseCommand

from leaderboard.services import benchmarks_sync


class Command(BaseCommand):
    help = "Create or update the site's benchmarks from the evaluator's registry (idempotent)."

    def handle(self, *args, **options):
        rows = benchmarks_sync()
        self.stdout.write(f"{len(rows)} benchmarks: {', '.join(r.name for r in rows)}")
