"""The ranking functions alone (leaderboard/ranking.py): no database, worked out by hand."""

import subprocess
import sys

import pytest

from leaderboard.ranking import (Place, Score, common_buckets, compression_ranking, cross_benchmark, full_sweep,
                                 parse_point, ranking_at_compression, ranking_at_speedup, read_curve,
                                 speedup_ranking)

T2 = 4.302653  # t(0.975, 2)


def curve(top1_by_seed: dict[int, list[float]], speedups=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
          compressions=(1, 2, 4, 8, 16, 32, 64)) -> dict:
    """Runs {(compression, seed): (top1, speedup)}: seed -> top-1 at each compression."""
    return {(float(c), seed): (v, sp) for seed, values in top1_by_seed.items()
            for c, sp, v in zip(compressions, speedups, values)}


def test_the_ranking_functions_import_without_django():
    code = "import sys, leaderboard.ranking; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_speedup_ranking_has_a_t_interval_over_seed_scores_and_bands():
    # Speedup == compression, so each seed reads its own top-1 at 2, 4, 8, 16, 32: seed scores
    # are the means of those five values: 0.80, 0.82, 0.84 (A) and 0.70, 0.70, 0.71 (B).
    a = curve({s: [0.9] + [0.80 + 0.02 * s] * 5 + [0.1] for s in range(3)})
    b = curve({0: [0.9] + [0.70] * 5 + [0.1], 1: [0.9] + [0.70] * 5 + [0.1], 2: [0.9] + [0.71] * 5 + [0.1]})
    c = curve({s: [0.9] + [0.79 + 0.01 * s] * 5 + [0.1] for s in range(3)})
    rows = speedup_ranking({"A": a, "B": b, "C": c}, {"A": (0,), "B": (1,), "C": (2,)})
    assert [(r.key, r.rank, r.band) for r in rows] == [("A", 1, 1), ("C", 2, 1), ("B", 3, 2)]
    assert rows[0].score == pytest.approx(0.82)
    assert rows[0].half_width == pytest.approx(T2 * 0.02 / 3 ** 0.5, rel=1e-5)  # s = 0.02
    assert rows[0].n == 3 and rows[0].complete


def test_a_method_whose_curves_stop_short_is_partial_and_ranked_after_the_complete_ones():
    short = curve({0: [0.99] * 7}, speedups=(1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0))  # never reaches 8x
    full = curve({0: [0.5] * 7})
    rows = speedup_ranking({"short": short, "full": full}, {"short": (0,), "full": (1,)})
    assert [r.key for r in rows] == ["full", "short"]
    assert rows[1].missing == (8.0, 16.0, 32.0) and rows[1].interval is None
    assert rows[1].score == pytest.approx(0.99) and rows[1].band == 2


def test_an_infinite_or_missing_speedup_is_not_a_point_of_the_curve():
    assert read_curve([(1.0, 0.9), (4.0, 0.5), (float("inf"), 0.1), (None, 0.2)], 2.0) == pytest.approx(0.7)
    assert read_curve([(1.0, 0.9), (4.0, 0.5)], 8.0) is None


def test_the_ranking_at_one_compression_uses_that_compression_only():
    a = curve({0: [0.9, 0.9, 0.9, 0.9, 0.60, 0.1, 0.1], 1: [0.9, 0.9, 0.9, 0.9, 0.62, 0.1, 0.1]})
    b = curve({0: [0.9, 0.1, 0.1, 0.1, 0.70, 0.9, 0.9]})
    only_2x = {(2.0, 0): (0.95, 2.0)}
    rows = ranking_at_compression({"A": a, "B": b, "C": only_2x}, 16.0, {"A": (0,), "B": (1,), "C": (2,)})
    assert [(r.key, r.score, r.n) for r in rows] == [("B", 0.70, 1), ("A", pytest.approx(0.61), 2)]
    # A: mean 0.61, s = 0.01414, t(0.975, 1) = 12.7062: half-width 12.7062 * 0.01414 / sqrt(2) = 0.12706
    assert rows[1].half_width == pytest.approx(0.127062, rel=1e-4)
    assert rows[0].interval is None and [r.band for r in rows] == [1, 2]


