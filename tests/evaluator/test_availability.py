"""What a machine can run: cheap probes of weights and data that never load the data."""

import pytest

from evaluator import availability
from evaluator.benchmarks import get_benchmark
from evaluator.datasets import DATASETS


def test_every_registered_dataset_has_a_probe():
    assert set(availability.DATA_PROBES) == set(DATASETS)


def test_an_unknown_dataset_is_reported_missing_never_assumed_present():
    assert "no availability probe for dataset 'cifar11'" in availability.data_problem("cifar11")


def test_cifar_is_present_only_with_every_file_of_its_layout(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    assert availability.data_problem("cifar10", tmp_path).startswith(f"CIFAR-10 not found at {folder}")
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["batches.meta"]:
        (folder / name).write_bytes(b"")
    assert "(missing: test_batch)" in availability.data_problem("cifar10", tmp_path)
    (folder / "test_batch").write_bytes(b"")
    assert availability.data_problem("cifar10", tmp_path) is None


def test_imagenet_needs_class_folders_in_train_and_val(tmp_path):
    (tmp_path / "imagenet" / "train" / "n01440764").mkdir(parents=True)
    assert "ImageNet not found" in availability.data_problem("imagenet", tmp_path)
    (tmp_path / "imagenet" / "val" / "n01440764").mkdir(parents=True)
    assert availability.data_problem("imagenet", tmp_path) is None


def test_the_committed_embedded_weights_verify():
    problems = availability.benchmark_problems(get_benchmark("digits-mlp"))
    assert problems.runnable and problems.weights_sha256 == get_benchmark("digits-mlp").weights_sha256


def test_weights_that_differ_from_the_pinned_ones_are_a_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "digits-mlp.safetensors").write_bytes(b"not the pinned weights")
    problems = availability.benchmark_problems(get_benchmark("digits-mlp"))
    assert not problems.runnable
    assert problems.weights.startswith(f"weights {tmp_path}/digits-mlp.safetensors have SHA-256 ")
    assert "but benchmark 'digits-mlp' pins 5a7f0f0f6e2c" in problems.weights


@pytest.mark.parametrize("name", ["cifar10-resnet20", "mnist-lenet"])
def test_a_standard_benchmark_without_weights_says_so(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(tmp_path))
    problems = availability.benchmark_problems(get_benchmark(name), data_root=tmp_path)
    assert problems.weights.startswith(f"no weights for benchmark {name!r}")
    assert problems.data is not None and not problems.runnable
