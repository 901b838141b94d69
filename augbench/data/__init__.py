"""Datasets: a registry of loaders returning in-memory uint8 image tensors, plus splits."""

from augbench.data.base import DATASETS, ImageDataset, load_dataset
from augbench.data.splits import stratified_split

from augbench.data import digits as _digits  # noqa: F401  (registers "digits")

__all__ = ["DATASETS", "ImageDataset", "load_dataset", "stratified_split"]
