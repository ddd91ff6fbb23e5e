"""Training and whole runs on tensor-resident data (learnable synthetic CIFAR-10 and MNIST in the
real layouts): a worker's runs share one loaded dataset, and an MNIST run records the numbers it
records on torchvision's data (protocol 1's images and transforms; that the batch order is
protocol 1's is tested against torch's DataLoader in test_resident.py)."""

import dataclasses

import torch

from evaluator.benchmarks import FinetuneProtocol, get_benchmark
from evaluator.columns import COLUMNS, MEASURED_LATENCY_COLUMNS
from evaluator.datasets import get_dataset
from evaluator.finetune import train
from evaluator.models import get_model
from evaluator.pruning import GlobalMagWeight, Mask
from evaluator.runner import Context, score_run
from evaluator.sandbox import StrategySource
from tests.evaluator import torchvision_reference as reference
from tests.evaluator.layouts import write_cifar10, write_mnist

SOURCE = StrategySource(baseline="global-mag-weight")


def context(name, splits, **finetune):
    benchmark = get_benchmark(name)
    benchmark = dataclasses.replace(benchmark, finetune=dataclasses.replace(benchmark.finetune, **finetune))
    torch.manual_seed(0)
    state = get_model(benchmark.model, num_classes=10).state_dict()
    return Context(benchmark, splits, state, "0" * 64, torch.device("cpu"))


def magnitude_mask(model, compression):
    """One global magnitude threshold over the Conv and Linear weights."""
    keep = GlobalMagWeight(model, compression=compression).fraction
    weights = {n: p.detach() for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1}
    threshold = torch.cat([w.abs().flatten() for w in weights.values()]).quantile(1 - keep)
    return Mask({n: (w.abs() > threshold).float().numpy() for n, w in weights.items()})


def test_runs_sharing_one_loaded_cifar10_train_as_on_freshly_loaded_data(tmp_path):
    write_cifar10(tmp_path, per_batch=24, test=10)
    protocol = FinetuneProtocol(optimizer="sgd", lr=0.05, epochs=2, batch_size=32)

    def losses(splits, seed):
        torch.manual_seed(0)
        model = get_model("cifar_resnet20")
        return [row["train_loss"] for row in train(model, splits.train, splits.val, protocol,
                                                   device="cpu", seed=seed).history]

    shared = get_dataset("cifar10", tmp_path)
    first, other_run, again = losses(shared, 0), losses(shared, 1), losses(shared, 0)
    assert again == first == losses(get_dataset("cifar10", tmp_path), 0)
    assert other_run != first  # the seed does choose the order and the augmentation


def test_an_mnist_run_records_what_it_recorded_on_protocol_1s_torchvision_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBOARD_LOADER_WORKERS", "0")
    write_mnist(tmp_path, train=600, test=100)
    new = context("mnist-lenet", get_dataset("mnist", tmp_path), epochs=3, batch_size=32, lr=0.05)
    old = context("mnist-lenet", reference.mnist_splits(tmp_path), epochs=3, batch_size=32, lr=0.05)
    mask = magnitude_mask(new.fresh_model(), 4)
    a, b = score_run(new, SOURCE, 4, 2, mask), score_run(old, SOURCE, 4, 2, mask)
    assert a["best_epoch"] > 0  # finetuning was kept, so the batches decided the numbers
    same = [c for c in COLUMNS if not c.startswith("time_") and c not in MEASURED_LATENCY_COLUMNS]
    assert {c: a[c] for c in same} == {c: b[c] for c in same}
    assert a["precision"] == "fp32" and a["channels_last"] is False
