"""What a researcher reads on the leaderboard: choosing methods to compare on the charts,
sorting the table by any column without JavaScript, a run's own page with its per-layer
sparsity, the site's one notation, and figures a colour-blind reader can tell apart."""

import json
import re

from leaderboard.charts import (BASELINE_COLOURS, PALETTE, REFERENCE_COLOURS, accuracy_figures,
                                layer_bars)
from leaderboard.selectors import benchmark_curves
from leaderboard.templatetags.leaderboard_extras import mean_std, pct, seeds, times
from tests.factories import make_entry, make_method, make_run, make_submission

FULL = {c: [0.5, 0.52, 0.51] for c in (1, 2, 4, 8, 16, 32, 64)}


def full(top1):
    return {c: [top1, top1 + 0.01, top1 - 0.01] for c in (1, 2, 4, 8, 16, 32, 64)}


def figure(html: str, name: str = "benchmark-compression-data") -> dict:
    return json.loads(re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S).group(1))


def ranking_methods(html: str) -> list[str]:
    table = html[html.index('<table class="table ranking"'):]
    return re.findall(r'<td class="method"><a href="/m/[^/]+/">([^<]+)</a>', table)


def test_comparing_draws_only_the_chosen_methods(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    for name, top1 in (("Alpha", 0.8), ("Beta", 0.7), ("Gamma", 0.6)):
        make_entry(name, bench, full(top1))
    for name in ("random", "global-mag"):
        make_entry(name, bench, full(0.3), is_baseline=True)
    html = client.get("/b/digits-mlp/?compare=alpha&compare=random,global-mag").content.decode()
    assert sorted(t["meta"] for t in figure(html)["data"]) == ["alpha", "dense-frontier", "global-mag", "random"]
    assert all("visible" not in t for t in figure(html)["data"])  # every chosen curve drawn
    assert sorted(t["meta"] for t in figure(html, "benchmark-speedup-data")["data"]) == ["alpha", "dense-frontier", "global-mag", "random"]
    assert re.search(r'value="alpha" checked', html) and not re.search(r'value="beta" checked', html)
    assert "Comparing <strong>Alpha</strong>" in html
    assert len(ranking_methods(html)) == 5  # the table still ranks everyone

    every = client.get("/b/digits-mlp/").content.decode()
    assert len(figure(every)["data"]) == 6  # five methods and the dense frontier


def test_an_unknown_method_to_compare_is_named(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], full(0.8))
    html = client.get("/b/digits-mlp/?compare=alpha&compare=nosuch").content.decode()
    assert "No method “nosuch” on this leaderboard" in html
    assert [t["meta"] for t in figure(html)["data"]] == ["alpha", "dense-frontier"]  # the frontier stays


def test_comparing_keeps_the_tables_sort_the_ranking_and_the_search(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], full(0.8))
    make_entry("Beta", benchmarks["digits-mlp"], full(0.7))
    html = client.get("/b/digits-mlp/?by=speedup&sort=c64&dir=desc&q=a&compare=beta").content.decode()
    form = html[html.index('<form class="compare-form"'):]
    form = form[:form.index("</form>")]
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    assert hidden == [("by", "speedup"), ("sort", "c64"), ("dir", "desc"), ("q", "a")]
    assert 'href="?by=speedup&amp;sort=c64&amp;dir=desc&amp;q=a#charts">show every method' in form
    hostile = client.get('/b/digits-mlp/?q="><script>alert(1)</script>&compare=beta').content.decode()
    assert '<input type="hidden" name="q" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">' in hostile


def test_switching_the_ranking_keeps_the_sort_the_comparison_and_the_search(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], full(0.8))
    html = client.get("/b/digits-mlp/?sort=c64&dir=desc&q=a&compare=alpha&at=16").content.decode()
    assert 'href="?sort=c64&amp;dir=desc&amp;q=a&amp;compare=alpha&amp;by=speedup#ranking">speedup</a>' in html
    form = html[html.index('<form class="rank-at"'):]
    form = form[:form.index("</form>")]
    assert re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form) == [
        ("by", "compression"), ("sort", "c64"), ("dir", "desc"), ("q", "a"), ("compare", "alpha")]
    back = client.get("/b/digits-mlp/?by=speedup&q=a").content.decode()
    assert 'href="?q=a#ranking">compression</a>' in back


