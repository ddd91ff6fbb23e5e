"""Measured latency (evaluator/latency.py): interleaved, median, threads fixed and given back."""

import time

import pytest
import torch
from torch import nn

from evaluator import latency as latency_module
from evaluator.env import EnvError
from evaluator.latency import (Latency, SparseKernel, latency_columns, measure_latency, two_of_four,
                               with_kernel)

EXAMPLE = torch.zeros(8)


class Sleeper(nn.Module):
    """A fake model: each forward writes its name (and torch's thread count) to `log`, then
    sleeps its next delay (cycling through `delays`, in milliseconds)."""

    def __init__(self, name, delays, log):
        super().__init__()
        self.name, self.delays, self.log, self.calls = name, list(delays), log, 0
        self.weight = nn.Parameter(torch.zeros(1))
        self.threads = []

    def forward(self, x):
        self.log.append(self.name)
        self.threads.append(torch.get_num_threads())
        time.sleep(self.delays[self.calls % len(self.delays)] / 1000)
        self.calls += 1
        return x


def pair(dense_ms, pruned_ms):
    log = []
    return Sleeper("dense", dense_ms, log), Sleeper("pruned", pruned_ms, log), log


def test_it_times_dense_and_pruned_in_turn_after_the_warm_up():
    dense, pruned, log = pair([0], [0])
    measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1, 4), repetitions=3, warmup=2, threads=1)
    assert log == ["dense", "pruned"] * (2 + 3) * 2


def test_the_figure_is_the_median_so_one_slow_forward_does_not_move_it():
    # the warm-up takes the first delay; then one 80 ms stall among nine 2 ms forwards
    dense, pruned, _ = pair([2], [2] * 5 + [80] + [2] * 4)
    result = measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1,), repetitions=9, warmup=1, threads=1)
    assert result.pruned_ms[1] < 10
    assert result.repetitions == 9


def test_the_speedup_is_the_dense_median_over_the_pruned_median():
    dense, pruned, _ = pair([8], [4])
    result = measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1, 2), repetitions=5, warmup=1, threads=1)
    for batch in (1, 2):
        assert result.speedup(batch) == result.dense_ms[batch] / result.pruned_ms[batch]
        assert 1.5 < result.speedup(batch) < 2.5
        assert result.dense_ms[batch] >= 8


def test_torchs_thread_count_is_fixed_while_timing_and_given_back_after():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        dense, pruned, _ = pair([0], [0])
        result = measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1,), repetitions=2, warmup=1, threads=1)
        assert set(dense.threads) == set(pruned.threads) == {1}
        assert result.threads == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_thread_count_comes_back_even_when_a_forward_fails():
    class Broken(nn.Linear):
        def forward(self, x):
            raise RuntimeError("boom")

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"):
        measure_latency(Broken(8, 2), nn.Linear(8, 2), EXAMPLE, threads=1)
    assert torch.get_num_threads() == before


def test_the_thread_count_is_a_setting_and_a_malformed_one_names_it(monkeypatch):
    dense, pruned, _ = pair([0], [0])
    monkeypatch.setenv("PRUNEBOARD_LATENCY_THREADS", "1")
    assert measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1,), repetitions=1, warmup=0).threads == 1
    for bad in ("0", "two"):
        monkeypatch.setenv("PRUNEBOARD_LATENCY_THREADS", bad)
        with pytest.raises(EnvError, match="PRUNEBOARD_LATENCY_THREADS"):
            measure_latency(pruned, dense, EXAMPLE, batch_sizes=(1,), repetitions=1, warmup=0)


def test_nonsense_arguments_are_refused_with_what_was_wrong():
    dense, pruned, _ = pair([0], [0])
    with pytest.raises(ValueError, match="repetitions"):
        measure_latency(pruned, dense, EXAMPLE, repetitions=0)
    with pytest.raises(ValueError, match="threads"):
        measure_latency(pruned, dense, EXAMPLE, threads=0)
    with pytest.raises(ValueError, match="one device"):
        measure_latency(nn.Linear(8, 2), nn.Linear(8, 2, device="meta"), EXAMPLE)


