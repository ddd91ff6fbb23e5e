"""Tracks: which weights a strategy sees and what trains the masked network, as registry entries."""

import dataclasses

import pytest
import torch

from evaluator.benchmarks import get_benchmark, list_benchmarks, run_identity
from evaluator.models import get_model
from evaluator.pretrain import initialize
from evaluator.runner import Context, sweep
from evaluator.sandbox import StrategySource
from evaluator.seeds import seed_everything
from evaluator.tracks import (TRACKS, Track, get_track, list_tracks, make_target, resolve_target, targets_of)
from evaluator.weights import sha256_file, verified_weights

EMBEDDED = ["digits-mlp", "digits-cnn", "mnist1d-cnn"]


def test_an_unknown_track_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown track 'late'; known: after, init, long, structured, nm24"):
        get_track("late")


def test_every_embedded_benchmark_has_an_init_track_and_mnist1d_a_long_one():
    # and the CNNs a structured track, every one a 2:4 track
    assert {b: [t.track for t in targets_of(b)] for b in EMBEDDED} == {
        "digits-mlp": ["after", "init", "nm24"], "digits-cnn": ["after", "init", "structured", "nm24"],
        "mnist1d-cnn": ["after", "init", "long", "structured", "nm24"]}
    assert get_benchmark("digits-mlp/init").base == "digits-mlp"
    names = [b.name for b in list_benchmarks()]
    assert names.index("digits-mlp/init") == names.index("digits-mlp") + 1


def test_the_after_track_is_the_benchmark_itself():
    benchmark = get_benchmark("digits-mlp")
    assert benchmark.track == "after" and resolve_target("digits-mlp", "after") is benchmark
    assert "track" not in benchmark.protocol_dict()  # runs made before tracks keep their identity


def test_a_run_identity_on_the_init_track_is_pinned():
    # Changing this literal means every stored init-track run changes identity: only on purpose.
    target = get_benchmark("digits-mlp/init")
    assert run_identity(benchmark=target, weights_sha256="w" * 64, strategy_sha256="s" * 64,
                        compression=8, seed=1) == "2c78dac3d184676932d3"
    same_but_after = dataclasses.replace(target, track="after")
    assert run_identity(benchmark=same_but_after, weights_sha256="w" * 64, strategy_sha256="s" * 64,
                        compression=8, seed=1) != "2c78dac3d184676932d3"


def test_the_init_track_trains_from_scratch_under_the_shortened_pretraining_protocol():
    base, target = get_benchmark("mnist1d-cnn"), get_benchmark("mnist1d-cnn/init")
    assert target.finetune == dataclasses.replace(base.pretrain, epochs=20)  # 2 x 10 finetuning epochs
    assert get_benchmark("digits-mlp/init").finetune.epochs == 20
    assert target.weights_file == "mnist1d-cnn.init.safetensors"
    long = get_benchmark("mnist1d-cnn/long")
    assert long.finetune == dataclasses.replace(base.finetune, epochs=30, schedule="cosine")
    assert long.weights_file == base.weights_file and long.weights_sha256 == base.weights_sha256


@pytest.mark.parametrize("name", EMBEDDED)
def test_the_committed_initial_weights_are_the_seeded_initialisation(name):
    state, sha = verified_weights(get_benchmark(f"{name}/init"))
    seed_everything(0)
    fresh = get_model(get_benchmark(name).model).state_dict()
    assert sha == get_benchmark(f"{name}/init").weights_sha256
    assert state.keys() == fresh.keys() and all(torch.equal(state[k], fresh[k]) for k in state)


def test_init_writes_the_same_bytes_every_time(tmp_path):
    first, sha1 = initialize(get_benchmark("digits-cnn"), out_dir=tmp_path / "a", log=lambda _: None)
    second, sha2 = initialize(get_benchmark("digits-cnn/init"), out_dir=tmp_path / "b", log=lambda _: None)
    assert sha1 == sha2 == sha256_file(second) == get_benchmark("digits-cnn/init").weights_sha256
    assert first.read_bytes() == second.read_bytes()


