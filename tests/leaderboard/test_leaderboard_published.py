"""The dense top-1 of pinned published weights: the publisher's figure until a worker measures it."""

import pytest

from leaderboard.selectors import benchmark_dense_top1, benchmark_summaries
from submissions.models import Run

from tests.factories import make_entry

pytestmark = pytest.mark.django_db


def test_published_top1_shows_marked_until_a_run_at_1x_measures_it(client, benchmarks):
    bench = benchmarks["cifar10-resnet20"]
    assert (bench.reference_top1, bench.published_top1) == (None, 0.9178)
    assert benchmark_dense_top1(benchmark=bench) == {"value": 0.9178, "source": "published"}
    assert "91.8 % <span" in client.get("/b/cifar10-resnet20/").content.decode()
    home = client.get("/").content.decode()
    assert "91.8 <span class=\"muted\">(published)</span>" in home

    method = make_entry("random", bench, {1: [0.5, 0.5]}, is_baseline=True)
    Run.objects.filter(submission__method=method).update(pre_top1=0.9150)
    assert benchmark_dense_top1(benchmark=bench) == {"value": pytest.approx(0.915), "source": "measured"}
    html = client.get("/b/cifar10-resnet20/").content.decode()
    assert "91.5 %" in html and "(published)" not in html
    row = {r["name"]: r for r in benchmark_summaries()}["cifar10-resnet20"]
    assert row["dense"]["source"] == "measured"


def test_a_benchmark_with_a_registry_figure_keeps_it(benchmarks):
    bench = benchmarks["digits-mlp"]
    assert benchmark_dense_top1(benchmark=bench) == {"value": bench.reference_top1, "source": "registry"}
    assert benchmarks["cifar10-vgg"].published_top1 is None
