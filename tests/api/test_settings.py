"""Settings read the environment loudly, and .env.example lists every variable they read."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable_the_settings_and_the_evaluator_read():
    sources = [ROOT / "pruneboard" / "settings.py", *(ROOT / "evaluator").glob("*.py")]
    read = set()
    for path in sources:
        text = path.read_text()
        read |= set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', text))
        read |= set(re.findall(r'"((?:PRUNEBOARD|CELERY)_[A-Z_]+)"', text))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set()


def test_a_malformed_setting_stops_the_process_and_names_it():
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                                 "DJANGO_DEBUG": "maybe", "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-settings-test"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_a_worker_computes_with_the_torch_threads_it_is_given(settings):
    import torch
    from celery import signals

    before = torch.get_num_threads()
    settings.PRUNEBOARD_TORCH_THREADS = 1
    try:
        signals.worker_process_init.send(sender=None)  # what a starting worker process sends
        assert torch.get_num_threads() == 1
        from evaluator.environment import environment
        assert environment("cpu")["torch_threads"] == 1  # and every run records it
    finally:
        torch.set_num_threads(before)


def test_a_solo_pool_worker_sets_its_threads_when_it_starts():
    from celery import signals

    from pruneboard.celery import set_torch_threads

    assert set_torch_threads in [ref() for _, ref in signals.worker_init.receivers]


def test_without_the_setting_a_worker_keeps_torchs_default(settings):
    import torch
    from celery import signals

    before = torch.get_num_threads()
    settings.PRUNEBOARD_TORCH_THREADS = 0
    signals.worker_process_init.send(sender=None)
    assert torch.get_num_threads() == before


def test_the_wsgi_app_keeps_what_it_loaded_out_of_the_garbage_collectors_passes():
    result = subprocess.run([sys.executable, "-c", "import gc, pruneboard.wsgi; print(gc.get_freeze_count())"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-wsgi-test"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000


def test_the_web_server_stops_without_a_teardown_report_of_frozen_objects():
    # preloaded as gunicorn --preload loads it: torch's triton bindings among what gc.freeze kept
    result = subprocess.run([sys.executable, "-c", "import pruneboard.wsgi"], cwd=ROOT, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-wsgi-test",
                                            "PRUNEBOARD_WEB_PRELOAD": "1"})
    assert result.returncode == 0, result.stderr
    assert "leaked" not in result.stderr, result.stderr[:500]


def test_a_test_run_keeps_its_files_and_its_broker_out_of_the_checkouts_var():
    from django.conf import settings

    assert settings.VAR_DIR != ROOT / "var" and not settings.VAR_DIR.is_relative_to(ROOT)
    assert settings.CELERY_BROKER_URL == f"sqla+sqlite:///{settings.VAR_DIR}/celery-broker.sqlite3"


def test_two_processes_writing_one_sqlite_file_wait_for_each_other(tmp_path, django_db_blocker):
    """A transaction that reads, then writes after another connection has committed a write:
    with SQLite's default (deferred) transactions that write fails at once ("database is
    locked", SQLite cannot wait there); with the settings' options the other waits instead."""
    import threading

    from django.conf import settings
    from django.db import OperationalError, connections, transaction

    def race(alias: str, options: dict) -> list[str]:
        connections.settings[alias] = connections.configure_settings({"default": {}, alias: {
            "ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / f"{alias}.sqlite3"),
            "OPTIONS": options}})[alias]
        errors = []

        def other():
            try:
                with transaction.atomic(using=alias):
                    connections[alias].cursor().execute("INSERT INTO t VALUES (2)")
            except OperationalError as exc:
                errors.append(f"other: {exc}")
            finally:
                connections[alias].close()

        try:
            connections[alias].cursor().execute("CREATE TABLE t (x INTEGER)")
            with transaction.atomic(using=alias):
                connections[alias].cursor().execute("SELECT count(*) FROM t")
                thread = threading.Thread(target=other)
                thread.start()
                thread.join(timeout=1)  # deferred: the other commits now; immediate: it waits for us
                connections[alias].cursor().execute("INSERT INTO t VALUES (1)")
        except OperationalError as exc:
            errors.append(f"first: {exc}")
        thread.join()
        connections[alias].close()
        del connections.settings[alias]
        return errors

    with django_db_blocker.unblock():
        assert race("immediate", settings.SQLITE_OPTIONS) == []
        deferred = {k: v for k, v in settings.SQLITE_OPTIONS.items() if k != "transaction_mode"}
        assert race("deferred", deferred) == ["first: database is locked"]


def _setup(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import "
                           "settings; print(settings.SECRET_KEY)"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                               "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-settings-test", **env})


def test_a_secret_can_come_from_a_file_as_docker_secrets_give_it(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("s3cret-from-a-file-0123456789abcdefghijklmnopqrstuvwxyz\n")
    result = _setup({"PRUNEBOARD_PRODUCTION": "1", "DJANGO_SECRET_KEY_FILE": str(secret)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s3cret-from-a-file-0123456789abcdefghijklmnopqrstuvwxyz"


def test_a_secret_file_that_cannot_be_read_or_a_setting_given_twice_is_refused(tmp_path):
    missing = _setup({"DJANGO_SECRET_KEY_FILE": str(tmp_path / "nowhere")})
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY_FILE=" in missing.stderr and "cannot be read" in missing.stderr
    (tmp_path / "key").write_text("x" * 60)
    both = _setup({"DJANGO_SECRET_KEY": "y" * 60, "DJANGO_SECRET_KEY_FILE": str(tmp_path / "key")})
    assert both.returncode != 0 and "both DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE are set" in both.stderr
