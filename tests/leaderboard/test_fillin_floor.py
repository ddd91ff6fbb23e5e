"""benchmarks/fillin_floor.py counts the runs `seed_baselines` seeds, and one computation per result key."""

import runpy
from pathlib import Path

import pytest
from django.core.management import call_command

from submissions.models import Run

SCRIPT = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "fillin_floor.py"))


@pytest.mark.django_db
def test_it_counts_the_built_in_runs_seed_baselines_queues_on_every_embedded_target(benchmarks, monkeypatch):
    queued = []
    monkeypatch.setattr("leaderboard.management.commands.seed_baselines.runs_enqueue", queued.extend)
    call_command("seed_baselines")
    counted = {t.name: len(SCRIPT["builtin_jobs"](t)) for t in SCRIPT["embedded_targets"]()}
    seeded = {name: Run.objects.filter(benchmark__name=name).count() for name in counted}
    assert counted == seeded
    assert sum(counted.values()) == len(queued) == 1953


def test_runs_with_one_result_key_are_one_computation_and_refused_runs_none():
    # 1x: three methods' all-ones masks, one key; 2x: two methods with equal masks, one other, one refused
    counted = SCRIPT["tally"]([(1, "ones"), (1, "ones"), (1, "ones"), (2, "a"), (2, "a"), (2, "b"), (2, None)])
    assert (counted.runs, counted.failed, counted.shared, counted.computed_runs) == (7, 1, 3, 3)
    assert counted.computed == {1: {"ones"}, 2: {"a", "b"}}