def test_a_track_the_benchmark_does_not_offer_names_the_ones_it_does():
    with pytest.raises(ValueError, match=r"benchmark 'digits-mlp' has no track 'long'; its tracks: after, init"):
        resolve_target("digits-mlp", "long")
    with pytest.raises(ValueError, match="unknown track 'scratch'; known: after, init, long, structured, nm24"):
        resolve_target("digits-mlp", "scratch")


def short(target):
    return dataclasses.replace(target, finetune=dataclasses.replace(target.finetune, epochs=1))


def test_a_run_on_the_init_track_prunes_the_initial_weights_and_records_its_track():
    ctx = Context.load(short(get_benchmark("digits-mlp/init")), device="cpu")
    records, failures = sweep(ctx, [StrategySource(baseline="global-mag-weight")], [8], [0])
    assert failures == []
    (record,) = records
    assert record["track"] == "init" and record["benchmark"] == "digits-mlp/init"
    assert record["weights_sha256"] == get_benchmark("digits-mlp/init").weights_sha256
    assert record["pre_top1"] < 0.3  # untrained weights: about chance before training
    assert record["top1"] > record["pre_top1"] + 0.1 and record["compression"] >= 8 * 0.99


def test_a_third_track_is_one_entry_and_the_runner_follows_it(monkeypatch):
    one_epoch = Track(name="brief", title="one epoch", summary="", weights="pretrained",
                      after_masking=lambda b: dataclasses.replace(b.finetune, epochs=1, schedule="constant"))
    monkeypatch.setitem(TRACKS, "brief", one_epoch)  # what register_track does, undone after the test
    target = make_target(get_benchmark("digits-mlp"), one_epoch)
    assert target.name == "digits-mlp/brief" and target.protocol_dict()["track"] == "brief"
    ctx = Context.load(target, device="cpu")
    (record,), _ = sweep(ctx, [StrategySource(baseline="global-mag-weight")], [4], [0])
    assert record["track"] == "brief" and record["epochs_run"] == 1
    assert record["weights_sha256"] == get_benchmark("digits-mlp").weights_sha256
    assert record["params_run"] == record["size"] and record["speedup_run"] == 1.0  # masks held: dense run


def test_missing_initial_weights_say_how_to_write_them(monkeypatch, tmp_path):
    from evaluator.weights import WeightsError

    monkeypatch.setattr("evaluator.weights.REPO_WEIGHTS", tmp_path)
    with pytest.raises(WeightsError, match=r"python -m evaluator init digits-cnn`"):
        verified_weights(get_benchmark("digits-cnn/init"))


def test_the_new_tracks_target_names_are_url_and_file_safe():
    import re

    for target in list_benchmarks():
        assert re.fullmatch(r"[a-z0-9-]+(/[a-z0-9-]+)?", target.name), target.name


def test_each_track_s_built_ins_are_registered_and_apply():
    # Fails until every built-in a track shows is in evaluator/pruning's registry.
    for target in list_benchmarks():
        get_track(target.track).builtin_names(target)
    structured = get_track("structured")
    assert "bn-slimming" not in structured.builtin_names(get_benchmark("digits-cnn/structured"))  # no BN
    assert "bn-slimming" in structured.builtin_names(get_benchmark("cifar10-resnet20/structured"))
    assert get_track("nm24").builtin_names(get_benchmark("digits-mlp/nm24")) == ["nm-magnitude"]


def test_the_structured_board_ranks_by_measured_speedup_and_the_others_by_compression():
    assert get_track("structured").board_axis == "measured_speedup"
    assert {t.board_axis for t in TRACKS.values() if t.name != "structured"} == {"compression"}
    assert get_track("structured").sparsity == "channels" and get_track("nm24").sparsity == "2:4"
