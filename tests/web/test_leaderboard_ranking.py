"""Rankings that know their uncertainty (95 % t interval, rank bands) and the speedup ranking."""

import pytest

from leaderboard.ranking import rank_bands, seed_scores, speedup_score, t_interval
from leaderboard.selectors import benchmark_ranking, benchmark_speedup_ranking
from submissions.models import Run

from .factories import make_entry

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
    rows = [{"interval": (0.89, 0.93), "complete": True}, {"interval": (0.85, 0.90), "complete": True},
            {"interval": (0.80, 0.88), "complete": True}, {"interval": None, "complete": True},
            {"interval": (0.1, 0.9), "complete": False}]
    rank_bands(rows)
    # the second reaches 0.89 (0.90 >= 0.89); the third does not (0.88 < 0.89) and leads band 2.
    assert [r["band"] for r in rows] == [1, 1, 2, 3, 4]


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
    assert [(r["method"], r["band"]) for r in ranking] == [("Alpha", 1), ("Beta", 1), ("Slow", 2)]
    assert ranking[0]["half_width"] == pytest.approx(4.302653 * 0.01 / 3 ** 0.5, rel=1e-5)
    by_speedup = benchmark_speedup_ranking(ranking=ranking)
    assert by_speedup[-1]["method"] == "Slow" and by_speedup[-1]["speedup_missing"]
    html = client.get("/b/digits-mlp/").content.decode()
    assert '91.0<span class="pm"> ± 2.5</span>' in html and '<span title="rank 2">1</span>' in html
    speedup = client.get("/b/digits-mlp/?by=speedup").content.decode()
    assert "<strong>speedup</strong>" in speedup and "Speedup score" in speedup
