"""On-disk datasets (ImageNet) decode in worker processes; the count is a setting, not a result."""

import numpy as np
import pytest
import torch
from PIL import Image

from evaluator.datasets import get_dataset
from evaluator.datasets.decoded import loader_workers
from evaluator.datasets.loaders import make_loader


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory):
    root, rng = tmp_path_factory.mktemp("imagenet"), np.random.default_rng(0)
    for split, per_class in (("train", 12), ("val", 2)):
        for wnid in ("n01", "n02", "n03"):
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for i in range(per_class):  # noise, so that every crop of an image differs
                Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(folder / f"{i}.JPEG")
    return root


def batches(root, workers, monkeypatch, seed=0):
    monkeypatch.setenv("PRUNEBOARD_LOADER_WORKERS", str(workers))
    train = get_dataset("imagenet", root).train
    loader = make_loader(train, 8, torch.Generator().manual_seed(seed))
    return [[(x, y) for x, y in loader] for _ in range(2)]


def test_imagenet_training_batches_do_not_depend_on_the_number_of_decode_workers(imagenet_root, monkeypatch):
    in_process, two_workers = batches(imagenet_root, 0, monkeypatch), batches(imagenet_root, 2, monkeypatch)
    for a, b in zip(sum(in_process, []), sum(two_workers, [])):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(in_process[0][0][0], batches(imagenet_root, 0, monkeypatch, seed=1)[0][0][0])


def test_decoding_leaves_the_callers_random_state_alone(imagenet_root, monkeypatch):
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    batches(imagenet_root, 0, monkeypatch)
    assert torch.equal(torch.rand(4), expected)


def test_by_default_a_loader_decodes_with_every_core_shared_among_the_gpu_runs(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.delenv("PRUNEBOARD_LOADER_WORKERS", raising=False)
    monkeypatch.delenv("PRUNEBOARD_GPU_CONCURRENCY", raising=False)
    assert loader_workers() == 16
    monkeypatch.setenv("PRUNEBOARD_GPU_CONCURRENCY", "4")
    assert loader_workers() == 4
    monkeypatch.setenv("PRUNEBOARD_LOADER_WORKERS", "3")
    assert loader_workers() == 3


@pytest.mark.parametrize("name, value", [("PRUNEBOARD_LOADER_WORKERS", "many"),
                                         ("PRUNEBOARD_LOADER_WORKERS", "-1"),
                                         ("PRUNEBOARD_GPU_CONCURRENCY", "0")])
def test_a_malformed_setting_names_itself(monkeypatch, name, value):
    monkeypatch.delenv("PRUNEBOARD_LOADER_WORKERS", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}'"):
        loader_workers()
