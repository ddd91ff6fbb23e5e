"""Shared by the benchmark scripts: a fresh PostgreSQL database, Django pointed at it, its table
statistics, and the p95 the scripts report."""

import os
import tempfile

import psycopg

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://localhost/postgres")


def recreate_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(name: str) -> None:
    """django.setup() against database `name`, migrated, with the static files collected into a
    throwaway folder (pages link them through the manifest, as in production)."""
    os.environ["DATABASE_URL"] = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    os.environ.setdefault("PRUNEBOARD_STATIC_ROOT", tempfile.mkdtemp(prefix="bench-static-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pruneboard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def analyze(vacuum: bool = True) -> None:
    """VACUUM ANALYZE the database Django is set up against, as autovacuum would after a bulk
    insert (it is off on this machine's server): table statistics, and the visibility map an
    index-only scan needs. vacuum=False: ANALYZE alone."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def p95(times: list[float]) -> float:
    """The 95th percentile of the sorted `times` (nearest rank)."""
    return times[max(0, int(round(0.95 * len(times))) - 1)]
