"""AutoAugment with the published CIFAR-10, ImageNet and SVHN policies, per-sample."""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.distributions import AnyGenerator, rand
from augbench.errors import ConfigError
from augbench.policies.ops import SPACES, apply_op_layers, op_values
from augbench.policies.strings import Grammar, register_element
from augbench.random import Params
from augbench.transforms._args import check_fill
from augbench.transforms.base import ImageShape, Transform

__all__ = ["AutoAugment", "AUTOAUGMENT_POLICIES"]

SubPolicy = tuple[tuple[str, float, int | None], tuple[str, float, int | None]]


def _policy(text: str) -> tuple[SubPolicy, ...]:
    """Parse ``"Op p m | Op p m"`` lines (``-`` = no magnitude) into sub-policies."""
    parsed = []
    for line in text.strip().splitlines():
        pair = []
        for part in line.split("|"):
            name, probability, magnitude = part.split()
            pair.append((name, float(probability), None if magnitude == "-" else int(magnitude)))
        parsed.append(tuple(pair))
    return tuple(parsed)  # type: ignore[return-value]


# The searched policies of Cubuk et al. (2019), as transcribed by torchvision; magnitude index 0-9.
AUTOAUGMENT_POLICIES: dict[str, tuple[SubPolicy, ...]] = {
    "cifar10": _policy("""
        Invert 0.1 - | Contrast 0.2 6
        Rotate 0.7 2 | TranslateX 0.3 9
        Sharpness 0.8 1 | Sharpness 0.9 3
        ShearY 0.5 8 | TranslateY 0.7 9
        AutoContrast 0.5 - | Equalize 0.9 -
        ShearY 0.2 7 | Posterize 0.3 7
        Color 0.4 3 | Brightness 0.6 7
        Sharpness 0.3 9 | Brightness 0.7 9
        Equalize 0.6 - | Equalize 0.5 -
        Contrast 0.6 7 | Sharpness 0.6 5
        Color 0.7 7 | TranslateX 0.5 8
        Equalize 0.3 - | AutoContrast 0.4 -
        TranslateY 0.4 3 | Sharpness 0.2 6
        Brightness 0.9 6 | Color 0.2 8
        Solarize 0.5 2 | Invert 0.0 -
        Equalize 0.2 - | AutoContrast 0.6 -
        Equalize 0.2 - | Equalize 0.6 -
        Color 0.9 9 | Equalize 0.6 -
        AutoContrast 0.8 - | Solarize 0.2 8
        Brightness 0.1 3 | Color 0.7 0
        Solarize 0.4 5 | AutoContrast 0.9 -
        TranslateY 0.9 9 | TranslateY 0.7 9
        AutoContrast 0.9 - | Solarize 0.8 3
        Equalize 0.8 - | Invert 0.1 -
        TranslateY 0.7 9 | AutoContrast 0.9 -
    """),
    "imagenet": _policy("""
        Posterize 0.4 8 | Rotate 0.6 9
        Solarize 0.6 5 | AutoContrast 0.6 -
        Equalize 0.8 - | Equalize 0.6 -
        Posterize 0.6 7 | Posterize 0.6 6
        Equalize 0.4 - | Solarize 0.2 4
        Equalize 0.4 - | Rotate 0.8 8
        Solarize 0.6 3 | Equalize 0.6 -
        Posterize 0.8 5 | Equalize 1.0 -
        Rotate 0.2 3 | Solarize 0.6 8
        Equalize 0.6 - | Posterize 0.4 6
        Rotate 0.8 8 | Color 0.4 0
        Rotate 0.4 9 | Equalize 0.6 -
        Equalize 0.0 - | Equalize 0.8 -
        Invert 0.6 - | Equalize 1.0 -
        Color 0.6 4 | Contrast 1.0 8
        Rotate 0.8 8 | Color 1.0 2
        Color 0.8 8 | Solarize 0.8 7
        Sharpness 0.4 7 | Invert 0.6 -
        ShearX 0.6 5 | Equalize 1.0 -
        Color 0.4 0 | Equalize 0.6 -
        Equalize 0.4 - | Solarize 0.2 4
        Solarize 0.6 5 | AutoContrast 0.6 -
        Invert 0.6 - | Equalize 1.0 -
        Color 0.6 4 | Contrast 1.0 8
        Equalize 0.8 - | Equalize 0.6 -
    """),
    "svhn": _policy("""
        ShearX 0.9 4 | Invert 0.2 -
        ShearY 0.9 8 | Invert 0.7 -
        Equalize 0.6 - | Solarize 0.6 6
        Invert 0.9 - | Equalize 0.6 -
        Equalize 0.6 - | Rotate 0.9 3
        ShearX 0.9 4 | AutoContrast 0.8 -
        ShearY 0.9 8 | Invert 0.4 -
        ShearY 0.9 5 | Solarize 0.2 6
        Invert 0.9 - | AutoContrast 0.8 -
        Equalize 0.6 - | Rotate 0.9 3
        ShearX 0.9 4 | Solarize 0.3 3
        ShearY 0.8 8 | Invert 0.7 -
        Equalize 0.9 - | TranslateY 0.6 6
        Invert 0.9 - | Equalize 0.6 -
        Contrast 0.3 3 | Rotate 0.8 4
        Invert 0.8 - | TranslateY 0.0 2
        ShearY 0.7 6 | Solarize 0.4 8
        Invert 0.6 - | Rotate 0.8 4
        ShearY 0.3 7 | TranslateX 0.9 3
        ShearX 0.1 6 | Invert 0.6 -
        Solarize 0.7 2 | TranslateY 0.6 7
        ShearY 0.8 4 | Invert 0.8 -
        ShearX 0.7 9 | TranslateY 0.8 3
        ShearY 0.8 5 | AutoContrast 0.7 -
        ShearX 0.7 2 | Invert 0.1 -
    """),
}

