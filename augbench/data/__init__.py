"""Datasets: a registry of loaders returning in-memory tensors (images, time series), plus splits."""

from augbench.data.base import DATASETS, Dataset, load_dataset
from augbench.data.splits import stratified_split

from augbench.data import digits as _digits  # noqa: F401  (registers "digits")
from augbench.data import cifar as _cifar  # noqa: F401  (registers "cifar10")
from augbench.data import idx as _idx  # noqa: F401  (registers "mnist", "fashion_mnist")
from augbench.data import image_folder as _image_folder  # noqa: F401  (registers "image_folder")
from augbench.data import ucr_uea as _ucr_uea  # noqa: F401  (registers "gunpoint", "japanese_vowels", ...)
from augbench.data import modelnet as _modelnet  # noqa: F401  (registers "modelnet10")
from augbench.data import sst2 as _sst2  # noqa: F401  (registers the dataset and the vocabulary "sst2")
from augbench.data import skeletons as _skeletons  # noqa: F401  (registers "msr_action3d", "utkinect")
from augbench.data import movielens as _movielens  # noqa: F401  (registers "movielens_100k")
from augbench.data import fsdd as _fsdd  # noqa: F401  (registers "fsdd", "fsdd_logmel")
from augbench.data import feature_noise as _feature_noise  # noqa: F401  (registers "feature_noise")

__all__ = ["DATASETS", "Dataset", "load_dataset", "stratified_split"]