def test_the_table_sorts_by_any_column_without_javascript(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {**full(0.9), 64: [0.1, 0.1, 0.1]})  # best score, worst at 64x
    make_entry("Beta", bench, full(0.7))
    make_entry("Gamma", bench, {**full(0.6), 64: [0.65, 0.65, 0.65]})
    assert ranking_methods(client.get("/b/digits-mlp/").content.decode()) == ["Alpha", "Beta", "Gamma"]
    html = client.get("/b/digits-mlp/?sort=c64&dir=desc").content.decode()
    assert ranking_methods(html) == ["Beta", "Gamma", "Alpha"]
    assert '<th class="num" aria-sort="descending"><a class="sort" href="?sort=c64&amp;dir=asc#ranking">64×' in html
    assert ranking_methods(client.get("/b/digits-mlp/?sort=c64&dir=asc").content.decode()) == ["Alpha", "Gamma", "Beta"]
    assert ranking_methods(client.get("/b/digits-mlp/?sort=method&dir=desc").content.decode()) == ["Gamma", "Beta", "Alpha"]
    assert ranking_methods(client.get("/b/digits-mlp/?sort=score&dir=asc").content.decode()) == ["Gamma", "Beta", "Alpha"]
    assert ranking_methods(client.get("/b/digits-mlp/?sort=rank&dir=desc").content.decode()) == ["Gamma", "Beta", "Alpha"]
    # nonsense falls back to the ranking; other parameters ride along in the links
    assert ranking_methods(client.get("/b/digits-mlp/?sort=__class__&dir=sideways").content.decode()) == ["Alpha", "Beta", "Gamma"]
    linked = client.get("/b/digits-mlp/?by=speedup&compare=beta").content.decode()
    assert 'href="?by=speedup&amp;compare=beta&amp;sort=score&amp;dir=desc#ranking"' in linked
    assert 'src="/static/js/sort-table.js"' in html


