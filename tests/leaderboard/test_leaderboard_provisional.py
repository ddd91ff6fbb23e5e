"""While the baselines and reference methods fill in, a ranking that compares against them is
provisional: the board and /overview/ say so, with how many of their runs are missing and a
measured time to go (the queue's built-in runs to come, each at its benchmark's median finished run,
/ live workers); the home
page shows that time too. Every baseline is always on the board, "no results yet" without runs."""

import datetime as dt
import json
import re

from django.db.models import F

from submissions.models import Run

from tests.factories import make_entry, make_method, make_run, make_submission

SCORED = (2, 4, 8, 16, 32, 64)


def builtin(name, bench, *, queued=(), tier="baseline"):
    """A built-in method with a finished run at every compression 1x-64x but those `queued`."""
    method = make_method(name, slug=f"{tier}-{name}", is_baseline=tier == "baseline",
                         is_reference=tier == "reference")
    submission = make_submission(method)
    for c in (1, *SCORED):
        make_run(submission, bench, c, 0, top1=0.5, status=Run.Status.QUEUED if c in queued else Run.Status.FINISHED)
    return method


def ten_seconds_a_run():
    Run.objects.filter(status=Run.Status.FINISHED).update(started=F("finished") - dt.timedelta(seconds=10),
                                                          seconds=10.0)


def test_a_board_whose_baselines_are_filling_in_ranks_provisionally_with_a_measured_eta(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9] for c in SCORED})
    builtin("random", bench)
    builtin("global-mag-weight", bench, queued=(16, 32, 64))
    builtin("synflow", bench, queued=(8,), tier="reference")
    ten_seconds_a_run()
    html = client.get("/b/digits-mlp/").content.decode()
    notice = re.sub(r"\s+", " ", html[html.index('id="provisional"'):html.index("</p>", html.index('id="provisional"'))])
    # 4 of the 18 built-in runs at 2x-64x are queued; 4 x 10 s / 1 live worker (the fixture's)
    assert "4 of their 18 runs at the compared points (2×–64×) are missing" in notice
    assert "about 1 min to go (4 built-in runs left on the cpu queue × 10.0 s, the median finished run of their benchmark, ÷ 1 live worker)" in notice
    assert "provisional band</a></th>" in html
    assert html.count('<td class="num provisional"><span title="provisional rank') == 4  # every row


def test_runs_scored_in_one_batch_count_at_their_own_seconds_not_the_batchs_span(client, benchmarks):
    """A batch starts its runs together and records them together: each run's span is the whole
    batch's, its cost (Run.seconds, the record's time_total_s) its share."""
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9] for c in SCORED})
    builtin("random", bench)
    builtin("global-mag-weight", bench, queued=(16, 32, 64))
    builtin("synflow", bench, queued=(8,), tier="reference")
    Run.objects.filter(status=Run.Status.FINISHED).update(started=F("finished") - dt.timedelta(seconds=70))
    assert set(Run.objects.filter(status=Run.Status.FINISHED).values_list("seconds", flat=True)) == {1.3}
    html = re.sub(r"\s+", " ", client.get("/b/digits-mlp/").content.decode())
    notice = html[html.index('id="provisional"'):][:600]
    assert "4 built-in runs left on the cpu queue × 1.30 s, the median finished run of their benchmark" in notice, notice


def test_the_time_to_go_grows_with_the_runs_and_shrinks_with_the_workers(client, benchmarks, live_worker):
    from submissions.capabilities import worker_heartbeat

    bench = benchmarks["digits-mlp"]
    method = builtin("random", bench)
    submission = method.submissions.get()
    for seed in (1, 2):
        for c in SCORED:
            make_run(submission, bench, c, seed, status=Run.Status.QUEUED)
    ten_seconds_a_run()
    assert "about 2 min to go (12 built-in runs left on the cpu queue × 10.0 s" in client.get("/b/digits-mlp/").content.decode()
    worker_heartbeat(hostname="second@localhost", queues=["cpu"], device="cpu", capabilities={})
    assert "about 1 min to go (12 built-in runs left on the cpu queue × 10.0 s, the median finished run of their benchmark, ÷ 2 live workers)" in (
        client.get("/b/digits-mlp/").content.decode())


