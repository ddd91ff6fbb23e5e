"""The tensor-resident CIFAR-10 and MNIST pipeline against protocol 1's torchvision pipeline,
on synthetic data written in the real on-disk layouts."""

import pytest
import torch

from evaluator.datasets import get_dataset
from evaluator.datasets.loaders import ResidentBatches, make_loader
from evaluator.runner import calibration_batch
from tests.evaluator import torchvision_reference as reference
from tests.evaluator.layouts import write_cifar10, write_mnist

BATCH = 32


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, per_batch=40, test=50)  # 200 official training images: 180 train, 20 val
    return root


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist(root, train=150, test=40)
    return root


def epochs(loader, count):
    return [[(x.clone(), y.clone()) for x, y in loader] for _ in range(count)]


def assert_same_batches(new, old):
    assert len(new) == len(old)
    for (x, y), (x_ref, y_ref) in zip(new, old):
        assert x.dtype == x_ref.dtype == torch.float32
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def documented_draws(seed, n, count):
    """Each epoch's order, crop offsets and flips, written out from evaluator/datasets/draws.py."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        epoch_seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator))
        order = torch.randperm(n, generator=generator)
        torch.randperm(n, generator=generator)
        augment = torch.Generator().manual_seed(epoch_seed)
        yield order, torch.randint(0, 9, (n, 2), generator=augment), torch.rand(n, generator=augment) < 0.5


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_cifar_splits_hold_torchvisions_images_and_labels_in_its_order(cifar_root, split):
    new = getattr(get_dataset("cifar10", cifar_root), split)
    old = getattr(reference.cifar10_splits(cifar_root), split)
    assert new.indices == old.indices
    images = torch.from_numpy(old.base.data[old.indices]).permute(0, 3, 1, 2)  # HWC -> CHW
    assert torch.equal(new.images, images)
    assert new.labels.tolist() == [old.base.targets[i] for i in old.indices]


def test_mnist_splits_hold_torchvisions_images_and_labels_in_its_order(mnist_root):
    new, old = get_dataset("mnist", mnist_root), reference.mnist_splits(mnist_root)
    for split in ("train", "val", "test"):
        a, b = getattr(new, split), getattr(old, split)
        assert torch.equal(a.images[:, 0], b.base.data[b.indices])
        assert torch.equal(a.labels, b.base.targets[b.indices])


def test_cifar_validation_and_test_batches_are_protocol_1s(cifar_root):
    new, old = get_dataset("cifar10", cifar_root), reference.cifar10_splits(cifar_root)
    for split in ("val", "test"):
        assert_same_batches(list(make_loader(getattr(new, split), 256)),
                            list(reference.loader(getattr(old, split), 256)))


def test_mnist_training_batches_are_protocol_1s_for_the_same_seed(mnist_root):
    new, old = get_dataset("mnist", mnist_root), reference.mnist_splits(mnist_root)
    for seed in (0, 3):
        assert_same_batches(
            sum(epochs(make_loader(new.train, BATCH, torch.Generator().manual_seed(seed)), 3), []),
            sum(epochs(reference.loader(old.train, BATCH, torch.Generator().manual_seed(seed)), 3), []))


def test_cifar_training_batches_are_torchvisions_transforms_with_the_documented_draws(cifar_root):
    new, old = get_dataset("cifar10", cifar_root).train, reference.cifar10_splits(cifar_root).train
    batches = epochs(make_loader(new, BATCH, torch.Generator().manual_seed(7)), 2)
    for epoch, (order, shifts, flips) in zip(batches, documented_draws(7, len(new), 2)):
        expected = [(torch.stack([reference.crop_flip(old, int(order[k]), *shifts[k].tolist(), bool(flips[k]))
                                  for k in range(start, min(start + BATCH, len(order)))]),
                     torch.tensor([old.base.targets[old.indices[int(k)]] for k in order[start:start + BATCH]]))
                    for start in range(0, len(order), BATCH)]
        assert_same_batches(epoch, expected)


def test_cifar_training_epochs_follow_protocol_1s_order(cifar_root):
    new = get_dataset("cifar10", cifar_root).train
    positions = torch.utils.data.TensorDataset(torch.arange(len(new)), torch.arange(len(new)))
    old = epochs(reference.loader(positions, BATCH, torch.Generator().manual_seed(5)), 3)
    new_order = [order for order, _, _ in documented_draws(5, len(new), 3)]
    assert all(torch.equal(torch.cat([b[0] for b in epoch]), order) for epoch, order in zip(old, new_order))
    labels = [torch.cat([y for _, y in epoch]) for epoch in epochs(make_loader(new, BATCH, torch.Generator().manual_seed(5)), 3)]
    assert all(torch.equal(y, new.labels[order]) for y, order in zip(labels, new_order))


def test_a_cifar_calibration_batch_is_protocol_1s(cifar_root):
    new, old = get_dataset("cifar10", cifar_root).train, reference.cifar10_splits(cifar_root).train
    for seed in (0, 2):
        x, y = calibration_batch(new, 16, seed)
        x_ref, y_ref = calibration_batch(old, 16, seed)
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_a_shared_split_gives_each_run_the_batches_of_its_own_seed(cifar_root):
    shared = get_dataset("cifar10", cifar_root).train
    pixels = shared.images.clone()
    first = epochs(make_loader(shared, BATCH, torch.Generator().manual_seed(0)), 2)
    for x, y in make_loader(shared, BATCH, torch.Generator().manual_seed(1)):  # another run
        x.zero_(), y.zero_()  # whatever a run does to its batches stays in that run
    again = epochs(make_loader(shared, BATCH, torch.Generator().manual_seed(0)), 2)
    fresh = epochs(make_loader(get_dataset("cifar10", cifar_root).train, BATCH,
                               torch.Generator().manual_seed(0)), 2)
    assert_same_batches(sum(again, []), sum(first, []))
    assert_same_batches(sum(fresh, []), sum(first, []))
    assert torch.equal(shared.images, pixels)
    assert shared.on("cpu") is shared.on("cpu")  # loaded once, then only read


def test_different_seeds_give_different_orders_and_augmentations(cifar_root):
    train = get_dataset("cifar10", cifar_root).train
    a, b = (next(iter(make_loader(train, BATCH, torch.Generator().manual_seed(s)))) for s in (0, 1))
    assert not torch.equal(a[0], b[0])


def test_an_augmented_split_is_never_batched_without_a_seeded_generator(cifar_root):
    with pytest.raises(ValueError, match="seeded generator"):
        ResidentBatches(get_dataset("cifar10", cifar_root).train, BATCH, None)
