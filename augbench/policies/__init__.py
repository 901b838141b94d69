"""Augmentation policies and policy strings.

The classes ``RandAugment``, ``TrivialAugmentWide``, ``AutoAugment`` and ``AugMix`` follow
torchvision's conventions; the policy strings of timm's families (``rand-...``, ``augmix-...``,
``original``, ``originalr``, ``v0``, ``v0r``, ``3a``) build ``TimmRandAugment``,
``TimmAugMix`` and ``TimmAutoAugment``, which follow timm's.
"""

from augbench.policies import engine_elements as _engine_elements  # noqa: F401  (registers rrc, crop, ...)
from augbench.policies.augmix import AugMix, jsd_loss
from augbench.policies.autoaugment import AUTOAUGMENT_POLICIES, AutoAugment
from augbench.policies.modal import ModalityRandAugment, list_ops, register_op
from augbench.policies.ops import GEOMETRIC_OPS, OPS, SPACES
from augbench.policies.randaugment import RandAugment, TrivialAugmentWide
from augbench.policies.strings import PipelineSpec, describe, parse, policy
from augbench.policies.timm_policies import TimmAugMix, TimmAutoAugment, TimmRandAugment

__all__ = [
    "AUTOAUGMENT_POLICIES",
    "AugMix",
    "AutoAugment",
    "GEOMETRIC_OPS",
    "ModalityRandAugment",
    "OPS",
    "PipelineSpec",
    "RandAugment",
    "SPACES",
    "TimmAugMix",
    "TimmAutoAugment",
    "TimmRandAugment",
    "TrivialAugmentWide",
    "describe",
    "jsd_loss",
    "list_ops",
    "parse",
    "policy",
    "register_op",
]