def mlp(hidden: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1024, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def test_a_model_of_half_the_hidden_width_measures_faster_at_batch_64():
    wide, narrow = mlp(2048), mlp(1024)
    result = measure_latency(narrow, wide, torch.randn(1024), repetitions=30, warmup=3, threads=1)
    assert result.speedup(64) > 1.3, result


def test_an_unstructured_mask_run_as_dense_weights_measures_about_one():
    dense, pruned = mlp(2048), mlp(2048)
    with torch.no_grad():
        for p in pruned.parameters():
            p.mul_((torch.rand_like(p) < 1 / 16).float())  # 16x, unstructured
    result = measure_latency(pruned, dense, torch.randn(1024), repetitions=30, warmup=3, threads=1)
    assert result.kernel == "dense"
    assert 0.75 < result.speedup(64) < 1.33, result


def test_the_models_weights_and_modes_are_as_before():
    dense, pruned = mlp(64), mlp(64)
    pruned.train()
    state = {k: v.clone() for k, v in pruned.state_dict().items()}
    result = measure_latency(pruned, dense, torch.randn(1024), repetitions=2, warmup=1, threads=1)
    assert pruned.training and all(m.training for m in pruned.modules()) and dense.training
    assert all(torch.equal(v, pruned.state_dict()[k]) for k, v in state.items())
    assert result.device == "cpu" and result.device_name and result.torch_version == torch.__version__
    assert result.batch_sizes == (1, 64)


def test_a_registered_kernel_of_the_device_times_a_converted_copy_and_is_named(monkeypatch):
    def halve(model):  # a stand-in kernel: the copy drops half its hidden units
        model[0] = nn.Linear(1024, 1024)
        model[2] = nn.Linear(1024, 10)
        return 2

    monkeypatch.setattr(latency_module, "KERNELS", [SparseKernel("fake", "cuda", lambda m: 5),
                                                    SparseKernel("halving", "cpu", halve)])
    pruned = mlp(2048)
    result = measure_latency(pruned, mlp(2048), torch.randn(1024), repetitions=10, warmup=2, threads=1)
    assert result.kernel == "halving (2 layers)"
    assert pruned[0].out_features == 2048  # the run's own model is untouched
    assert result.speedup(64) > 1.3


def test_no_kernel_converts_a_model_on_the_cpu_so_it_runs_dense():
    model = nn.Sequential(nn.Linear(64, 64))
    with torch.no_grad():
        model[0].weight.view(64, 16, 4)[:, :, :2] = 0  # 2:4
    assert with_kernel(model, torch.device("cpu")) == (model, "dense")


def test_two_of_four_checks_every_group_of_four_inputs():
    weight = torch.tensor([[1.0, 0, 2, 0, 0, 0, 3, 4]])
    assert two_of_four(weight)
    assert not two_of_four(torch.tensor([[1.0, 1, 1, 0, 0, 0, 0, 0]]))
    assert not two_of_four(torch.ones(2, 6))  # inputs not a multiple of 4


def test_the_record_columns_carry_both_batches_and_the_machine():
    result = Latency(batch_sizes=(1, 64), pruned_ms={1: 0.5, 64: 2.0}, dense_ms={1: 0.5, 64: 4.0}, threads=1,
                     device="cpu", device_name="AMD EPYC", torch_version="2.15.0", kernel="dense",
                     repetitions=30)
    assert latency_columns(result) == {
        "latency_ms_b1": 0.5, "latency_ms_b64": 2.0, "dense_latency_ms_b1": 0.5, "dense_latency_ms_b64": 4.0,
        "measured_speedup_b1": 1.0, "measured_speedup_b64": 2.0, "latency_threads": 1,
        "latency_device": "AMD EPYC (cpu)", "latency_kernel": "dense"}