def test_when_every_baseline_is_done_the_ranks_are_final(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9] for c in SCORED})
    builtin("random", bench, queued=(1,))  # 1x is not compared by the compression ranking
    html = client.get("/b/digits-mlp/").content.decode()
    assert 'id="provisional"' not in html and "provisional band" not in html
    # the speedup ranking reads every compression's speedup, 1x included
    assert 'id="provisional"' in client.get("/b/digits-mlp/?by=speedup").content.decode()


def test_a_ranking_at_one_compression_waits_only_for_that_compression(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9] for c in SCORED})
    builtin("random", bench, queued=(64,))
    assert 'id="provisional"' not in client.get("/b/digits-mlp/?at=16").content.decode()
    html = re.sub(r"\s+", " ", client.get("/b/digits-mlp/?at=64").content.decode())
    assert "1 of their 1 runs at the compared points (64×) are missing" in html
    assert "provisional band</th>" in html


def test_the_overview_says_which_ranks_are_provisional(client, benchmarks):
    mlp, cnn = benchmarks["digits-mlp"], benchmarks["digits-cnn"]
    for bench in (mlp, cnn):
        make_entry(f"Alpha {bench.name}", bench, {c: [0.9] for c in SCORED}, slug=f"alpha-{bench.name}")
    builtin("random", mlp, queued=(64,))
    ten_seconds_a_run()
    html = client.get("/overview/").content.decode()
    header = html[html.index("<thead>"):html.index("</thead>")]
    assert "provisional: 1 run missing, under a minute to go" in header
    assert header.count("provisional:") == 1  # digits-cnn has no built-in run to wait for
    assert re.search(r'<td class="num( incomplete)? provisional"><span title="provisional rank 1 of 2', html)


def test_the_home_page_shows_the_fill_ins_time_to_go(client, benchmarks):
    builtin("random", benchmarks["digits-mlp"], queued=(32, 64))
    ten_seconds_a_run()
    html = client.get("/").content.decode()
    assert "baseline and reference runs 5 of 7 done" in html
    assert '<span class="fill-in-eta">under a minute to go (2 built-in runs left on the cpu queue × 10.0 s' in html


def test_every_baseline_is_on_the_board_and_its_tracks_no_results_yet_without_runs(client, benchmarks):
    for name in ("digits-mlp", "digits-mlp/init"):
        make_entry(f"Alpha {name}", benchmarks[name], {c: [0.9] for c in SCORED}, slug=f"alpha-{name.replace('/', '-')}")
    builtin("random", benchmarks["digits-mlp"])
    builtin("layer-mag-act", benchmarks["digits-mlp"], queued=(1, *SCORED))  # nothing finished yet
    builtin("lamp", benchmarks["digits-mlp"], queued=(1, *SCORED), tier="reference")
    for url in ("/b/digits-mlp/", "/b/digits-mlp/init/"):
        html = client.get(url).content.decode()
        table = html[html.index('<table class="table ranking"'):]
        for slug, name in (("baseline-layer-mag-act", "layer-mag-act"), ("reference-lamp", "lamp")):
            row = table[table.index(f'<a href="/m/{slug}/">{name}</a>'):]
            assert "no results yet" in row[:row.index("</tr>")], url
        traces = json.loads(re.search(r'<script id="benchmark-compression-data" type="application/json">(.*?)</script>',
                                      html, re.S).group(1))["data"]
        names = {t["meta"]: t["name"] for t in traces}
        assert names["baseline-layer-mag-act"] == "layer-mag-act (baseline): no results yet"
        assert names["reference-lamp"] == "lamp (reference): no results yet"
        assert "baseline-random" in names


def test_the_time_to_go_counts_the_whole_queue_each_benchmark_at_its_own_run_time(client, benchmarks):
    # the fill-in goes seed by seed over every benchmark of the queue: a board is complete only
    # near the end of its queue's fill-in, and a slow benchmark's runs weigh their own time
    fast, slow = benchmarks["digits-mlp"], benchmarks["mnist1d-cnn"]
    builtin("random", fast, queued=(16, 32, 64))
    builtin("global-mag-weight", slow, queued=SCORED)
    ten_seconds_a_run()
    Run.objects.filter(benchmark=slow, status=Run.Status.FINISHED).update(
        started=F("finished") - dt.timedelta(seconds=70), seconds=70.0)
    html = re.sub(r"\s+", " ", client.get("/b/digits-mlp/").content.decode())
    # 3 x 10 s + 6 x 70 s = 450 s on the one live worker
    assert "about 8 min to go (9 built-in runs left on the cpu queue × 10.0–70.0 s" in html
