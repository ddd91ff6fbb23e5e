"""Every dataset a benchmark can name. Importing this package registers them and loads nothing."""

from . import cifar, digits, imagenet, mnist, mnist1d  # noqa: F401
from .registry import (
    DATASETS,
    DatasetNotFound,
    Splits,
    data_root,
    get_dataset,
    list_datasets,
    register_dataset,
)

__all__ = [
    "DATASETS",
    "DatasetNotFound",
    "Splits",
    "data_root",
    "get_dataset",
    "list_datasets",
    "register_dataset",
]