def test_the_ranking_at_one_speedup_reads_each_seeds_curve_there():
    # Seed 0 reads 0.7 at 2x (halfway from 0.9 at 1x to 0.5 at 4x in log2); seed 1 reads 0.8.
    a = {(1.0, 0): (0.9, 1.0), (4.0, 0): (0.5, 4.0), (1.0, 1): (0.9, 1.0), (4.0, 1): (0.7, 4.0)}
    never = {(1.0, 0): (0.99, 1.0), (2.0, 0): (0.99, 1.5)}
    (row,) = ranking_at_speedup({"A": a, "never": never}, 2.0, {"A": (0,), "never": (1,)})
    assert row.key == "A" and row.score == pytest.approx(0.75) and row.n == 2


def test_the_overview_averages_ranks_over_full_sweeps_only():
    placed = lambda key, rank, band: Score(key=key, score=None, interval=None, n=1, complete=True,  # noqa: E731
                                           rank=rank, band=band)
    rankings = {"b1": [placed("X", 1, 1), placed("Y", 2, 1)],
                "b2": [placed("Y", 1, 1), placed("X", 2, 2)],
                "b3": [placed("Y", 1, 1), placed("X", 2, 2)]}
    full = {"b1": {"X", "Y"}, "b2": {"X", "Y"}, "b3": {"X"}}  # Y's b3 sweep is not full
    rows = cross_benchmark(rankings, full, {"X": (0,), "Y": (1,)})
    assert [(r.key, r.mean_rank, r.benchmarks_full) for r in rows] == [
        ("X", pytest.approx(5 / 3), 3), ("Y", 1.5, 2)]
    assert rows[1].ranks["b3"] == Place(rank=1, band=1, of=2, full=False)


def test_a_full_sweep_has_every_compression_and_seed():
    runs = {(float(c), s): (0.5, 1.0) for c in (1, 2) for s in (0, 1)}
    assert full_sweep(runs, [1, 2], [0, 1])
    del runs[2.0, 1]
    assert not full_sweep(runs, [1, 2], [0, 1])


@pytest.mark.parametrize("text", ["abc", "", "inf", "nan", "-16", "1e999", "3", "16" * 500, "16)"])
def test_a_point_to_rank_at_that_the_benchmark_lacks_is_refused_naming_the_choices(text):
    with pytest.raises(ValueError) as caught:
        parse_point(text, [2.0, 4.0, 16.0], "compression")
    assert "choose one of 2, 4, 16" in str(caught.value) and len(str(caught.value)) < 120


def test_a_point_is_read_with_or_without_its_times_sign():
    assert [parse_point(t, [2.0, 16.0], "speedup") for t in ("16", "16x", " 16× ", "16.0")] == [16.0] * 4


def test_partial_speedup_curves_rank_by_the_buckets_they_reach_with_intervals_among_equals():
    # Curves that stop at 20x speedup (a CNN at 64x compression) read 2, 4, 8, 16; one that stops
    # at 10x reads 2, 4, 8 and comes after them, whatever its score.
    to20 = (1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 20.0)
    a = curve({s: [0.90 + s / 100] * 7 for s in range(3)}, speedups=to20)
    b = curve({s: [0.88 + s / 100] * 7 for s in range(3)}, speedups=to20)
    short = curve({s: [0.99] * 7 for s in range(3)}, speedups=(1.0, 1.5, 2.0, 4.0, 6.0, 8.0, 10.0))
    rows = speedup_ranking({"short": short, "A": a, "B": b}, {"short": (0,), "A": (1,), "B": (2,)})
    assert [(r.key, r.missing, r.band) for r in rows] == [
        ("A", (32.0,), 1), ("B", (32.0,), 1), ("short", (16.0, 32.0), 2)]
    assert rows[0].score == pytest.approx(0.91) and rows[0].half_width == pytest.approx(T2 * 0.01 / 3 ** 0.5)
    assert not rows[0].complete and rows[2].interval is not None  # banded apart all the same


def test_the_built_in_methods_fix_the_speedup_buckets():
    reaches_10 = curve({0: [0.9] * 7, 1: [0.9] * 7}, speedups=(1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 10.0))
    reaches_64 = curve({0: [0.9] * 7})
    assert common_buckets({"global": reaches_10, "layer": reaches_64}) == (2.0, 4.0, 8.0)
    assert common_buckets({}) == (2.0, 4.0, 8.0, 16.0, 32.0)
