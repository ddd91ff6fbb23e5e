"""The dense frontier: the distance arithmetic (worked by hand), the registry against the models,
and the pinned weights (evaluator/frontier.py)."""

from pathlib import Path

import pytest
import torch

from evaluator.frontier import (CIFAR_RESNETS, PINNED, WIDTHS, Frontier, FrontierPoint, frontier_model,
                                frontier_point, get_frontier, method_distance)
from evaluator.metrics import model_metrics
from evaluator.models import get_model, model_input_shape
from evaluator.weights import REPO_WEIGHTS, WeightsError, sha256_file


def point(label, params, macs, top1):
    return FrontierPoint("toy", label, "digits_mlp", None, params, macs, top1, None)


# A dense network of 1000 parameters and 2000 MACs, and four smaller dense ones.
TOY = Frontier(1000, 2000, (point("a", 100, 300, 0.80), point("b", 200, 500, 0.90),
                            point("c", 400, 700, 0.85), point("d", 1000, 2000, 0.95)))


def test_the_best_frontier_network_is_the_most_accurate_one_within_the_budget():
    assert TOY.best(250).label == "b"  # a and b fit; b is better
    assert TOY.best(450).label == "b"  # c fits too, but is worse than b
    assert TOY.best(1000).label == "d"
    assert TOY.best(99) is None  # none is that small
    assert TOY.best(600, "macs").label == "b"  # a (300) and b (500) fit by MACs


def test_a_distance_is_top1_minus_the_best_within_budget_in_fractions():
    assert TOY.distance(0.93, 250) == pytest.approx(0.03)
    assert TOY.distance(0.70, 120) == pytest.approx(-0.10)  # only a fits: 0.70 - 0.80
    assert TOY.distance(0.99, 50) is None


def test_a_run_costs_the_dense_count_over_its_ratio():
    # 4x compression: 1000 / 4 = 250 nonzero parameters -> b (0.90)
    assert TOY.run_distance(0.93, 4.0, 2.0, "params") == pytest.approx(0.03)
    # 2x speedup: 2000 / 2 = 1000 nonzero MACs -> c (700) is within, but b is better: 0.93 - 0.90
    assert TOY.run_distance(0.93, 4.0, 2.0, "macs") == pytest.approx(0.03)
    # 10x speedup: 200 MACs: nothing is that small
    assert TOY.run_distance(0.93, 4.0, 10.0, "macs") is None
    for bad in (None, float("nan"), float("inf"), 0.0, -2.0):
        assert TOY.run_distance(0.93, bad, bad, "params") is None
    assert TOY.run_distance(None, 4.0, 2.0) is None
    with pytest.raises(ValueError, match="unknown cost 'flops'; known: params, macs"):
        TOY.best(100, "flops")


def test_a_method_distance_averages_seeds_and_keeps_its_best_point_above_1x():
    runs = [(1, 0.96, 1.0, 1.0),  # 1x: nothing pruned; its +0.01 is not the best
            (4, 0.93, 4.0, 2.0), (4, 0.91, 4.0, 2.0),  # mean (0.03 + 0.01) / 2 = +0.02 vs b
            (8, 0.83, 8.0, 4.0), (8, 0.81, 8.0, 4.0)]  # 125 params -> a: mean +0.02; MACs 500 -> b: -0.08
    d = method_distance(TOY, runs)
    assert [p.compression for p in d.points] == [1.0, 4.0, 8.0]
    assert d.points[0].params == pytest.approx(0.01)
    assert d.points[1].params == pytest.approx(0.02) and d.points[1].frontier_params == "b"
    assert d.points[2].params == pytest.approx(0.02) and d.points[2].frontier_params == "a"
    assert d.points[2].macs == pytest.approx(-0.08) and d.points[2].frontier_macs == "b"
    assert d.best_params.compression == 8.0  # a tie: the higher compression
    assert d.points[1].macs == pytest.approx(0.02)  # 1000 MACs: b is the best within them
    assert d.best_macs.compression == 4.0


def test_a_point_where_one_seed_has_no_frontier_network_has_no_distance():
    d = method_distance(TOY, [(16, 0.5, 16.0, 16.0), (16, 0.5, 9.0, 9.0)])  # 62.5 params: none; 111: a
    assert d.points[0].params is None and d.best_params is None


def test_a_stored_frontier_round_trips_and_a_malformed_one_reads_as_none():
    assert Frontier.from_dict(TOY.as_dict()) == TOY
    for bad in (None, {}, {"params": "many", "macs": 1}, {"params": 1, "macs": 1, "points": [{"label": "x"}]}):
        assert Frontier.from_dict(bad) is None


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_registry_counts_are_the_models(name):
    benchmark, width = name.split("@")
    p = frontier_point(benchmark, float(width))
    model = get_model(p.model, width=p.width)
    metrics = model_metrics(model, torch.zeros(model_input_shape(p.model)))
    assert (p.params, p.macs) == (metrics.size, metrics.flops)


