"""Training recipes (one file per method card) and their registry."""

from augbench.methods.augmix_jsd import AugMixJSD
from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.methods.mix_supervised import MixSupervised, soft_cross_entropy
from augbench.methods.supervised import Supervised

__all__ = [
    "METHODS",
    "AugMixJSD",
    "Batch",
    "Method",
    "MixSupervised",
    "StepOutput",
    "Supervised",
    "TrainContext",
    "soft_cross_entropy",
]
