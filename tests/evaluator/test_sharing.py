"""Results are content-addressed: runs with the same result key (target and protocol, weights,
masks, seed, device kind) are computed once and shared, say so, and a verified sample can never
let sharing hide a difference."""

import dataclasses

import pytest

from evaluator import benchmark_registry, sharing
from evaluator.benchmarks import get_benchmark, result_key
from evaluator.columns import REPRODUCIBLE_COLUMNS
from evaluator.runner import Context, RunFailed, sweep
from evaluator.sandbox import StrategySource

BENCHMARK = get_benchmark("digits-mlp")
SHORT = dataclasses.replace(BENCHMARK, finetune=dataclasses.replace(BENCHMARK.finetune, epochs=1))
KEY = dict(benchmark=BENCHMARK, weights_sha256="ab" * 32, masks_sha256="cd" * 32, seed=0)


@pytest.fixture(scope="module")
def ctx():
    return Context.load(SHORT, device="cpu")


def test_the_result_key_is_pinned_so_an_accidental_change_is_seen():
    assert result_key(**KEY) == "9706ed632c3cf6f576ce7fbfec4c40bb"  # protocol 3


def test_a_protocol_change_changes_the_key(monkeypatch):
    before = result_key(**KEY)
    longer = dataclasses.replace(BENCHMARK, finetune=dataclasses.replace(BENCHMARK.finetune, epochs=11))
    assert result_key(**{**KEY, "benchmark": longer}) != before
    monkeypatch.setattr(benchmark_registry, "PROTOCOL_VERSION", benchmark_registry.PROTOCOL_VERSION + 1)
    assert result_key(**KEY) != before


def test_masks_seed_weights_target_and_device_kind_each_change_the_key_and_nothing_else_does():
    before = result_key(**KEY)
    for change in ({"masks_sha256": "ce" * 32}, {"seed": 1}, {"weights_sha256": "aa" * 32},
                   {"benchmark": get_benchmark("digits-mlp/init")}, {"device": "cuda"}):
        assert result_key(**{**KEY, **change}) != before, change
    assert result_key(**{**KEY, "device": "cpu"}) == result_key(**{**KEY, "device": "cpu:0"}) == before


def test_a_sweep_computes_a_result_key_once_and_the_other_runs_say_whose_result_they_share(ctx):
    results = sharing.SweepResults()
    sources = [StrategySource(baseline="global-mag-weight"), StrategySource(baseline="layer-mag-weight")]
    records, failures = sweep(ctx, sources, [1.0, 2.0], [0], results=results)
    assert not failures and (results.computed, results.shared) == (3, 1)
    by = {(r["strategy"], r["compression_requested"]): r for r in records}
    first, second = by[("global-mag-weight", 1.0)], by[("layer-mag-weight", 1.0)]
    assert first["shared_with"] == "" and second["shared_with"] == first["run_id"]
    assert second["result_key"] == first["result_key"] and second["run_id"] != first["run_id"]
    assert second["strategy_sha256"] == "baseline:layer-mag-weight"
    assert second["time_finetune_s"] == 0.0 and first["time_finetune_s"] > 0
    assert {c: second[c] for c in REPRODUCIBLE_COLUMNS if c not in sharing.OWN_COLUMNS} == \
        {c: first[c] for c in REPRODUCIBLE_COLUMNS if c not in sharing.OWN_COLUMNS}
    # at 2x the two methods' masks differ: each is computed
    assert by[("layer-mag-weight", 2.0)]["shared_with"] == ""


def test_a_verified_shared_run_that_differs_is_caught_and_keeps_its_computed_record(ctx, monkeypatch, capsys):
    real = sharing.share_run

    def wrong(*args, **kwargs):  # a sharing that would hide a difference in one figure
        return {**real(*args, **kwargs), "top1": 0.0123}

    monkeypatch.setattr(sharing, "share_run", wrong)
    results = sharing.SweepResults(verify=1.0)
    sources = [StrategySource(baseline="global-mag-weight"), StrategySource(baseline="random")]
    records, _ = sweep(ctx, sources, [1.0], [0], results=results)
    assert [(r["strategy"], r["shared_with"]) for r in records] == [("global-mag-weight", ""), ("random", "")]
    assert records[1]["top1"] == records[0]["top1"] != 0.0123
    assert results.mismatched == [(records[1]["run_id"], records[0]["run_id"], ["top1"])]
    assert "MISMATCH" in capsys.readouterr().err


def test_a_verified_shared_run_that_matches_is_counted_as_checked(ctx):
    results = sharing.SweepResults(verify=1.0)
    sweep(ctx, [StrategySource(baseline="global-mag-weight"), StrategySource(baseline="random")], [1.0], [0],
          results=results)
    assert (results.checked, results.mismatched) == (1, [])


def test_a_shared_result_is_still_refused_at_a_compression_its_masks_do_not_reach(ctx):
    results = sharing.SweepResults()
    ones = StrategySource(baseline="global-mag-weight")
    [record], _ = sweep(ctx, [ones], [1.0], [0], results=results)
    from evaluator.pruning import Mask
    mask = Mask.ones(ctx.fresh_model())
    with pytest.raises(RunFailed, match="the masks keep too many weights: requested compression 4x"):
        results.lookup(ctx, StrategySource(baseline="random"), 4.0, 0, mask)


def test_a_record_without_every_column_is_never_shared():
    assert not sharing.usable({"run_id": "x", "shared_with": ""})
    assert not sharing.usable(None)