@pytest.mark.parametrize("name", sorted(CIFAR_RESNETS))
def test_the_cifar_family_counts_are_the_models(name):
    from evaluator.benchmarks import get_benchmark

    model = get_model(get_benchmark(name).model)
    metrics = model_metrics(model, torch.zeros(3, 32, 32))
    assert CIFAR_RESNETS[name] == (metrics.size, metrics.flops)


def test_the_benchmark_s_own_width_is_the_benchmark_s_model_and_weights():
    from evaluator.benchmarks import get_benchmark

    for benchmark, widths in WIDTHS.items():
        own = frontier_point(benchmark, widths[-1])
        b = get_benchmark(benchmark)
        assert (own.weights_of, own.sha256, own.top1) == (benchmark, b.weights_sha256, b.reference_top1)
        dense = {k: v.shape for k, v in get_model(b.model).state_dict().items()}
        assert {k: v.shape for k, v in get_model(b.model, width=widths[-1]).state_dict().items()} == dense


def test_every_pinned_frontier_file_is_committed_with_its_sha256():
    for name, pinned in PINNED.items():
        if len(pinned) == 2:  # the benchmark's own network
            continue
        path = REPO_WEIGHTS / "frontier" / f"{name}.safetensors"
        assert sha256_file(path) == pinned[2], name
        assert 0.5 < pinned[3] <= 1.0, name


def test_a_pinned_frontier_network_scores_its_registered_top1():
    from evaluator.datasets import get_dataset
    from evaluator.finetune import evaluate, make_loader

    p = frontier_point("digits-mlp", 64)
    scores = evaluate(frontier_model(p), make_loader(get_dataset("digits").test, 256), torch.device("cpu"))
    assert scores.top1 == pytest.approx(p.top1, abs=5e-5)


def test_frontier_weights_that_are_not_the_pinned_ones_are_refused(tmp_path, monkeypatch):
    p = frontier_point("digits-mlp", 32)
    (tmp_path / "frontier").mkdir()
    (tmp_path / "frontier" / "digits-mlp@32.safetensors").write_bytes(b"not these weights")
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="frontier network 'digits-mlp@32' pins"):
        frontier_model(p)


def test_the_tracks_share_their_base_s_frontier_and_a_benchmark_without_a_family_has_none():
    assert get_frontier("digits-mlp/init") == get_frontier("digits-mlp")
    assert get_frontier("mnist-lenet") is None
    assert get_frontier("cifar10-resnet20") is None  # nothing smaller in its family
    assert [p.label for p in get_frontier("cifar10-resnet110").points] == [
        "cifar10-resnet20", "cifar10-resnet56", "cifar10-resnet110"]
    assert get_frontier("cifar10-resnet56").points[0].top1_source == "published"


def test_an_unknown_width_names_the_family_s_widths():
    with pytest.raises(ValueError, match="no frontier network 'digits-mlp@33'; the widths are digits-mlp: 32, 64"):
        frontier_point("digits-mlp", 33)


def test_a_width_is_refused_by_a_model_without_one_and_out_of_range():
    with pytest.raises(ValueError, match="model 'lenet5' has no width; the models with one: digits_cnn"):
        get_model("lenet5", width=0.5)
    for bad in (0, -1, True, "0.5", 1e9):
        with pytest.raises(ValueError, match="width of 'digits_cnn' must be a number in"):
            get_model("digits_cnn", width=bad)


def test_pretrain_refuses_a_width_outside_the_family_and_the_own_width(capsys, tmp_path):
    from evaluator.cli import main

    assert main(["pretrain", "digits-mlp", "--width", "33", "--out-dir", str(tmp_path)]) == 2
    assert "the widths are digits-mlp: 32, 64, 128, 256, 512" in capsys.readouterr().err
    assert main(["pretrain", "digits-mlp", "--width", "512", "--out-dir", str(tmp_path)]) == 2
    assert "`pretrain digits-mlp` writes its weights" in capsys.readouterr().err
    assert main(["pretrain", "mnist-lenet", "--frontier", "--out-dir", str(tmp_path)]) == 2
    assert "'mnist-lenet' has no dense frontier to pretrain" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "digits-mlp", "--width", "nan"])
    assert not list(Path(tmp_path).rglob("*.safetensors"))


def test_the_frontier_is_timed_against_the_dense_network_on_this_machine():
    from evaluator.frontier import frontier_latencies

    timed = frontier_latencies("digits-mlp", repetitions=3, batch_sizes=(1, 8))
    assert list(timed) == ["digits-mlp@32", "digits-mlp@64", "digits-mlp@128", "digits-mlp@256"]
    for latency in timed.values():
        assert latency.device == "cpu" and latency.device_name
        assert all(latency.pruned_ms[b] > 0 and latency.dense_ms[b] > 0 for b in (1, 8))
    assert frontier_latencies("mnist-lenet") == {}
