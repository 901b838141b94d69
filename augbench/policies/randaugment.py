"""RandAugment and TrivialAugment Wide with per-sample op choice and magnitude."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from augbench.distributions import AnyGenerator, normal, rand
from augbench.errors import ConfigError
from augbench.policies.ops import apply_op_layers, check_space, op_values
from augbench.policies.strings import Grammar, register_element
from augbench.random import Params
from augbench.transforms._args import check_fill
from augbench.transforms.base import ImageShape, Transform

__all__ = ["RandAugment", "TrivialAugmentWide"]

RANDAUGMENT_OPS = (
    "Identity", "AutoContrast", "Equalize", "Rotate", "Solarize", "Color", "Posterize",
    "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY",
)  # fmt: skip
"""The paper's 14 ops (K = 14), also TrivialAugment's."""


def _draw_ops(n: int, layers: int, num_ops: int, generator: AnyGenerator) -> tuple[Tensor, Tensor]:
    """Uniform op indices ``(n, layers)`` and random signs (+-1) ``(n, layers)``."""
    op = (rand((n, layers), generator) * num_ops).long().clamp_(max=num_ops - 1)
    sign = torch.where(rand((n, layers), generator) < 0.5, -1.0, 1.0)
    return op, sign


class _OpSequence(Transform):
    """Shared application: ``layers`` rounds of one op per sample, grouped by op."""

    blend_skipped = False

    def __init__(self, ops: Sequence[str], space: str, fill: float, *, same_on_batch: bool) -> None:
        super().__init__(same_on_batch=same_on_batch)
        self.space = space
        self._space = check_space(space)
        if isinstance(ops, str) or not ops:
            raise ConfigError(f"{type(self).__name__}: ops={ops!r} must be a non-empty sequence of op names, e.g. ('Rotate',)")
        unknown = [op for op in ops if op not in self._space]
        if unknown:
            raise ConfigError(f"{type(self).__name__}: ops {unknown} are not in space {space!r}; choose from {', '.join(self._space)}")
        self.ops = tuple(ops)
        self.fill = check_fill(type(self).__name__, fill)

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        values = op_values(self.ops, self._space, params.op, params.level, params.sign)
        # N rounds of grouped ops (N is 1-3), not a loop over samples.
        return apply_op_layers(images, self.ops, params.op, values, self.fill, target)


class RandAugment(_OpSequence):
    """RandAugment: each sample gets ``num_ops`` ops drawn uniformly, all at one magnitude.

    Each sample draws its own ops, signs and (with ``magnitude_std > 0``) magnitude noise; a
    batch is processed with one kernel call per op present. Magnitude ``m`` of
    ``num_magnitude_bins`` bins means level ``m / (bins - 1)`` of the space's range, as in
    torchvision (31 bins). This class follows torchvision's conventions; the ``rand-...`` policy
    strings build timm's RandAugment instead (:class:`~augbench.policies.TimmRandAugment`).
    Magnitude 0 is the identity for
    every op (solarize's threshold starts above white, unlike torchvision's 255, which inverts
    white pixels at M=0).

    Args:
        num_ops: ops per sample (N).
        magnitude: shared magnitude bin (M), in [0, num_magnitude_bins - 1].
        num_magnitude_bins: number of magnitude bins.
        magnitude_std: std of Gaussian noise added to the magnitude per sample and op (timm's
            ``mstd``); ``inf`` draws it uniformly from [0, magnitude].
        magnitude_max: upper clip of the noisy magnitude (timm's ``mmax``), default the last bin.
        ops: op names to choose from (default the paper's 14).
        space: ``"standard"`` (torchvision's ranges) or ``"wide"``.
        fill: fill of geometric ops in [0, 1] units.
        same_on_batch: one draw for the whole batch (torchvision's batched behaviour).

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype.

    Reference:
        Cubuk et al., "RandAugment: Practical automated data augmentation with a reduced search
        space", CVPR Workshops 2020.
    """

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: float = 9,
        num_magnitude_bins: int = 31,
        magnitude_std: float = 0.0,
        magnitude_max: float | None = None,
        ops: Sequence[str] = RANDAUGMENT_OPS,
        space: str = "standard",
        fill: float = 0.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(ops, space, fill, same_on_batch=same_on_batch)
        who = type(self).__name__
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ConfigError(f"{who}: num_ops={num_ops!r} must be an int >= 0")
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ConfigError(f"{who}: num_magnitude_bins={num_magnitude_bins!r} must be an int >= 2")
        top = num_magnitude_bins - 1
        self.magnitude_max = float(top if magnitude_max is None else magnitude_max)
        if not 0 <= magnitude <= top or not 0 <= self.magnitude_max <= top:
            raise ConfigError(f"{who}: magnitude={magnitude} and magnitude_max must lie in [0, {top}] for {num_magnitude_bins} bins")
        if not magnitude_std >= 0:  # also refuses NaN
            raise ConfigError(f"{who}: magnitude_std={magnitude_std} must be >= 0 (inf for uniform)")
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self.num_magnitude_bins = num_magnitude_bins
        self.magnitude_std = float(magnitude_std)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        op, sign = _draw_ops(n, self.num_ops, len(self.ops), generator)
        magnitude = torch.full((n, self.num_ops), self.magnitude, device=op.device)
        if math.isinf(self.magnitude_std):
            magnitude = magnitude * rand((n, self.num_ops), generator)
        elif self.magnitude_std > 0:
            magnitude = magnitude + self.magnitude_std * normal((n, self.num_ops), generator)
        level = magnitude.clamp(0.0, self.magnitude_max) / (self.num_magnitude_bins - 1)
        return {"op": op, "level": level, "sign": sign}

    def extra_repr(self) -> str:
        return (
            f"num_ops={self.num_ops}, magnitude={self.magnitude:g}, num_magnitude_bins={self.num_magnitude_bins}, "
            f"magnitude_std={self.magnitude_std:g}, space={self.space!r}"
        )


class TrivialAugmentWide(_OpSequence):
    """TrivialAugment: one op per sample, chosen uniformly, at a uniformly random magnitude bin.

    Args:
        num_magnitude_bins: number of magnitude bins (31); each sample draws one uniformly.
        ops: op names (default RandAugment's 14).
        space: ``"wide"`` (default, TrivialAugment Wide) or ``"standard"``.
        fill: fill of geometric ops in [0, 1] units.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype.

    Reference:
        Müller and Hutter, "TrivialAugment: Tuning-free yet state-of-the-art data
        augmentation", ICCV 2021.
    """

    def __init__(
        self,
        num_magnitude_bins: int = 31,
        ops: Sequence[str] = RANDAUGMENT_OPS,
        space: str = "wide",
        fill: float = 0.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(ops, space, fill, same_on_batch=same_on_batch)
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ConfigError(f"TrivialAugmentWide: num_magnitude_bins={num_magnitude_bins!r} must be an int >= 2")
        self.num_magnitude_bins = num_magnitude_bins

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        op, sign = _draw_ops(n, 1, len(self.ops), generator)
        bins = self.num_magnitude_bins
        level = (rand((n, 1), generator) * bins).floor().clamp_(max=bins - 1) / (bins - 1)
        return {"op": op, "level": level, "sign": sign}

    def extra_repr(self) -> str:
        return f"num_magnitude_bins={self.num_magnitude_bins}, space={self.space!r}"


# Not a timm policy: the string builds augbench's torchvision-convention TrivialAugment Wide.
register_element(Grammar("trivialaugment", lambda spec: TrivialAugmentWide(), example="trivialaugment"))
