"""Datasets: a registry of loaders returning in-memory tensors (images, time series), plus splits."""

from augbench.data.base import DATASETS, Dataset, load_dataset
from augbench.data.splits import stratified_split

from augbench.data import digits as _digits  # noqa: F401  (registers "digits")
from augbench.data import cifar as _cifar  # noqa: F401  (registers "cifar10")
from augbench.data import idx as _idx  # noqa: F401  (registers "mnist", "fashion_mnist")
from augbench.data import image_folder as _image_folder  # noqa: F401  (registers "image_folder")
from augbench.data import ucr_uea as _ucr_uea  # noqa: F401  (registers "gunpoint", "japanese_vowels", ...)

__all__ = ["DATASETS", "Dataset", "load_dataset", "stratified_split"]