_MAGNITUDE_BINS = 10


class AutoAugment(Transform):
    """AutoAugment: each sample picks one sub-policy; each of its two ops fires with its probability.

    Sub-policy choice, op firing and signs are drawn per sample; ops are applied grouped by op
    (one kernel call per op present in each slot). Magnitude index ``m`` (0-9) maps to level
    ``m / 9`` of torchvision's ranges (shear 0.3, translate 45 % of the side, rotate 30 deg,
    enhance factor 1 +- 0.9, posterize 8 -> 4 bits, solarize threshold from above white to 0).
    This class and the ``autoaug-...`` strings follow torchvision; timm's policies are the
    ``original``, ``v0``, ... strings (:class:`~augbench.policies.TimmAutoAugment`).

    Args:
        policy: ``"cifar10"``, ``"imagenet"`` or ``"svhn"``.
        fill: fill of geometric ops in [0, 1] units.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype.

    Reference:
        Cubuk et al., "AutoAugment: Learning augmentation strategies from data", CVPR 2019.
    """

    blend_skipped = False

    def __init__(self, policy: str = "cifar10", fill: float = 0.0, *, same_on_batch: bool = False) -> None:
        super().__init__(same_on_batch=same_on_batch)
        if not isinstance(policy, str) or policy not in AUTOAUGMENT_POLICIES:
            raise ConfigError(f"AutoAugment: unknown policy {policy!r}; choose from {', '.join(AUTOAUGMENT_POLICIES)}")
        self.policy = policy
        self.fill = check_fill("AutoAugment", fill)
        subpolicies = AUTOAUGMENT_POLICIES[policy]
        self._ops = tuple(sorted({name for pair in subpolicies for name, _, _ in pair}))
        index = {name: i for i, name in enumerate(self._ops)}
        # (num_subpolicies, 2) tables of op index, probability and level.
        self._op_table = torch.tensor([[index[name] for name, _, _ in pair] for pair in subpolicies])
        self._probability = torch.tensor([[p for _, p, _ in pair] for pair in subpolicies])
        self._level = torch.tensor([[(m or 0) / (_MAGNITUDE_BINS - 1) for _, _, m in pair] for pair in subpolicies])

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        count = self._op_table.shape[0]
        device = generator.device
        subpolicy = (rand((n,), generator) * count).long().clamp_(max=count - 1)
        fires = rand((n, 2), generator) < self._probability.to(device)[subpolicy]
        sign = torch.where(rand((n, 2), generator) < 0.5, -1.0, 1.0)
        return {"subpolicy": subpolicy, "fires": fires, "sign": sign}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        device = images.device
        op = self._op_table.to(device)[params.subpolicy]  # (B, 2)
        level = self._level.to(device)[params.subpolicy]
        values = op_values(self._ops, SPACES["autoaugment"], op, level, params.sign)
        op_or_none = torch.where(params.fires, op, -1)  # (B, 2): the two slots, in order
        return apply_op_layers(images, self._ops, op_or_none, values, self.fill, target)

    def extra_repr(self) -> str:
        return f"policy={self.policy!r}"


# Not a timm policy: autoaug-cifar10/-imagenet/-svhn build augbench's torchvision-convention AutoAugment.
register_element(
    Grammar("autoaug", lambda spec: AutoAugment(spec.argument), word_argument=tuple(AUTOAUGMENT_POLICIES), example="autoaug-cifar10")
)
