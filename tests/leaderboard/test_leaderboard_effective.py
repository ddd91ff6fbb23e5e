"""Effective compression on the site: averaged from the runs' records, on hover, marked when disconnected."""

import pytest

from leaderboard.charts import ENTRY_SYMBOLS, accuracy_figures
from leaderboard.selectors import benchmark_curves, benchmark_ranking
from submissions.models import Run

from tests.factories import make_entry

pytestmark = pytest.mark.django_db


def set_record(run, **values):
    run.take_record({**run.record, **values})
    run.save()


def test_effective_values_and_disconnected_runs_reach_the_curves_the_hover_and_the_table(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9, 0.9], 64: [0.1, 0.2]})
    runs = {(r.compression, r.seed): r for r in Run.objects.filter(submission__method=method)}
    set_record(runs[64, 0], effective_compression=600.0, effective_speedup=None, disconnected=True)
    set_record(runs[64, 1], effective_compression=100.0, effective_speedup=80.0)
    frame = benchmark_curves(benchmark=bench)
    at64 = frame[frame.compression == 64.0].iloc[0]
    assert (at64.effective_compression_mean, at64.effective_speedup_mean, at64.disconnected) == (350.0, 80.0, 1)
    assert frame[frame.compression == 2.0].iloc[0].disconnected == 0

    trace = accuracy_figures(frame)["compression"]["data"][0]
    own, at64_symbol = trace["marker"]["symbol"]  # the method's own marker (by its id), then the x
    assert own in ENTRY_SYMBOLS and at64_symbol == "x"
    assert "effective compression 350×" in trace["customdata"][1][3]
    assert "disconnected in 1 of 2 seeds" in trace["customdata"][1][3]
    assert "disconnected" not in trace["customdata"][0][3]

    (row,) = benchmark_ranking(benchmark=bench)
    assert (row.effective_top, row.disconnected_at) == (350.0, (64.0,))
    html = client.get("/b/digits-mlp/").content.decode()
    assert "disconnected at 64" in html and "350×" in html
