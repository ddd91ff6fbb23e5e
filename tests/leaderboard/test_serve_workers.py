"""`manage.py serve` (make run) starts a run worker per core the process may use, each with torch
on cores / workers threads and a name of its own, beside one control worker with the beat."""

from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from leaderboard.management.commands import serve


def queues_and_env(commands):
    out = []
    for argv, env in commands:
        queues = argv[argv.index("--queues") + 1]
        out.append((queues, argv[argv.index("--hostname") + 1], env.get("PRUNEBOARD_TORCH_THREADS"),
                    env.get("PRUNEBOARD_WORKER_NAME"), "--beat" in argv))
    return out


def test_one_run_worker_a_core_each_on_its_share_of_the_threads_and_one_control_worker(settings, monkeypatch):
    for name in ("PRUNEBOARD_TORCH_THREADS", "PRUNEBOARD_WORKER_NAME"):  # the control worker's: the process's
        monkeypatch.delenv(name, raising=False)
    settings.PRUNEBOARD_TORCH_THREADS, settings.PRUNEBOARD_WORKER_NAME = 0, "box"
    with mock.patch.object(serve.os, "sched_getaffinity", return_value={0, 1, 2, 3}):
        assert queues_and_env(serve.worker_commands()) == [
            ("cpu,gpu", "local1@%h", "1", "box/local1", False), ("cpu,gpu", "local2@%h", "1", "box/local2", False),
            ("cpu,gpu", "local3@%h", "1", "box/local3", False), ("cpu,gpu", "local4@%h", "1", "box/local4", False),
            ("control", "control@%h", None, None, True)]
        two = queues_and_env(serve.worker_commands(2))
    assert [(q, t) for q, _, t, _, _ in two] == [("cpu,gpu", "2"), ("cpu,gpu", "2"), ("control", None)]


def test_the_operators_torch_threads_win(settings):
    settings.PRUNEBOARD_TORCH_THREADS = 3
    with mock.patch.object(serve.os, "sched_getaffinity", return_value={0, 1}):
        assert {t for _, _, t, _, beat in queues_and_env(serve.worker_commands()) if not beat} == {"3"}


def test_no_workers_is_refused_with_the_number():
    with pytest.raises(CommandError, match=r"--workers must be 1 or more \(got 0\)"):
        call_command("serve", "--workers", "0")
