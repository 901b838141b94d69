"""Augmentation policies (RandAugment, TrivialAugment, AutoAugment, AugMix) and policy strings."""

from augbench.policies import engine_elements as _engine_elements  # noqa: F401  (registers rrc, crop, ...)
from augbench.policies.augmix import AugMix, jsd_loss
from augbench.policies.autoaugment import AUTOAUGMENT_POLICIES, AutoAugment
from augbench.policies.ops import GEOMETRIC_OPS, OPS, SPACES
from augbench.policies.randaugment import RandAugment, TrivialAugmentWide
from augbench.policies.strings import PipelineSpec, parse, policy

__all__ = [
    "AUTOAUGMENT_POLICIES",
    "AugMix",
    "AutoAugment",
    "GEOMETRIC_OPS",
    "OPS",
    "PipelineSpec",
    "RandAugment",
    "SPACES",
    "TrivialAugmentWide",
    "jsd_loss",
    "parse",
    "policy",
]
