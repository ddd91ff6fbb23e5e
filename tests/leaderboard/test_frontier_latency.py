"""The dense frontier on the measured-speedup chart: drawn from the frontier's latency on the
machine most of the board's runs were timed on, never from another machine's; a note where that
machine has not timed it."""

import json
import re

import pytest

from leaderboard.models import FrontierLatency
from submissions.models import Run

from tests.factories import make_entry

pytestmark = pytest.mark.django_db

EPYC, XEON = "AMD EPYC 7763 (cpu)", "Intel Xeon Gold 6338 (cpu)"  # the factories' runs: EPYC
# The board's dense network and two smaller dense networks, the board's own last (x 1).
FRONTIER = {"params": 1000, "macs": 2000, "points": [
    {"benchmark": "digits-mlp", "label": "hidden 8", "model": "digits_mlp", "width": 8, "params": 100,
     "macs": 300, "top1": 0.80, "sha256": "aa" * 32},
    {"benchmark": "digits-mlp", "label": "hidden 16", "model": "digits_mlp", "width": 16, "params": 200,
     "macs": 500, "top1": 0.90, "sha256": "bb" * 32},
    {"benchmark": "digits-mlp", "label": "hidden 512", "model": "digits_mlp", "width": 512, "params": 1000,
     "macs": 2000, "top1": 0.97, "sha256": "cc" * 32, "weights_of": "digits-mlp"},
]}


@pytest.fixture
def board(benchmarks):
    for name in ("digits-mlp", "digits-mlp/init"):
        benchmarks[name].frontier = FRONTIER
        benchmarks[name].save(update_fields=["frontier"])
    return benchmarks["digits-mlp"]


def timed_frontier(bench, machine: str, ms_b64: dict[str, float], dense_ms_b64: float = 2.0, threads: int = 1):
    for network, ms in ms_b64.items():
        FrontierLatency.objects.create(benchmark=bench, network=network, machine=machine, torch_version="2.5.1",
                                       threads=threads, ms_b1=0.01, ms_b64=ms, dense_ms_b1=0.02,
                                       dense_ms_b64=dense_ms_b64)


def measured_chart(client, path="/b/digits-mlp/"):
    html = client.get(path).content.decode()
    data = json.loads(re.search(r'<script id="benchmark-measured-data" type="application/json">(.*?)</script>',
                                html, re.S).group(1))["data"]
    return html, [t for t in data if t["name"] == "dense, smaller width"]


def test_the_measured_chart_draws_the_frontier_timed_on_the_machine_of_the_board_s_runs(client, board):
    make_entry("Alpha", board, {2: [0.9], 4: [0.8]})  # timed on EPYC
    timed_frontier(board, XEON, {"digits-mlp@8": 0.1, "digits-mlp@16": 0.2})  # another machine: 20x, 10x
    html, traces = measured_chart(client)
    assert traces == []  # never another machine's figures beside the runs'
    note = html[html.index('id="benchmark-frontier-timing"'):]
    assert note[:note.index("</p>")].endswith(f"have not been timed on {EPYC}, the machine of the board&#x27;s runs.")

    timed_frontier(board, EPYC, {"digits-mlp@8": 0.5, "digits-mlp@16": 1.0})  # dense 2 ms: 4x, 2x
    html, (trace,) = measured_chart(client)
    assert trace["x"] == [1.0, 2.0, 4.0] and trace["y"] == [97.0, 90.0, 80.0]
    assert EPYC in trace["hovertemplate"] and 'id="benchmark-frontier-timing"' not in html
    # the compression chart's frontier is unchanged by latency
    compression = json.loads(re.search(r'<script id="benchmark-compression-data" type="application/json">(.*?)</script>',
                                       html, re.S).group(1))["data"]
    (on_compression,) = [t for t in compression if t["name"] == "dense, smaller width"]
    assert on_compression["x"] == [1.0, 5.0, 10.0]


