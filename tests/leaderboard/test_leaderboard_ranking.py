"""Rankings that know their uncertainty (95 % t interval, rank bands) and the speedup ranking."""

import pytest

from leaderboard.ranking import Score, rank_bands, seed_scores, speedup_score, t_interval
from leaderboard.selectors import benchmark_ranking, benchmark_speedup_ranking
from submissions.models import Run

from tests.factories import make_entry, make_run

FULL = [2, 4, 8, 16, 32, 64]


def test_the_t_interval_over_three_seeds_by_hand():
    # mean 0.9, s = 0.1, t(0.975, 2) = 4.302653: half-width 4.302653 * 0.1 / sqrt(3) = 0.248414
    low, high = t_interval([0.8, 0.9, 1.0])
    assert (low, high) == (pytest.approx(0.9 - 0.248414, abs=1e-6), pytest.approx(0.9 + 0.248414, abs=1e-6))
    assert t_interval([0.8]) is None


def test_seed_scores_average_each_complete_seed_over_the_scored_compressions():
    top1 = {(2.0, 0): 0.9, (4.0, 0): 0.7, (2.0, 1): 0.8, (4.0, 1): 0.6, (2.0, 2): 0.5}
    assert seed_scores(top1, [2.0, 4.0]) == [pytest.approx(0.8), pytest.approx(0.7)]  # seed 2 lacks 4x


def test_methods_whose_intervals_reach_the_leaders_share_its_band():
    rows = [Score(key=k, score=None, interval=interval, n=3, complete=complete) for k, (interval, complete) in
            enumerate([((0.89, 0.93), True), ((0.85, 0.90), True), ((0.80, 0.88), True), (None, True),
                       ((0.1, 0.9), False)])]
    # the second reaches 0.89 (0.90 >= 0.89); the third does not (0.88 < 0.89) and leads band 2.
    assert rank_bands(rows) == [1, 1, 2, 3, 4]


def test_the_speedup_score_reads_the_curve_at_fixed_speedups_by_hand():
    # log2 speedups 0, 2, 4, 6 with top-1 0.9, 0.8, 0.6, 0.2: at 2x 0.85, 4x 0.8, 8x 0.7, 16x 0.6,
    # 32x 0.4; the mean is 0.67.
    score, missing = speedup_score([(4.0, 0.8), (1.0, 0.9), (64.0, 0.2), (16.0, 0.6)])
    assert score == pytest.approx(0.67) and missing == []
    assert speedup_score([(1.0, 0.9), (10.0, 0.5)])[1] == [16.0, 32.0]


@pytest.mark.django_db
def test_the_page_shows_bands_and_intervals_and_switches_to_the_speedup_ranking(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.90, 0.91, 0.92] for c in FULL})
    make_entry("Beta", bench, {c: [0.88, 0.90, 0.93] for c in FULL})
    slow = make_entry("Slow", bench, {c: [0.50, 0.51, 0.52] for c in FULL})
    Run.objects.filter(submission__method=slow).update(speedup=1.5)  # fast curves elsewhere
    ranking = benchmark_ranking(benchmark=bench)
    assert [(r.method, r.band) for r in ranking] == [("Alpha", 1), ("Beta", 1), ("Slow", 2)]
    assert ranking[0].half_width == pytest.approx(4.302653 * 0.01 / 3 ** 0.5, rel=1e-5)
    by_speedup = benchmark_speedup_ranking(ranking=ranking)
    assert by_speedup[-1].method == "Slow" and by_speedup[-1].by_speedup.missing
    html = client.get("/b/digits-mlp/").content.decode()
    assert '91.0<span class="pm"> ± 2.5</span>' in html and '<span title="rank 2">1</span>' in html
    speedup = client.get("/b/digits-mlp/?by=speedup").content.decode()
    assert "<strong>speedup</strong>" in speedup and "Speedup score" in speedup


@pytest.mark.django_db
def test_the_speedup_ranking_has_bands_and_intervals_on_the_page(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.90, 0.91, 0.92] for c in [1, *FULL]})
    make_entry("Beta", bench, {c: [0.70, 0.71, 0.72] for c in [1, *FULL]})
    (alpha, beta) = benchmark_speedup_ranking(ranking=benchmark_ranking(benchmark=bench))
    # every seed reads its own flat curve: seed scores 0.90, 0.91, 0.92
    assert (alpha.by_speedup.score, alpha.by_speedup.n) == (pytest.approx(0.91), 3)
    assert alpha.by_speedup.half_width == pytest.approx(4.302653 * 0.01 / 3 ** 0.5, rel=1e-5)
    assert (alpha.by_speedup.band, beta.by_speedup.band) == (1, 2)
    html = client.get("/b/digits-mlp/?by=speedup").content.decode()
    assert '91.0<span class="pm"> ± 2.5</span>' in html and '<span title="rank 2">2</span>' in html


