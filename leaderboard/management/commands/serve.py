"""`manage.py serve`: the whole product on one machine. Migrates, starts the web server and one
local Celery worker, seeds the baselines of the embedded benchmarks (they fill in in the
background), prints the address, and stops both processes on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PRUNEBOARD_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PRUNEBOARD_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="web server only")
        parser.add_argument("--no-seed", action="store_true", help="do not seed the baselines")

    def handle(self, *args, host, port, no_worker, no_seed, **options):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); is another "
                                   "server running there? Set PRUNEBOARD_PORT or pass --port.")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("sync_benchmarks", verbosity=0)
        bin_dir = os.path.dirname(sys.executable)
        procs = [subprocess.Popen([os.path.join(bin_dir, "gunicorn"), "pruneboard.wsgi",
                                   "--bind", f"{host}:{port}", "--workers", "2",
                                   "--access-logfile", "-", "--log-level", "warning"])]
        if not no_worker:
            procs.append(subprocess.Popen([os.path.join(bin_dir, "celery"), "-A", "pruneboard", "worker",
                                           "--queues", "cpu,gpu", "--concurrency", "1", "--pool", "solo",
                                           "--hostname", "local@%h", "--loglevel", "INFO",
                                           "--beat"]))  # the reaper's schedule, in the one worker
        stop = lambda *_: [p.terminate() for p in procs if p.poll() is None]  # noqa: E731
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        address = f"http://{host}:{port}/"
        try:
            self._wait_until_up(address, procs[0])
            if not no_seed:
                call_command("seed_baselines")
            self.stdout.write(self.style.SUCCESS(f"pruneboard is up: {address}  (Ctrl-C stops it)"))
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        finally:
            stop()
            for p in procs:
                p.wait(timeout=60)

    def _wait_until_up(self, address, web, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and web.poll() is None:
            try:
                urllib.request.urlopen(address, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the web server did not answer at {address} within {timeout} s")
