"""Training recipes (one file per method card) and their registry."""

from augbench.methods.adautomix import AdAutoMix
from augbench.methods.augmix_jsd import AugMixJSD
from augbench.methods.automix import AutoMix
from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.methods.manifold_mixup import ManifoldMixup
from augbench.methods.mix_supervised import MixSupervised, soft_cross_entropy
from augbench.methods.puzzlemix import PuzzleMixSupervised
from augbench.methods.supervised import Supervised
from augbench.methods.transmix import TransMixSupervised

__all__ = [
    "METHODS",
    "AdAutoMix",
    "AugMixJSD",
    "AutoMix",
    "Batch",
    "ManifoldMixup",
    "Method",
    "MixSupervised",
    "PuzzleMixSupervised",
    "StepOutput",
    "Supervised",
    "TrainContext",
    "TransMixSupervised",
    "soft_cross_entropy",
]