@pytest.mark.django_db
def test_the_reader_ranks_at_one_compression_or_one_speedup(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Steady", bench, {c: [0.80, 0.80, 0.80] for c in [1, *FULL]})
    make_entry("Sprinter", bench, {**{c: [0.99, 0.99, 0.99] for c in [1, 2, 4, 8]},
                                   **{c: [0.69, 0.70, 0.71] for c in [16, 32, 64]}})  # score 0.845
    assert [r.method for r in benchmark_ranking(benchmark=bench)] == ["Sprinter", "Steady"]
    at16 = client.get("/b/digits-mlp/?at=16")
    assert at16.status_code == 200
    html = at16.content.decode()
    assert "top-1 at 16×" in html and '<option value="16" selected>16×</option>' in html
    assert html.index(">Steady</a>") < html.index(">Sprinter</a>")
    assert '70.0<span class="pm"> ± 2.5</span>' in html  # Sprinter at 16x: 0.69, 0.70, 0.71
    at4 = client.get("/b/digits-mlp/?by=speedup&at=4").content.decode()
    assert at4.index(">Sprinter</a>") < at4.index(">Steady</a>") and "top-1 at 4× speedup" in at4


@pytest.mark.django_db
def test_a_point_the_benchmark_lacks_is_a_400_that_names_the_choices(client, benchmarks):
    response = client.get("/b/digits-mlp/?at=<i>x</i>")
    assert response.status_code == 400
    html = response.content.decode()
    assert "choose one of 2, 4, 8, 16, 32, 64" in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and "<i>x</i>" not in html  # the reader's text, escaped
    assert "choose one of 2, 4, 8, 16, 32" in client.get("/b/digits-mlp/?by=speedup&at=64").content.decode()


@pytest.mark.django_db
def test_the_overview_gives_each_methods_rank_per_benchmark_and_its_mean_rank(client, benchmarks):
    mlp, cnn = benchmarks["digits-mlp"], benchmarks["digits-cnn"]
    sweep = [1, *FULL]
    a = make_entry("Alpha", mlp, {c: [0.9, 0.9, 0.9] for c in sweep})
    b = make_entry("Beta", mlp, {c: [0.8, 0.8, 0.8] for c in sweep})
    for method, value in ((a, 0.5), (b, 0.6)):
        for c in sweep:
            for seed in range(3):
                make_run(method.submissions.get(), cnn, c, seed, top1=value)
    make_entry("Gamma", cnn, {c: [0.55] for c in sweep})  # one seed: not a full sweep
    # digits-mlp: Alpha 1, Beta 2; digits-cnn: Beta 1, Gamma 2, Alpha 3.
    html = client.get("/overview/").content.decode()
    assert html.index(">Beta</a>") < html.index(">Alpha</a>") < html.index(">Gamma</a>")
    assert '<td class="num score">1.50</td>' in html and '<td class="num score">2.00</td>' in html
    assert "rank 2 of 3, band 2; not a full sweep" in html  # Gamma on digits-cnn
    assert 'href="/overview/"' in client.get("/").content.decode()
    api = client.get("/api/overview/?by=speedup").json()
    assert api["by"] == "speedup" and [r["method"] for r in api["results"]] == ["beta", "alpha", "gamma"]
    assert api["results"][2]["ranks"]["digits-cnn"]["full"] is False and api["results"][2]["mean_rank"] is None
    assert api["benchmarks"] == ["digits-mlp", "digits-cnn"]  # none without results


@pytest.mark.django_db
def test_the_api_gives_both_rankings_with_intervals_bands_and_seeds(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.90, 0.91, 0.92] for c in [1, *FULL]})
    make_entry("Beta", bench, {c: [0.5] for c in [1, *FULL]})
    data = client.get("/api/benchmarks/digits-mlp/").json()
    (alpha, beta) = data["rankings"]["compression"]
    assert (alpha["method"], alpha["rank"], alpha["band"], alpha["n"], alpha["tier"]) == ("alpha", 1, 1, 3, "entry")
    assert alpha["score"] == pytest.approx(0.91)
    assert alpha["interval"] == [pytest.approx(0.91 - 0.024841, abs=1e-5), pytest.approx(0.91 + 0.024841, abs=1e-5)]
    assert (beta["interval"], beta["n"], beta["band"]) == (None, 1, 2)
    assert [r["method"] for r in data["rankings"]["speedup"]] == ["alpha", "beta"]
    assert data["rankings"]["speedup"][0]["interval"] is not None
    assert data["rankings"]["speedup_buckets"] == [2.0, 4.0, 8.0, 16.0, 32.0]
    at = client.get("/api/benchmarks/digits-mlp/ranking/?at=16x").json()
    assert (at["at"], [r["method"] for r in at["results"]]) == (16.0, ["alpha", "beta"])
    bad = client.get("/api/benchmarks/digits-mlp/ranking/?by=speedup&at=64")
    assert bad.status_code == 400 and "choose one of 2, 4, 8, 16, 32" in bad.json()["at"][0]
    assert client.get("/api/benchmarks/digits-mlp/ranking/?by=size").status_code == 400


@pytest.mark.django_db
def test_the_speedup_buckets_are_those_every_built_in_method_reaches(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    builtin = make_entry("global-mag-weight", bench, {c: [0.8, 0.8] for c in [1, *FULL]}, is_baseline=True)
    Run.objects.filter(submission__method=builtin, compression=64).update(speedup=10.0)
    Run.objects.filter(submission__method=builtin, compression=32).update(speedup=9.0)
    Run.objects.filter(submission__method=builtin, compression=16).update(speedup=8.5)
    make_entry("Entry", bench, {c: [0.9, 0.91] for c in [1, 2, 4, 8]})  # reaches 7.84x: not 8x
    rows = benchmark_speedup_ranking(ranking=benchmark_ranking(benchmark=bench))
    assert rows[0].speedup_buckets == (2.0, 4.0, 8.0)
    assert [(r.method, r.by_speedup.complete, r.by_speedup.missing) for r in rows] == [
        ("global-mag-weight", True, ()), ("Entry", False, (8.0,))]
    assert "read at speedups 2×, 4×, 8× (interpolated" in client.get("/b/digits-mlp/?by=speedup").content.decode()