def test_the_machine_with_most_runs_chooses_and_a_track_board_takes_its_base_s_rows(client, board, benchmarks):
    method = make_entry("Alpha", benchmarks["digits-mlp/init"], {2: [0.9, 0.9], 4: [0.8]})
    for run in Run.objects.filter(submission__method=method, compression__in=[2]):
        run.take_record({**run.record, "latency_device": XEON})
        run.save()
    timed_frontier(board, EPYC, {"digits-mlp@8": 0.5, "digits-mlp@16": 1.0})
    timed_frontier(board, XEON, {"digits-mlp@8": 0.1, "digits-mlp@16": 0.4})  # 20x, 5x
    _, (trace,) = measured_chart(client, "/b/digits-mlp/init/")
    assert trace["x"] == [1.0, 5.0, 20.0] and XEON in trace["hovertemplate"]


def test_the_newest_threads_or_torch_of_the_machine_are_drawn(client, board):
    make_entry("Alpha", board, {2: [0.9]})
    timed_frontier(board, EPYC, {"digits-mlp@8": 0.5, "digits-mlp@16": 1.0}, threads=1)
    timed_frontier(board, EPYC, {"digits-mlp@8": 0.25, "digits-mlp@16": 1.0}, threads=4)  # newer: 8x, 2x
    _, (trace,) = measured_chart(client)
    assert trace["x"] == [1.0, 2.0, 8.0]


def test_a_board_without_timed_runs_or_without_a_frontier_has_no_note(client, board, benchmarks):
    html, traces = measured_chart(client)  # no runs: no machine to draw it for
    assert traces == [] and 'id="benchmark-frontier-timing"' not in html
    make_entry("Alpha", benchmarks["mnist-lenet"], {2: [0.9]})
    html = client.get("/b/mnist-lenet/").content.decode()
    assert "dense, smaller width" not in html and 'id="benchmark-frontier-timing"' not in html


def test_an_operator_sees_each_machine_s_rows_and_deleting_them_brings_the_note_back(client, board, admin_user):
    make_entry("Alpha", board, {2: [0.9]})
    timed_frontier(board, EPYC, {"digits-mlp@8": 0.5, "digits-mlp@16": 1.0})
    client.force_login(admin_user)
    html = client.get("/admin/leaderboard/frontierlatency/").content.decode()
    assert html.count(EPYC) >= 2 and "digits-mlp@16" in html
    assert client.get("/admin/leaderboard/frontierlatency/add/").status_code == 403  # workers write them
    client.post("/admin/leaderboard/frontierlatency/", {
        "action": "delete_selected", "post": "yes",
        "_selected_action": list(FrontierLatency.objects.values_list("pk", flat=True))})
    assert not FrontierLatency.objects.exists()
    html, traces = measured_chart(client)
    assert traces == [] and 'id="benchmark-frontier-timing"' in html


def test_a_structured_board_draws_the_timed_frontier_on_its_measured_speedup_axis_too(client, benchmarks):
    bench = benchmarks["digits-cnn/structured"]
    make_entry("Alpha", bench, {2: [0.9]})  # timed on EPYC
    html = client.get("/b/digits-cnn/structured/").content.decode()

    def speedup_traces(html):
        data = json.loads(re.search(r'<script id="benchmark-speedup-data" type="application/json">(.*?)</script>',
                                    html, re.S).group(1))["data"]
        return [t for t in data if t["name"] == "dense, smaller width"]

    assert speedup_traces(html) == []  # MACs are not its axis, and the machine has not timed it
    timed_frontier(benchmarks["digits-cnn"], EPYC, {"digits-cnn@0.125": 0.25, "digits-cnn@0.25": 0.5,
                                                    "digits-cnn@0.5": 1.0, "digits-cnn@0.75": 1.6})
    html = client.get("/b/digits-cnn/structured/").content.decode()
    (trace,) = speedup_traces(html)
    assert trace["x"] == [1.0, 1.25, 2.0, 4.0, 8.0]
    (on_measured,) = measured_chart(client, "/b/digits-cnn/structured/")[1]
    assert on_measured["x"] == trace["x"]
