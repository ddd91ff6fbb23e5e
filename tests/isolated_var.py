"""Loaded before Django's settings (pytest.ini: `-p tests.isolated_var`): a test run keeps its
SQLite files, broker file, cache and secret key in a temporary folder of its own, never in the
checkout's var/, so nothing a test queues is waiting for the next `make run`'s worker. The
broker is that folder's file too, whatever the shell says (a test must never send to a real
broker); the e2e tests give their own processes their own folders and brokers."""

import atexit
import os
import shutil
import tempfile

VAR = tempfile.mkdtemp(prefix="pruneboard-test-var-")
atexit.register(shutil.rmtree, VAR, ignore_errors=True)
os.environ["PRUNEBOARD_VAR_DIR"] = VAR
os.environ["CELERY_BROKER_URL"] = f"sqla+sqlite:///{VAR}/celery-broker.sqlite3"
for name in ("PRUNEBOARD_STATIC_ROOT", "PRUNEBOARD_MEDIA_ROOT", "PRUNEBOARD_CACHE_URL"):
    os.environ.pop(name, None)  # below VAR (the settings' defaults)