def test_a_run_page_shows_its_metrics_and_names_its_collapsed_layers(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    submission = make_submission(make_method("Alpha"))
    run = make_run(submission, bench, 64, 1, top1=0.8734)
    run.record = {**run.record, "layer_sparsity": json.dumps({"0.weight": 0.9, "2.weight": 1.0, "4.weight": 0.25}),
                  "collapsed_layers": json.dumps(["2.weight"]), "layer_collapse": True, "time_masks_s": 4.04}
    run.save()
    html = client.get(f"/r/{run.pk}/").content.decode()
    assert "Alpha</a> at 64×, seed 1" in html
    assert '<dd id="run-top1">87.3 %</dd>' in html
    assert re.search(r'<dd id="run-compression">64(\.0)?× <span class="muted">\(requested 64×\)', html)
    assert "masks 4.0 s" in html
    rows = re.findall(r'<tr class="layer( collapsed)?" data-layer="([^"]+)" data-pruned="([^"]+)">', html)
    assert rows == [("", "0.weight", "0.9"), (" collapsed", "2.weight", "1.0"), ("", "4.weight", "0.25")]
    assert re.search(r'1 layer kept no weight:\s*<code>2.weight</code>', html)
    assert f'href="/r/{run.pk}.csv"' in html


def test_a_run_page_links_its_submission_and_version_and_names_each_layers_module(client, benchmarks):
    method = make_method("Alpha")
    make_submission(method)
    v2 = make_submission(method, code="# v2\n")
    run = make_run(v2, benchmarks["digits-mlp"], 8, 0)
    run.record = {**run.record, "layer_sparsity": json.dumps({"1.weight": 0.9, "3.weight": 1.0, "5.weight": 0.5}),
                  "collapsed_layers": json.dumps(["3.weight"])}
    run.save()
    html = client.get(f"/r/{run.pk}/").content.decode()
    origin = re.sub(r"\s+", " ", html[html.index('id="run-origin"'):html.index("</p>", html.index('id="run-origin"'))])
    assert f'<a href="/s/{v2.pk}/">submission {v2.pk}</a>' in origin
    assert '<a href="/m/alpha/v/2/">version 2</a> of Alpha' in origin
    table = html[html.index('<table class="table layers">'):]
    rows = re.findall(r'<td><code>([^<]+)</code>.*?<td class="layer-module">([^<]*)</td>\s*'
                      r'<td class="num layer-shape">([^<]*)</td>', table, re.S)
    assert rows == [("1.weight", "Linear", "512 × 64"), ("3.weight", "Linear", "512 × 512"),
                    ("5.weight", "Linear", "10 × 512")]
    assert "<code>3.weight</code> (Linear 512 × 512)" in html  # the collapsed layer, named


def test_a_run_of_a_private_method_is_not_found_by_others(client, benchmarks, alice, bob):
    submission = make_submission(make_method("Secret", owner=alice, is_public=False))
    run = make_run(submission, benchmarks["digits-mlp"], 2, 0)
    assert client.get(f"/r/{run.pk}/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/r/{run.pk}/").status_code == 404
    client.force_login(alice)
    assert client.get(f"/r/{run.pk}/").status_code == 200


def test_layer_bars_survive_a_malformed_record():
    assert layer_bars({}) == []
    assert layer_bars({"layer_sparsity": "not json", "collapsed_layers": "[1"}) == []
    assert layer_bars({"layer_sparsity": '{"a": "x", "b": 1.5, "c": null}'}) == [
        {"name": "b", "pruned": 1.0, "kept": 0.0, "collapsed": True, "module": "", "shape": ""}]


def test_one_notation_everywhere():
    assert (pct(0.98333), pct(None), mean_std({"mean": 0.9721, "std": 0.0035})) == ("98.3", "—", "97.2 ± 0.4")
    assert (times(3.984), times(15.83), times(350.2), times(float("inf")), times(None)) == (
        "3.98×", "15.8×", "350×", "—", "—")
    assert (seeds(1), seeds(3)) == ("1 seed", "n = 3")


def test_the_status_page_writes_the_same_notation_and_the_actual_compression(client, benchmarks, alice):
    submission = make_submission(make_method("Mine", owner=alice))
    make_run(submission, benchmarks["digits-mlp"], 4, 0, top1=0.9834, compression_error=0.005, speedup=3.5)
    client.force_login(alice)
    html = client.get(f"/s/{submission.pk}/").content.decode()
    row = html[html.index('<tr id="run-'):]
    assert '<td class="num">4×</td>' in row and "×4" not in html
    assert '<td class="num" data-field="top1">98.3</td>' in row
    assert '<td class="num" data-field="actual_compression">3.98×</td>' in row
    assert '<td class="num" data-field="speedup">3.50×</td>' in row  # three significant digits


def test_hover_says_n_and_one_seed(benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {2: [0.9], 4: [0.8, 0.82, 0.81]})
    (trace,) = accuracy_figures(benchmark_curves(benchmark=bench))["compression"]["data"]
    assert [point[1] for point in trace["customdata"]] == ["1 seed", "n = 3"]
    assert "seeds" not in trace.get("hovertemplate", "")


def test_entries_baselines_and_reference_methods_are_told_apart(benchmarks):
    bench = benchmarks["digits-mlp"]
    for i in range(11):
        make_entry(f"Entry {i}", bench, {2: [0.9]})
    for name in ("random", "global-mag", "layer-mag"):
        make_entry(name, bench, {2: [0.5]}, is_baseline=True)
    make_entry("synflow", bench, {2: [0.6]}, is_reference=True)
    traces = accuracy_figures(benchmark_curves(benchmark=bench))["compression"]["data"]
    entries = [t for t in traces if t["meta"].startswith("entry")]
    baselines = [t for t in traces if t["meta"] in ("random", "global-mag", "layer-mag")]
    (synflow,) = [t for t in traces if t["meta"] == "synflow"]
    # entries: distinct (hue, marker) pairs; the first nine distinct hues of the palette
    looks = {(t["line"]["color"], t["marker"]["symbol"]) for t in entries}
    assert len(looks) == 11 and {t["line"]["color"] for t in entries[:9]} == set(PALETTE)
    # baselines: the muted family, each its own hue, dash and marker
    for part in (lambda t: t["line"]["color"], lambda t: t["line"]["dash"], lambda t: t["marker"]["symbol"]):
        assert len({part(t) for t in baselines}) == 3
    assert {t["line"]["color"] for t in baselines} <= set(BASELINE_COLOURS)
    # reference methods: their own dark hues, solid, filled markers
    assert synflow["line"]["color"] in REFERENCE_COLOURS and "dash" not in synflow["line"]
    assert not synflow["marker"]["symbol"].endswith("-open")
    assert not set(PALETTE) & set(BASELINE_COLOURS) and not set(PALETTE) & set(REFERENCE_COLOURS)
