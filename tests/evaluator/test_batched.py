"""Runs scored in batches (evaluator/batched.py): each run's record is its own, whichever runs
share its batch and wherever it sits in it; masks held; early stopping per run."""

import dataclasses

import numpy as np
import pytest
import torch

from evaluator.batched import BATCH_RUNS, RunJob, batchable, runs_together, score_runs, train_stacked
from evaluator.benchmarks import get_benchmark
from evaluator.runner import Context, RunFailed, score_run, sweep
from evaluator.sandbox import StrategySource
from evaluator.models import get_model
from evaluator.stacked import Stack, stackable
from tests.evaluator.test_runner import magnitude_mask

SOURCE = StrategySource(baseline="x")


def short(name: str, **finetune) -> Context:
    """The target's context with a shorter finetuning (the same code paths, less time)."""
    ctx = Context.load(get_benchmark(name), device="cpu")
    protocol = dataclasses.replace(ctx.benchmark.finetune, **{"epochs": 2, **finetune})
    return dataclasses.replace(ctx, benchmark=dataclasses.replace(ctx.benchmark, finetune=protocol))


MEASURED = ("time_", "latency_", "dense_latency_", "measured_speedup_")  # clocks, not figures


def figures(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith(MEASURED)}


@pytest.fixture(scope="module")
def mlp():
    return short("digits-mlp")


def jobs_for(ctx, pairs):
    model = ctx.fresh_model()
    return [RunJob(SOURCE, c, s, magnitude_mask(model, compression=c)) for c, s in pairs]


def test_the_embedded_targets_on_a_cpu_are_batched_and_a_cifar_model_is_not(mlp):
    assert batchable(mlp)
    cnn = short("mnist1d-cnn")
    assert batchable(cnn)
    assert not batchable(dataclasses.replace(cnn, device=torch.device("meta")))
    assert not stackable(get_model("cifar_resnet20"))  # BatchNorm: not stacked


def test_an_mlps_runs_step_together_and_a_cnns_one_at_a_time(mlp):
    """A CNN's runs cost more in a batch than alone (each run's convolutions are its own), so
    they go one at a time, on the same code path; nothing is batched off the stackable CPU models."""
    assert runs_together(mlp) == BATCH_RUNS
    cnn = short("digits-cnn")
    assert runs_together(cnn) == 1
    assert runs_together(dataclasses.replace(cnn, device=torch.device("meta"))) == 0


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "mnist1d-cnn"])
def test_a_runs_record_does_not_depend_on_its_batch_companions_nor_its_place(name):
    ctx = short(name, epochs=1)
    a, b, c = jobs_for(ctx, [(4, 0), (16, 1), (2, 2)])
    alone = score_runs(ctx, [a])[0]
    first, _, last_c = score_runs(ctx, [a, b, c])
    reordered = score_runs(ctx, [c, b, a])
    assert figures(alone) == figures(first) == figures(reordered[2])
    assert figures(last_c) == figures(reordered[0])
    assert alone["top1"] != last_c["top1"] or alone["masks_sha256"] != last_c["masks_sha256"]


def test_score_run_is_a_batch_of_one_and_the_same_batch_gives_the_same_records(mlp):
    jobs = jobs_for(mlp, [(8, 1), (32, 0)])
    batch, again = score_runs(mlp, jobs), score_runs(mlp, jobs)
    assert [figures(r) for r in batch] == [figures(r) for r in again]
    single = score_run(mlp, SOURCE, 8, 1, jobs[0].masks)
    assert figures(single) == figures(batch[0])
    assert batch[0]["protocol_version"] == 3


def test_each_run_keeps_its_own_masks_and_seed(mlp):
    same_masks = jobs_for(mlp, [(8, 0), (8, 1)])
    r0, r1 = score_runs(mlp, same_masks)
    assert r0["masks_sha256"] == r1["masks_sha256"]
    assert (r0["loss"], r0["val_top1"]) != (r1["loss"], r1["val_top1"])  # another data order
    assert r0["compression"] == pytest.approx(8, rel=0.01)


def test_a_run_whose_masks_fail_validation_fails_alone(mlp):
    good, other = jobs_for(mlp, [(4, 0), (16, 2)])
    wrong = {name: np.ones((3, 3)) for name in good.masks.to_torch("cpu")}
    too_dense = jobs_for(mlp, [(2, 0)])[0]
    bad_shape = RunJob(SOURCE, 4, 1, wrong)
    asks_more = dataclasses.replace(too_dense, compression=64)
    out = score_runs(mlp, [good, bad_shape, other, asks_more])
    assert isinstance(out[1], RunFailed) and "shape" in out[1].message and out[1].user_error
    assert isinstance(out[3], RunFailed) and "too many weights" in out[3].message
    alone = score_runs(mlp, [good, other])
    assert [figures(out[0]), figures(out[2])] == [figures(r) for r in alone]


def test_masks_hold_through_batched_finetuning_with_weight_decay():
    ctx = short("mnist1d-cnn/init", epochs=1)  # SGD, momentum, Nesterov, weight decay
    model = ctx.fresh_model()
    masks = [magnitude_mask(model, compression=c).to_torch("cpu") for c in (8, 64)]
    stack = Stack(model, 2, masks)
    train_stacked(stack, ctx.splits.train, ctx.splits.val, ctx.benchmark.finetune, seeds=[0, 1])
    for r, mask in enumerate(masks):
        state = stack.run_state(r)
        for name, m in mask.items():
            assert torch.all(state[name][m == 0] == 0), name
            assert torch.any(state[name][m == 1] != 0), name
        assert stack.pruned_nonzero(r) == {}


def test_early_stopping_and_selection_are_per_run():
    ctx = short("digits-mlp", epochs=6, patience=1, lr=3e-3)
    jobs = jobs_for(ctx, [(2, 0), (64, 1), (16, 2)])
    together = score_runs(ctx, jobs)
    alone = [score_runs(ctx, [job])[0] for job in jobs]
    keys = ("best_epoch", "epochs_run", "val_top1", "top1")
    assert [[r[k] for k in keys] for r in together] == [[r[k] for k in keys] for r in alone]
    assert min(r["epochs_run"] for r in together) < 6  # one stopped early ...
    assert len({r["epochs_run"] for r in together}) > 1  # ... on its own


def test_a_sweep_scores_each_sources_runs_as_one_batch(mlp, monkeypatch):
    from evaluator import batched

    calls = []
    real = batched._batch
    monkeypatch.setattr(batched, "_batch", lambda ctx, jobs, stop: calls.append(len(jobs)) or real(ctx, jobs, stop))
    records, failures = sweep(mlp, [StrategySource(baseline="random")], [2, 8], [0, 1])
    assert calls == [4] and not failures
    assert [(r["compression_requested"], r["seed"]) for r in records] == [(2, 0), (2, 1), (8, 0), (8, 1)]
