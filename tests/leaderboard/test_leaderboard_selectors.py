import datetime as dt
import statistics

import pytest
from django.utils import timezone

from leaderboard.charts import accuracy_figures, initially_shown
from leaderboard.selectors import (benchmark_curves, benchmark_progress, benchmark_ranking,
                                   benchmark_summaries)
from submissions.models import Run

from tests.factories import make_entry, make_method, make_run, make_submission

FULL = [2, 4, 8, 16, 32, 64]
pytestmark = pytest.mark.django_db


def full(value):
    return {c: [value] for c in FULL}


def curve(frame, slug, compression):
    return frame[(frame.slug == slug) & (frame.compression == compression)].iloc[0]


def test_curves_give_mean_std_and_n_over_seeds(benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], {2: [0.90, 0.92, 0.97], 4: [0.80]})
    frame = benchmark_curves(benchmark=benchmarks["digits-mlp"])
    two = curve(frame, "alpha", 2.0)
    assert two.top1_mean == pytest.approx(statistics.mean([0.90, 0.92, 0.97]))
    assert two.top1_std == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))
    assert two.n == 3
    four = curve(frame, "alpha", 4.0)
    assert (four.top1_std, four.n) == (0.0, 1)


def test_curves_have_the_documented_columns(benchmarks):
    frame = benchmark_curves(benchmark=benchmarks["digits-mlp"])
    assert {"method_id", "method", "slug", "is_baseline", "created", "compression", "top1_mean",
            "top1_std", "n", "speedup_mean", "compression_error_mean"} <= set(frame.columns)


def test_only_finished_runs_count(benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_entry("Alpha", bench, {2: [0.90]})
    submission = method.submissions.get()
    make_run(submission, bench, 2, 1, status=Run.Status.RUNNING)
    make_run(submission, bench, 2, 2, status=Run.Status.FAILED)
    make_run(submission, bench, 4, 0, status=Run.Status.QUEUED)
    # the version's own curves (its page): the board counts a version only once it is complete
    frame = benchmark_curves(benchmark=bench, submissions=[submission.pk])
    assert list(frame.compression) == [2.0]
    assert curve(frame, "alpha", 2.0).n == 1
    assert benchmark_curves(benchmark=bench).empty


def test_hidden_and_private_methods_are_not_listed(benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    make_entry("Shown", bench, {2: [0.9]}, owner=alice)
    make_entry("Hidden", bench, {2: [0.9]}, owner=alice, is_hidden=True)
    make_entry("Private", bench, {2: [0.9]}, owner=alice, is_public=False)
    assert set(benchmark_curves(benchmark=bench).slug) == {"shown"}
    assert [r.slug for r in benchmark_ranking(benchmark=bench)] == ["shown"]


def test_baselines_are_always_shown(benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("random", bench, {2: [0.5]}, is_baseline=True, is_public=False, is_hidden=True)
    ranking = benchmark_ranking(benchmark=bench)
    assert [(r.slug, r.is_baseline) for r in ranking] == [("random", True)]
    figures = accuracy_figures(benchmark_curves(benchmark=bench), shown=initially_shown(ranking))
    (trace,) = figures["compression"]["data"]
    assert trace["line"]["dash"] and "visible" not in trace


def test_only_the_top_ten_entries_start_drawn(benchmarks):
    bench = benchmarks["digits-mlp"]
    for i in range(12):
        make_entry(f"Entry {i}", bench, full(0.5 + i / 100))
    make_entry("random", bench, full(0.1), is_baseline=True)
    ranking = benchmark_ranking(benchmark=bench)
    figures = accuracy_figures(benchmark_curves(benchmark=bench), shown=initially_shown(ranking))
    hidden = {t["meta"] for t in figures["speedup"]["data"] if t.get("visible") == "legendonly"}
    assert hidden == {"entry-0", "entry-1"}


def test_ranking_orders_by_score_and_complete_methods_first(benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Good", bench, full(0.9))
    make_entry("Better", bench, full(0.95))
    make_entry("Partial", bench, {2: [0.99], 4: [0.99]})
    ranking = benchmark_ranking(benchmark=bench)
    assert [r.slug for r in ranking] == ["better", "good", "partial"]
    assert [r.rank for r in ranking] == [1, 2, 3]
    assert [r.complete for r in ranking] == [True, True, False]
    assert ranking[2].missing == (8.0, 16.0, 32.0, 64.0)


def test_score_is_the_mean_over_compressions_2_to_64(benchmarks):
    bench = benchmarks["digits-mlp"]
    values = {1: [0.1], 2: [0.9, 0.8], 4: [0.8], 8: [0.7], 16: [0.6], 32: [0.5], 64: [0.4]}
    make_entry("Alpha", bench, values)
    (row,) = benchmark_ranking(benchmark=bench)
    assert row.score == pytest.approx((0.85 + 0.8 + 0.7 + 0.6 + 0.5 + 0.4) / 6)
    assert (row.n_min, row.n_max) == (1, 2)


def test_ties_go_to_the_earliest_method(benchmarks):
    bench = benchmarks["digits-mlp"]
    now = timezone.now()
    make_entry("Later", bench, full(0.9), created=now)
    make_entry("Earlier", bench, full(0.9), created=now - dt.timedelta(days=1))
    assert [r.slug for r in benchmark_ranking(benchmark=bench)] == ["earlier", "later"]


def test_progress_counts_final_runs_of_listed_methods(benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    submission = make_submission(make_method("Alpha"))
    for seed, status in enumerate(["finished", "failed", "running", "queued"]):
        make_run(submission, bench, 2, seed, status=status)
    hidden = make_submission(make_method("Hidden", owner=alice, is_hidden=True))
    make_run(hidden, bench, 2, 0, status="queued")
    assert benchmark_progress(benchmark=bench) == (2, 4)


def test_summaries_count_entries_and_baseline_progress(benchmarks, django_assert_max_num_queries):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {2: [0.9]})
    baseline = make_submission(make_method("random", is_baseline=True))
    make_run(baseline, bench, 2, 0)
    make_run(baseline, bench, 4, 0, status="queued")
    with django_assert_max_num_queries(2):
        rows = {r["name"]: r for r in benchmark_summaries()}
    row = rows["digits-mlp"]
    assert (row["entries"], row["baselines"]) == (2, 1)
    assert (row["baseline_done"], row["baseline_total"], row["filling_in"]) == (1, 2, True)
    assert row["latest_slug"] in {"alpha", "random"}
    assert rows["digits-cnn"]["entries"] == 0
