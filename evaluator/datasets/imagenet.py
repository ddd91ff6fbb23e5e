"""ImageNet (ILSVRC-2012) as image folders, already on disk.

    <root>/imagenet/train/<wnid>/*.JPEG   the 1.28M training images, one folder per class
    <root>/imagenet/val/<wnid>/*.JPEG     the 50,000 validation images, sorted into the same
                                          class folders (e.g. by the usual valprep.sh)

Train: the training images less 10 per class (10,000 in all; fewer for a class with under 100
images, 10% of it) held out by numpy ``default_rng(0)``; RandomResizedCrop 224 + flip.
Val: the held-out images. Test: the official validation set, which papers report as "test".
Val and test: resize 256, center-crop 224. Normalised by the usual ImageNet mean/std.
The train folder is scanned once; the train and val subsets share it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .registry import (
    SPLIT_SEED,
    DatasetNotFound,
    Splits,
    TransformedSubset,
    not_found_message,
    register_dataset,
)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VAL_PER_CLASS = 10
LAYOUT = (
    "ImageNet as image folders there: train/<wnid>/*.JPEG and val/<wnid>/*.JPEG "
    "(the validation images sorted into the same class folders as train)"
)


def per_class_holdout(targets, per_class: int, seed: int = SPLIT_SEED):
    """(train, val) indices: ``per_class`` of each class (at most 10% of it), fixed draw, sorted."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    order = np.argsort(targets, kind="stable")
    classes, starts, counts = np.unique(targets[order], return_index=True, return_counts=True)
    val = []
    for start, count in zip(starts, counts):
        members = order[start : start + count]
        val.append(rng.permutation(members)[: min(per_class, count // 10)])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    return np.setdiff1d(np.arange(len(targets)), val_idx), val_idx


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


@register_dataset
def imagenet(root: Path) -> Splits:
    base = root / "imagenet"
    train_classes, val_classes = _class_folders(base / "train"), _class_folders(base / "val")
    if not train_classes or not val_classes:
        raise DatasetNotFound(not_found_message("ImageNet", base, LAYOUT))
    if train_classes != val_classes:
        raise DatasetNotFound(
            not_found_message("ImageNet", base, LAYOUT)
            + f" (train has {len(train_classes)} class folders, val {len(val_classes)}"
            + "; they must match or the labels would not line up)"
        )
    # imported here: torchvision (its ops import torch._dynamo) adds about 2 s to the start of
    # every process that registers the datasets (web, workers, the CLI), used only by this one
    from torchvision import datasets as tvd
    from torchvision import transforms as T

    normalize = [T.ToTensor(), T.Normalize(MEAN, STD)]
    augment = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *normalize])
    plain = T.Compose([T.Resize(256), T.CenterCrop(224), *normalize])
    official_train = tvd.ImageFolder(base / "train")
    official_val = tvd.ImageFolder(base / "val")
    train_idx, val_idx = per_class_holdout(official_train.targets, VAL_PER_CLASS)
    return Splits(
        train=TransformedSubset(official_train, train_idx, augment),
        val=TransformedSubset(official_train, val_idx, plain),
        test=TransformedSubset(official_val, range(len(official_val)), plain),
        num_classes=len(train_classes),
        input_shape=(3, 224, 224),
    )
