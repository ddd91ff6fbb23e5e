"""Measured speedup on the site: copied from the record, beside the theoretical one in the table,
its own chart, the machines named when they differ, the figures on the run page."""

from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from leaderboard import tables
from leaderboard.charts import accuracy_figures
from leaderboard.selectors import benchmark_curves, benchmark_latency_machines, benchmark_ranking
from submissions.models import Run
from submissions.services.recording import _finite_or_none

from tests.factories import make_entry, make_record

pytestmark = pytest.mark.django_db

EPYC, XEON = "AMD EPYC 7763 (cpu)", "Intel Xeon Gold 6338 (cpu)"


def timed(run, measured: float | None, machine: str = EPYC, **values):
    """Give a run a timed record: measured speedup at batch 64 and the machine."""
    run.take_record(_finite_or_none({**run.record, "measured_speedup_b64": measured, "latency_device": machine,
                                     **values}))
    run.save()


def untimed(run):
    """A record from before latency was timed: no latency columns at all."""
    run.take_record({k: v for k, v in run.record.items() if "latency" not in k and "measured" not in k})
    run.save()


def runs_of(method):
    return {(r.compression, r.seed): r for r in Run.objects.filter(submission__method=method)}


def test_a_run_takes_its_measured_speedup_at_batch_64_and_its_machine_from_the_record():
    run = Run(**{})
    run.take_record({**make_record(), "measured_speedup_b1": 0.9, "measured_speedup_b64": 1.04,
                     "latency_device": EPYC})
    assert (run.measured_speedup, run.latency_device) == (1.04, EPYC)
    run.take_record({})  # a record from before latency was timed
    assert (run.measured_speedup, run.latency_device) == (None, "")


def test_an_infinite_measured_speedup_is_stored_as_null_and_shown_as_a_dash(client, benchmarks):
    method = make_entry("Alpha", benchmarks["digits-mlp"], {64: [0.2]})
    timed(runs_of(method)[64, 0], float("inf"))
    run = Run.objects.get(submission__method=method)
    assert run.measured_speedup is None and run.record["measured_speedup_b64"] is None
    assert "—" in client.get(f"/r/{run.pk}/").content.decode().split('id="run-measured-speedup"')[1][:40]


def test_the_table_shows_measured_beside_theoretical_speedup_at_the_highest_compression(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9, 0.9], 16: [0.5, 0.6]})
    runs = runs_of(method)
    timed(runs[16, 0], 1.02, speedup=15.0)
    timed(runs[16, 1], 1.06, speedup=15.0)
    timed(runs[2, 0], 0.5)
    (row,) = benchmark_ranking(benchmark=bench)
    assert row.theoretical_top == 15.0 and row.measured_top == pytest.approx(1.04)
    html = client.get("/b/digits-mlp/").content.decode()
    assert "meas. speedup" in html and "theor. speedup" in html
    assert '<td class="num theoretical-speedup">15.0×</td>' in html
    assert '<td class="num measured-speedup">1.04×</td>' in html


def test_a_method_never_timed_shows_a_dash_and_sorts_last_by_measured_speedup(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    old, slow, fast = (make_entry(name, bench, {2: [0.8]}) for name in ("Old", "Slow", "Fast"))
    untimed(runs_of(old)[2, 0])
    timed(runs_of(slow)[2, 0], 0.9)
    timed(runs_of(fast)[2, 0], 1.8)
    ranking = benchmark_ranking(benchmark=bench)
    ordered = tables.sort_ranking(ranking, "meas", True, bench.compressions)
    assert [r.method for r in ordered] == ["Fast", "Slow", "Old"]
    html = client.get("/b/digits-mlp/?" + urlencode({"sort": "meas", "dir": "desc"})).content.decode()
    html = html[html.index('<table class="table ranking"'):]
    assert html.index(">Fast<") < html.index(">Slow<") < html.index(">Old<")
    assert '<td class="num measured-speedup">–</td>' in html
    links = tables.sort_links(QueryDict(""), bench.compressions, "rank", False)
    assert "sort=meas" in links["meas"]["href"] and "sort=spd" in links["spd"]["href"]


def test_the_measured_chart_plots_top1_against_measured_speedup_with_the_theoretical_on_hover(benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9], 4: [0.8], 8: [0.7]})
    runs = runs_of(method)
    timed(runs[2, 0], 1.01, speedup=1.9)
    timed(runs[4, 0], 0.97, speedup=3.8)
    untimed(runs[8, 0])
    figures = accuracy_figures(benchmark_curves(benchmark=bench))
    (trace,) = figures["measured"]["data"]
    assert trace["x"] == [1.01, 0.97] and trace["y"] == [90.0, 80.0]
    assert [c[2] for c in trace["customdata"]] == [1.9, 3.8]
    layout = figures["measured"]["layout"]
    assert "measured speedup" in layout["xaxis"]["title"]["text"]
    low, high = layout["xaxis"]["range"]
    assert 10 ** low < 0.97 and 10 ** high > 1.01  # below 1x stays in view
    assert any(shape.get("x0") == 1 for shape in layout["shapes"])  # the dense model's speed


def test_the_board_names_the_machines_when_its_runs_were_timed_on_more_than_one(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.9, 0.9], 4: [0.8]})
    runs = runs_of(method)
    html = client.get("/b/digits-mlp/").content.decode()
    assert "Timed on AMD EPYC 7763 (cpu)." in html and "machines:" not in html

    timed(runs[4, 0], 1.0, XEON)
    assert benchmark_latency_machines(benchmark=bench) == [{"machine": EPYC, "runs": 2},
                                                            {"machine": XEON, "runs": 1}]
    html = client.get("/b/digits-mlp/").content.decode()
    note = html[html.index('id="benchmark-machines"'):]
    note = note[:note.index("</p>")]
    assert "Timed on 2 machines" in note and f"{EPYC} (2 runs)" in note and f"{XEON} (1 run)" in note
    assert html.index('id="benchmark-machines"') < html.index('id="benchmark-measured"')
    # the method's page draws the same chart and says the same
    assert "Timed on 2 machines" in client.get(f"/m/{method.slug}/").content.decode()


def test_the_run_page_lists_the_latencies_and_the_machine(client, benchmarks):
    method = make_entry("Alpha", benchmarks["digits-mlp"], {16: [0.6]})
    run = runs_of(method)[16, 0]
    timed(run, 1.03, latency_ms_b1=0.051, dense_latency_ms_b1=0.052, latency_ms_b64=0.7,
          dense_latency_ms_b64=0.721, measured_speedup_b1=1.02, latency_threads=1, latency_kernel="dense")
    html = client.get(f"/r/{run.pk}/").content.decode()
    assert "1.03× at batch 64 · 1.02× at batch 1" in html
    assert "batch 64: 0.700 ms (dense 0.721 ms) · batch 1: 0.051 ms (dense 0.052 ms)" in html
    assert f"{EPYC} · 1 thread · kernel: dense" in html
