"""The dense frontier on the board: stored by the benchmark sync, drawn on both charts, and each
method's distance to it in the table, the API and the CSV (worked by hand on a small frontier)."""

import csv
import io
import json
import re

import pytest

from evaluator.frontier import get_frontier
from leaderboard.selectors import frontier_distances
from leaderboard.services import benchmarks_sync

from tests.factories import make_entry

pytestmark = pytest.mark.django_db

# The board's dense network: 1000 parameters and 2000 MACs; two smaller dense networks.
SMALL = {"params": 1000, "macs": 2000, "points": [
    {"benchmark": "digits-mlp", "label": "hidden 8", "model": "digits_mlp", "width": 8, "params": 100,
     "macs": 300, "top1": 0.80, "sha256": "aa" * 32},
    {"benchmark": "digits-mlp", "label": "hidden 16", "model": "digits_mlp", "width": 16, "params": 200,
     "macs": 500, "top1": 0.90, "sha256": "bb" * 32},
]}


@pytest.fixture
def board(benchmarks):
    bench = benchmarks["digits-mlp"]
    bench.frontier = SMALL
    bench.save(update_fields=["frontier"])
    # 4x: 250 nonzero parameters -> hidden 16 (0.90); the records' speedup is 0.98 x 4 = 3.92:
    # 2000 / 3.92 = 510 MACs -> hidden 16 too. 16x: 62.5 parameters -> no frontier network.
    make_entry("Alpha", bench, {1: [0.97], 4: [0.93, 0.91], 16: [0.60]})
    return bench


def test_the_sync_stores_each_benchmark_s_frontier_and_its_tracks_share_it(benchmarks):
    stored = benchmarks["digits-mlp"].frontier
    assert stored == get_frontier("digits-mlp").as_dict()
    assert [p["label"] for p in stored["points"]] == ["hidden 32", "hidden 64", "hidden 128", "hidden 256",
                                                       "hidden 512"]
    assert benchmarks["digits-mlp/init"].frontier == stored
    assert benchmarks["mnist-lenet"].frontier == {}
    benchmarks_sync()  # idempotent
    assert benchmarks["digits-mlp"].__class__.objects.get(name="digits-mlp").frontier == stored


def test_a_method_s_distance_is_its_mean_top1_minus_the_best_frontier_network_at_its_cost(board):
    (distance,) = frontier_distances(benchmark=board).values()
    at = {p.compression: p for p in distance.points}
    assert at[4.0].params == pytest.approx(0.02) and at[4.0].frontier_params == "hidden 16"
    assert at[4.0].macs == pytest.approx(0.02)
    assert at[16.0].params is None and at[16.0].macs is None
    assert distance.best_params.compression == 4.0


def test_the_table_shows_the_distance_and_the_charts_the_frontier(client, board):
    response = client.get("/b/digits-mlp/")
    html = response.content.decode()
    assert "vs dense (params)" in html and "vs dense (MACs)" in html
    assert re.search(r'<td class="num frontier"[^>]*title="1× \+7\.0 \(vs hidden 16\) · 4× \+2\.0 \(vs hidden 16\)">'
                     r'\+2\.0 <span class="muted">at 4×</span></td>', html)
    for key, xs in (("compression", [5.0, 10.0]), ("speedup", [4.0, 6.6667])):
        data = json.loads(re.search(rf'<script id="benchmark-{key}-data" type="application/json">(.*?)</script>',
                                    html, re.S).group(1))["data"]
        (trace,) = [t for t in data if t["name"] == "dense, smaller width"]
        assert trace["x"] == xs and trace["y"] == [90.0, 80.0]


def test_a_method_below_every_frontier_network_s_cost_reads_as_a_dash(client, board):
    make_entry("Tiny", board, {32: [0.5], 64: [0.4]})
    html = client.get("/b/digits-mlp/").content.decode()
    row = re.search(r'<tr[^>]*>\s*<td[^>]*>.*?<a href="/m/tiny/">Tiny</a>.*?</tr>', html, re.S).group(0)
    assert row.count('title="no dense frontier network has as few') == 2


def test_a_board_without_a_frontier_has_no_frontier_column_or_trace(client, benchmarks):
    make_entry("Alpha", benchmarks["mnist-lenet"], {2: [0.9]})
    html = client.get("/b/mnist-lenet/").content.decode()
    assert "vs dense (params)" not in html and "dense, smaller width" not in html
    (row,) = client.get("/api/benchmarks/mnist-lenet/ranking/").json()["results"]
    assert row["frontier"] is None
    assert client.get("/api/benchmarks/mnist-lenet/").json()["frontier"] == {}


def test_a_malformed_stored_frontier_leaves_the_board_as_it_was(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    bench.frontier = {"params": "many", "points": [{"label": "<b>x</b>"}]}
    bench.save(update_fields=["frontier"])
    make_entry("Alpha", bench, {4: [0.9]})
    response = client.get("/b/digits-mlp/")
    assert response.status_code == 200
    assert "vs dense (params)" not in response.content.decode()


def test_the_api_ranking_carries_each_method_s_distance(client, board):
    (row,) = client.get("/api/benchmarks/digits-mlp/ranking/").json()["results"]
    assert row["frontier"]["params"] == pytest.approx(0.02) and row["frontier"]["params_at"] == 4.0
    points = {p["compression"]: p for p in row["frontier"]["points"]}
    assert points[16.0]["params"] is None and points[4.0]["frontier_params"] == "hidden 16"
    detail = client.get("/api/benchmarks/digits-mlp/").json()
    assert detail["frontier"] == SMALL
    assert detail["rankings"]["speedup"][0]["frontier"]["macs_at"] == 4.0


def test_the_board_csv_carries_each_run_s_distance(client, board):
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get("/b/digits-mlp.csv").streaming_content).decode())))
    by_top1 = {float(r["top1"]): r for r in rows}
    assert float(by_top1[0.93]["frontier_distance_params"]) == pytest.approx(0.03)
    assert float(by_top1[0.91]["frontier_distance_macs"]) == pytest.approx(0.01)
    assert by_top1[0.60]["frontier_distance_params"] == "" and by_top1[0.60]["frontier_distance_macs"] == ""
