import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from evaluator.datasets import DatasetNotFound, get_dataset, list_datasets, registry
from evaluator.datasets.mnist1d import generate
from tests.evaluator.layouts import write_cifar10, write_mnist, write_pickle

# Splits sizes of the embedded datasets: (train, val, test).
EMBEDDED = {"digits": (1078, 359, 360), "mnist1d": (3500, 500, 1000)}
SHAPES = {"digits": (1, 8, 8), "mnist1d": (1, 40)}


def stacked(dataset):
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.as_tensor(ys)


def fingerprints(dataset) -> set[bytes]:
    return {x.numpy().tobytes() for x in stacked(dataset)[0]}


def test_it_registers_the_benchmark_datasets():
    assert list_datasets() == ["cifar10", "cifar100", "digits", "imagenet", "mnist", "mnist1d"]


def test_a_dataset_registers_under_its_function_name_or_the_name_given(monkeypatch):
    monkeypatch.setattr(registry, "DATASETS", {})

    @registry.register_dataset
    def toy(root):
        return "toy"

    registry.register_dataset("toy-2")(toy)
    assert registry.list_datasets() == ["toy", "toy-2"]
    assert registry.get_dataset("toy-2") == "toy"
    with pytest.raises(ValueError, match="already registered"):
        registry.register_dataset(toy)


def test_it_lists_known_datasets_for_an_unknown_name():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar11'; known: cifar10, cifar100, "):
        get_dataset("cifar11")


def test_importing_the_package_loads_no_data():
    code = (
        "import sys, evaluator.datasets; "
        "print('mnist1d.data' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_datasets_have_fixed_split_sizes(name):
    splits = get_dataset(name)
    assert (len(splits.train), len(splits.val), len(splits.test)) == EMBEDDED[name]
    assert splits.num_classes == 10 and splits.input_shape == SHAPES[name]


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_samples_are_float_tensors_with_labels_in_range(name):
    splits = get_dataset(name)
    for split in (splits.train, splits.val, splits.test):
        x, y = stacked(split)
        assert x.dtype == torch.float32 and x.shape[1:] == splits.input_shape
        assert y.dtype == torch.int64 and 0 <= y.min() and y.max() < splits.num_classes
        assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_splits_share_no_sample(name):
    splits = get_dataset(name)
    train, val, test = (fingerprints(s) for s in (splits.train, splits.val, splits.test))
    assert len(train) == len(splits.train)  # every sample is distinct, so hashes tell them apart
    assert not (train & val) and not (train & test) and not (val & test)


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_datasets_are_the_same_on_every_call(name):
    first, second = get_dataset(name), get_dataset(name)
    for a, b in zip((first.train, first.val, first.test), (second.train, second.val, second.test)):
        assert all(torch.equal(u, v) for u, v in zip(a.tensors, b.tensors))


def test_digits_pixels_are_scaled_to_the_unit_interval():
    x, _ = stacked(get_dataset("digits").train)
    assert x.min() == 0 and x.max() == 1


def test_mnist1d_generation_leaves_the_global_random_state_alone():
    generate.cache_clear()
    np.random.seed(123)
    expected = np.random.get_state()[1].copy()
    get_dataset("mnist1d")
    assert np.array_equal(np.random.get_state()[1], expected)


# Data that must already be on disk.

MISSING = {
    "cifar10": ("cifar-10-batches-py", "data_batch_1", "test_batch", "batches.meta"),
    "cifar100": ("cifar-100-python", "train", "test", "meta"),
    "mnist": ("MNIST/raw", "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "imagenet": ("imagenet", "train/<wnid>/*.JPEG", "val/<wnid>/*.JPEG"),
}


@pytest.mark.parametrize("name", MISSING)
def test_missing_data_names_the_path_and_the_expected_layout(name, tmp_path):
    with pytest.raises(DatasetNotFound) as error:
        get_dataset(name, tmp_path)
    folder, *layout = MISSING[name]
    message = str(error.value)
    assert str(tmp_path / folder) in message and "Nothing is downloaded" in message
    assert all(part in message for part in layout)
    assert isinstance(error.value, FileNotFoundError)


def test_the_data_root_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBOARD_DATA_ROOT", str(tmp_path))
    with pytest.raises(DatasetNotFound, match=str(tmp_path)):
        get_dataset("cifar10")


def test_an_incomplete_cifar_folder_names_the_missing_files(tmp_path):
    write_cifar10(tmp_path, per_batch=2, test=2)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFound, match=r"\(missing: data_batch_3\)"):
        get_dataset("cifar10", tmp_path)


# Tiny fakes in the real layouts.


def cifar_batch(n, label_key, rng):
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {"data": pixels, label_key: [i % 10 for i in range(n)]}


def test_a_small_cifar10_holds_out_a_tenth_of_train_for_validation(tmp_path):
    write_cifar10(tmp_path, per_batch=4, test=10)
    splits = get_dataset("cifar10", tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (18, 2, 10)
    assert sorted(splits.train.indices + splits.val.indices) == list(range(20))
    x, y = splits.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
    assert torch.equal(splits.val[0][0], splits.val[0][0])  # validation is not augmented


def test_a_small_cifar100_loads_its_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    write_pickle(folder / "train", cifar_batch(30, "fine_labels", rng))
    write_pickle(folder / "test", cifar_batch(5, "fine_labels", rng))
    write_pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    splits = get_dataset("cifar100", tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 3, 5)
    assert splits.num_classes == 100


def test_a_small_mnist_loads_from_idx_files(tmp_path):
    write_mnist(tmp_path, train=30, test=10)
    splits = get_dataset("mnist", tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 3, 10)
    assert splits.val[0][0].shape == (1, 28, 28)


def write_image_folder(folder, classes, per_class):
    for wnid in classes:
        (folder / wnid).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (40, 30), (i * 10, 0, 0)).save(folder / wnid / f"{i}.JPEG")


def test_a_small_imagenet_holds_out_images_of_every_class(tmp_path):
    write_image_folder(tmp_path / "imagenet" / "train", ["n01", "n02"], per_class=20)
    write_image_folder(tmp_path / "imagenet" / "val", ["n01", "n02"], per_class=3)
    splits = get_dataset("imagenet", tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (36, 4, 6)
    assert sorted(splits.val[i][1] for i in range(4)) == [0, 0, 1, 1]
    assert splits.test[0][0].shape == (3, 224, 224)


def test_imagenet_refuses_val_classes_that_differ_from_train(tmp_path):
    write_image_folder(tmp_path / "imagenet" / "train", ["n01", "n02"], per_class=1)
    write_image_folder(tmp_path / "imagenet" / "val", ["n01"], per_class=1)
    with pytest.raises(DatasetNotFound, match="must match"):
        get_dataset("imagenet", tmp_path)
