"""Runs on the embedded digits-mlp benchmark: what a record holds and what a run refuses."""

import dataclasses

import pytest
import torch

from evaluator.benchmarks import get_benchmark, run_identity
from evaluator.columns import COLUMNS, MEASURED_LATENCY_COLUMNS
from evaluator.pruning import Mask
from evaluator.runner import Context, RunFailed, calibration_batch, score_run, sweep
from evaluator.sandbox import StrategySource
from evaluator.weights import WeightsError, verified_weights

# One short finetuning epoch keeps these tests fast; the protocol is otherwise the benchmark's.
BENCHMARK = get_benchmark("digits-mlp")
SHORT = dataclasses.replace(BENCHMARK, finetune=dataclasses.replace(BENCHMARK.finetune, epochs=1))
TIMINGS = {c for c in COLUMNS if c.startswith("time_")} | set(MEASURED_LATENCY_COLUMNS)


@pytest.fixture(scope="module")
def ctx():
    return Context.load(SHORT, device="cpu")


def magnitude_mask(model, keep=None, compression=None):
    """Keep the largest `keep` share of each weight by magnitude (or what `compression` allows)."""
    if compression is not None:
        from evaluator.pruning import GlobalMagWeight
        keep = GlobalMagWeight(model, compression=compression).fraction
    out = {}
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            w = p.detach().abs().flatten()
            k = int(round(keep * w.numel()))
            m = torch.zeros_like(w)
            m[w.topk(k).indices] = 1
            out[name] = m.view_as(p).numpy()
    return Mask(out)


def test_a_run_records_every_documented_column(ctx):
    model = ctx.fresh_model()
    record = score_run(ctx, StrategySource(baseline="x"), 4, 0, magnitude_mask(model, compression=4))
    assert list(record) == COLUMNS
    assert record["compression"] >= 4 * 0.99 and record["speedup"] > 3.5
    assert record["test_samples"] == len(ctx.splits.test)
    assert record["weights_sha256"] == BENCHMARK.weights_sha256
    assert 0 <= record["top1"] <= 1 and record["device"] == "cpu"


def test_a_run_times_its_pruned_model_against_the_dense_one_on_this_machine(ctx):
    record = score_run(ctx, StrategySource(baseline="x"), 16, 0, magnitude_mask(ctx.fresh_model(), compression=16))
    for batch in (1, 64):
        pruned, dense = record[f"latency_ms_b{batch}"], record[f"dense_latency_ms_b{batch}"]
        assert 0 < pruned and 0 < dense
        assert record[f"measured_speedup_b{batch}"] == dense / pruned
    # masks run as dense weights: about as fast as the dense model, whatever the theory says
    assert record["speedup"] > 10 and 0.5 < record["measured_speedup_b64"] < 2
    assert record["latency_kernel"] == "dense" and record["latency_threads"] == 1
    assert record["latency_device"].endswith("(cpu)")
    assert 0 < record["time_latency_s"] < record["time_total_s"]


def test_the_same_seed_gives_identical_metrics_on_cpu(ctx):
    mask = magnitude_mask(ctx.fresh_model(), compression=8)
    a, b = (score_run(ctx, StrategySource(baseline="x"), 8, 1, mask) for _ in range(2))
    assert {k: v for k, v in a.items() if k not in TIMINGS} == {k: v for k, v in b.items() if k not in TIMINGS}


def test_a_run_identity_is_pinned():
    # Changing this literal means every stored run changes identity: do it only on purpose.
    assert run_identity(benchmark=BENCHMARK, weights_sha256="w" * 64, strategy_sha256="s" * 64,
                        compression=8, seed=1) == "9258487904bc2fda32c6"  # protocol 2


def test_masks_that_keep_too_many_weights_fail_with_both_numbers(ctx):
    mask = magnitude_mask(ctx.fresh_model(), 0.5)
    with pytest.raises(RunFailed, match=r"requested compression 8x, the masks give 1\.9\d\dx"):
        score_run(ctx, StrategySource(baseline="x"), 8, 0, mask)


def test_masks_with_no_pruning_at_all_fail_above_compression_one(ctx):
    with pytest.raises(RunFailed, match="keep too many weights"):
        score_run(ctx, StrategySource(baseline="x"), 2, 0, Mask.ones(ctx.fresh_model()))


def test_masks_of_the_wrong_shape_fail_naming_the_parameter(ctx):
    mask = dict(magnitude_mask(ctx.fresh_model(), compression=4))
    name = next(iter(mask))
    mask[name] = mask[name][:, :3]
    with pytest.raises(RunFailed, match=f"mask for '{name}' has shape"):
        score_run(ctx, StrategySource(baseline="x"), 4, 0, Mask(mask))


def test_the_calibration_batch_comes_from_the_training_split_only(ctx):
    x, y = calibration_batch(ctx.splits.train, 64, seed=2)
    train_rows = {tuple(r) for r in ctx.splits.train.tensors[0].flatten(1).tolist()}
    test_rows = {tuple(r) for r in ctx.splits.test.tensors[0].flatten(1).tolist()}
    rows = {tuple(r) for r in x.flatten(1).tolist()}
    assert rows <= train_rows and not rows & (test_rows - train_rows)
    assert torch.equal(x, calibration_batch(ctx.splits.train, 64, seed=2)[0])
    assert not torch.equal(x, calibration_batch(ctx.splits.train, 64, seed=3)[0])


def test_a_sweep_runs_every_strategy_compression_and_seed(ctx):
    sources = [StrategySource(baseline="global-mag-weight"), StrategySource(baseline="random")]
    records, failures = sweep(ctx, sources, [2, 16], [0, 1])
    assert failures == []
    assert sorted((r["strategy"], r["compression_requested"], r["seed"]) for r in records) == sorted(
        (s.label, float(c), seed) for s in sources for c in (2, 16) for seed in (0, 1))
    assert len({r["masks_sha256"] for r in records if r["strategy"] == "random"}) == 4


def test_weights_that_do_not_match_the_pinned_checksum_are_refused(tmp_path, monkeypatch):
    state, _ = verified_weights(BENCHMARK)
    from safetensors.torch import save_file
    state = {k: v.clone() for k, v in state.items()}
    next(iter(state.values()))[0] += 1
    save_file(state, str(tmp_path / BENCHMARK.weights_file))
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="refusing to run on different weights"):
        verified_weights(BENCHMARK)


def test_missing_weights_name_where_they_were_looked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match=f"{tmp_path}/cifar10-resnet20.safetensors"):
        verified_weights(get_benchmark("cifar10-resnet20"))


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "mnist1d-cnn"])
def test_embedded_weights_match_their_checksum_and_reference_accuracy(name):
    benchmark = get_benchmark(name)
    ctx = Context.load(benchmark, device="cpu")
    from evaluator.finetune import evaluate, make_loader
    scores = evaluate(ctx.fresh_model(), make_loader(ctx.splits.test, 512), "cpu")
    assert scores.top1 == pytest.approx(benchmark.reference_top1, abs=1e-4)
    assert scores.top1 >= {"digits-mlp": 0.95, "mnist1d-cnn": 0.90}.get(name, 0.9)


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "mnist1d-cnn"])
def test_every_compression_of_an_embedded_benchmark_is_reachable(name):
    from evaluator.models import get_model
    from evaluator.pruning import GlobalMagWeight
    benchmark = get_benchmark(name)
    strategy = GlobalMagWeight(get_model(benchmark.model), compression=max(benchmark.compressions))
    assert strategy.fraction > 0.005
