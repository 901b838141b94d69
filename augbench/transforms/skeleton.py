"""Skeleton transforms: per-sample random ops on ``(B, T, J, 3)`` joint coordinates.

Every transform draws one parameter set per sequence in ``make_params`` and applies it with a
pure batched kernel of :mod:`augbench.functional.skeleton`; ``p``, ``same_on_batch``, keyed draws
and replay come from :class:`~augbench.transforms.base.Transform`. The ops that a policy can
use register a level -> transform factory (level 0 = the identity) for
``ModalityRandAugment("skeleton")``; ``augbench list ops --modality skeleton`` lists them.

Geometric ops act about the origin: the bundled loaders centre each sequence on the hip centre
of its first frame. Units are the data's (metres for the bundled loaders).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

import augbench.functional.skeleton as F
from augbench.distributions import AnyGenerator, normal, rand
from augbench.errors import InputValueError
from augbench.policies.modal import register_op
from augbench.random import Params, randint, uniform
from augbench.transforms._args import check_range
from augbench.transforms.base import APPLY, Transform

__all__ = [
    "SkeletonRotate",
    "SkeletonShear",
    "SkeletonScale",
    "SkeletonJitter",
    "SkeletonCropResample",
    "SkeletonJointMask",
    "SkeletonLimbMask",
    "SkeletonFlip",
]

SampleShape = tuple[int, ...]
"""``(T, J, 3)``, the shape of one sequence."""
Parts = Union[str, Sequence[Sequence[int]]]
Permutation = Union[str, Sequence[int]]


def _number(who: str, name: str, value: object, low: float = 0.0, high: float = math.inf) -> float:
    """``value`` as a float in ``[low, high]``, or one line naming the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputValueError(f"{who}: {name}={value!r} must be a number in [{low:g}, {high:g}]")
    return float(value)


class _LinearSkeletonTransform(Transform):
    """The transforms that map every joint of a sample by one ``3 x 3`` matrix (rotation, shear,
    scaling): two of them in a row in a ``Compose`` run as one matrix product
    (:meth:`_apply_fused`), equal to the two passes up to float rounding."""

    modality = "skeleton"

    def matrices(self, params: Params, dtype: torch.dtype) -> Tensor:
        """``(B, 3, 3)`` matrices of a checked draw in ``dtype`` (the ``apply`` mask left out)."""
        raise NotImplementedError

    def _applied_matrices(self, params: Params, dtype: torch.dtype) -> Tensor:
        """:meth:`matrices` with the identity for the samples that ``apply`` leaves out."""
        matrix = self.matrices(params, dtype)
        if APPLY not in params:
            return matrix
        identity = torch.eye(3, dtype=dtype, device=matrix.device)
        return torch.where(params[APPLY].view(-1, 1, 1), matrix, identity)

    def _apply_fused(
        self, images: Tensor, params: Params, following: Transform, following_params: Params, target: str
    ) -> Tensor | None:
        if not isinstance(following, _LinearSkeletonTransform):
            return None
        dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        first = self._applied_matrices(self._checked_params(images, params), dtype)
        second = following._applied_matrices(following._checked_params(images, following_params), dtype)
        return F.linear_transform(images, second @ first)


class SkeletonRotate(_LinearSkeletonTransform):
    """Rotate each sequence about the origin by random angles about the x, y and z axes.

    Angles are drawn per sample and axis uniformly in ``[-d, d]`` degrees (``d`` per axis) and
    applied as ``Rz @ Ry @ Rx`` (:func:`~augbench.functional.skeleton.rotate`); bone lengths
    and every distance between joints are kept.

    Args:
        degrees: largest angle in degrees, one number for all axes or ``(dx, dy, dz)``, each
            in [0, 180].
        p: per-sample probability of rotating.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    def __init__(self, degrees: float | Sequence[float] = 15.0, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        values = [degrees] * 3 if isinstance(degrees, (int, float)) and not isinstance(degrees, bool) else degrees
        if not isinstance(values, Sequence) or len(values) != 3:
            raise InputValueError(f"{who}: degrees={degrees!r} must be a number or (dx, dy, dz)")
        self.degrees = tuple(_number(who, "degrees", value, 0.0, 180.0) for value in values)

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        unit = 2.0 * rand((n, 3), generator) - 1.0
        return {"angles": unit * torch.tensor(self.degrees, device=unit.device)}

    def matrices(self, params: Params, dtype: torch.dtype) -> Tensor:
        return F.rotation_matrix(torch.deg2rad(params.angles.to(dtype)))

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.rotate(joints, params.angles)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}"


class SkeletonShear(_LinearSkeletonTransform):
    """Shear each sequence with its own matrix: ones on the diagonal, off-diagonal factors
    uniform in ``[-s, s]`` (the shear of the skeleton-contrastive papers, ``s = 0.5`` in AimCLR;
    :func:`~augbench.functional.skeleton.shear_matrix`).

    Args:
        shear: ``s`` in [0, 1].
        p: per-sample probability of shearing.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    def __init__(self, shear: float = 0.5, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.shear = _number(type(self).__name__, "shear", shear, 0.0, 1.0)

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"factors": uniform(-self.shear, self.shear, (n, 6), generator)}

    def matrices(self, params: Params, dtype: torch.dtype) -> Tensor:
        return F.shear_matrix(params.factors.to(dtype))

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.shear(joints, params.factors)

    def extra_repr(self) -> str:
        return f"shear={self.shear}"


class SkeletonScale(_LinearSkeletonTransform):
    """Scale each sequence about the origin by a factor drawn uniformly in ``scale``.

    Args:
        scale: ``(min, max)`` factor range, ``0 < min <= max``.
        per_axis: draw one factor per axis (an anisotropic scaling) instead of one per sample.
        p: per-sample probability of scaling.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    def __init__(
        self, scale: tuple[float, float] = (0.9, 1.1), per_axis: bool = False, p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.scale = check_range(who, "scale", scale, low=1e-6)
        if not isinstance(per_axis, bool):
            raise InputValueError(f"{who}: per_axis={per_axis!r} must be True or False")
        self.per_axis = per_axis

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        factors = uniform(*self.scale, (n, 3) if self.per_axis else (n,), generator)
        return {"factors": factors}

    def matrices(self, params: Params, dtype: torch.dtype) -> Tensor:
        factors = params.factors.to(dtype)
        return torch.diag_embed(factors if factors.ndim == 2 else factors[:, None].expand(-1, 3))

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.scale(joints, params.factors)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, per_axis={self.per_axis}"


class SkeletonJitter(Transform):
    """Add Gaussian noise of standard deviation ``sigma`` to every joint of every frame.

    Args:
        sigma: standard deviation in the data's units (metres for the bundled loaders: the
            default 0.01 is 1 cm), >= 0.
        p: per-sample probability of jittering.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    modality = "skeleton"

    def __init__(self, sigma: float = 0.01, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.sigma = _number(type(self).__name__, "sigma", sigma)

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"noise": normal((n, *shape), generator)}

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.jitter(joints, params.noise, self.sigma)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class SkeletonCropResample(Transform):
    """Crop a random window of each sequence and resample it back to ``T`` frames (linear
    interpolation, :func:`~augbench.functional.skeleton.crop_resample`): a random temporal crop
    that also changes the speed.

    The window keeps a fraction ``size ~ U(ratio)`` of the sequence's duration and starts
    uniformly in ``[0, 1 - size]``.

    Args:
        ratio: ``(min, max)`` kept fraction of the duration, within (0, 1].
        p: per-sample probability of cropping.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype (``T`` kept).
    """

    modality = "skeleton"

    def __init__(self, ratio: tuple[float, float] = (0.5, 1.0), p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.ratio = check_range(type(self).__name__, "ratio", ratio, low=1e-3, high=1.0)

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        size = uniform(*self.ratio, n, generator)
        return {"start": rand((n,), generator) * (1.0 - size), "size": size}

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.crop_resample(joints, params.start, params.size)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}"


class SkeletonJointMask(Transform):
    """Zero a random subset of joints of each sequence, in every frame.

    Each sample draws a count ``k`` uniformly in ``num_joints`` (inclusive) and zeroes ``k``
    joints drawn without replacement (the ``k`` smallest of ``J`` uniform numbers).

    Args:
        num_joints: ``(min, max)`` joints to zero, whole numbers with ``0 <= min <= max``
            (``max`` is capped at the number of joints).
        p: per-sample probability of masking.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    modality = "skeleton"

    def __init__(self, num_joints: tuple[int, int] = (1, 4), p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        valid = (
            isinstance(num_joints, Sequence) and len(num_joints) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in num_joints)
            and 0 <= num_joints[0] <= num_joints[1]
        )
        if not valid:
            raise InputValueError(f"{who}: num_joints={num_joints!r} must be (min, max) whole numbers with 0 <= min <= max")
        self.num_joints = (int(num_joints[0]), int(num_joints[1]))

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        joints = shape[1]
        low, high = min(self.num_joints[0], joints), min(self.num_joints[1], joints)
        count = low + randint(torch.full((n,), high - low + 1), generator)
        rank = rand((n, joints), generator).argsort(1).argsort(1)  # a random permutation of 0..J-1
        return {"mask": rank < count[:, None]}

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.mask_joints(joints, params.mask)

    def extra_repr(self) -> str:
        return f"num_joints={self.num_joints}"


class SkeletonLimbMask(Transform):
    """Zero one random body part (or ``num_parts`` distinct ones) of each sequence, in every frame.

    Args:
        parts: a layout name (:data:`~augbench.functional.skeleton.LAYOUTS`: ``"msr_action3d"``,
            ``"kinect_v1"``; its five parts trunk, left and right arm, left and right leg), or
            a list of parts, each a list of joint indices.
        num_parts: parts to zero per sample, between 1 and the number of parts.
        p: per-sample probability of masking.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    modality = "skeleton"

    def __init__(self, parts: Parts = "msr_action3d", num_parts: int = 1, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        if isinstance(parts, str):
            groups = list(F.get_layout(parts).parts.values())
            self.parts: Parts = parts
        else:
            valid = isinstance(parts, Sequence) and len(parts) > 0 and all(
                isinstance(part, Sequence) and len(part) > 0
                and all(isinstance(j, int) and not isinstance(j, bool) and j >= 0 for j in part)
                for part in parts
            )
            if not valid:
                raise InputValueError(f"{who}: parts={parts!r} must be a layout name or a list of non-empty joint index lists")
            groups = [list(part) for part in parts]
            self.parts = [list(part) for part in parts]
        if isinstance(num_parts, bool) or not isinstance(num_parts, int) or not 1 <= num_parts <= len(groups):
            raise InputValueError(f"{who}: num_parts={num_parts!r} must be a whole number in [1, {len(groups)}]")
        self.num_parts = num_parts
        self._groups = groups

    def _membership(self, joints: int) -> Tensor:
        """``(P, J)`` bool: which joints each part holds."""
        highest = max(max(group) for group in self._groups)
        if highest >= joints:
            raise InputValueError(
                f"{type(self).__name__}: parts name joint {highest}, but the sequences have {joints} joints; "
                "pass the parts of this skeleton's layout"
            )
        member = torch.zeros(len(self._groups), joints, dtype=torch.bool)
        for index, group in enumerate(self._groups):
            member[index, group] = True
        return member

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        member = self._membership(shape[1])
        rank = rand((n, len(self._groups)), generator).argsort(1).argsort(1)
        chosen = (rank < self.num_parts).to(torch.float32)
        return {"mask": (chosen @ member.to(chosen.device, torch.float32)) > 0}

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.mask_joints(joints, params.mask)

    def extra_repr(self) -> str:
        return f"parts={self.parts!r}, num_parts={self.num_parts}"


class SkeletonFlip(Transform):
    """Mirror the skeleton left-right with probability ``p``: negate coordinate ``axis`` and swap
    each left joint with its right twin (:func:`~augbench.functional.skeleton.flip`).

    Args:
        permutation: the left-right joint permutation: a layout name (``"msr_action3d"``,
            ``"kinect_v1"``, see :data:`~augbench.functional.skeleton.LAYOUTS`) or the indices
            (joint ``j`` of the output is joint ``permutation[j]``), which must swap joints in
            pairs so that flipping twice is the identity.
        axis: the coordinate to negate: 0 (x, horizontal in the bundled datasets), 1 or 2.
        p: per-sample probability of flipping.

    Shape:
        ``(B, T, J, 3)`` float -> same shape and dtype.
    """

    modality = "skeleton"

    def __init__(self, permutation: Permutation = "msr_action3d", axis: int = 0, p: float = 0.5, *,
                 same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        if isinstance(permutation, str):
            order = list(F.get_layout(permutation).mirror)
            self.permutation: Permutation = permutation
        else:
            order = list(permutation) if isinstance(permutation, Sequence) else []
            if not order or not all(isinstance(j, int) and not isinstance(j, bool) for j in order) or sorted(order) != list(range(len(order))):
                raise InputValueError(f"{who}: permutation={permutation!r} must be a layout name or a permutation of 0..J-1")
            if any(order[order[j]] != j for j in range(len(order))):
                raise InputValueError(
                    f"{who}: permutation={permutation!r} must swap joints in pairs (permutation[permutation[j]] == j)"
                )
            self.permutation = order
        if isinstance(axis, bool) or axis not in (0, 1, 2):
            raise InputValueError(f"{who}: axis={axis!r} must be 0 (x), 1 (y) or 2 (z)")
        self.axis = axis
        self._order = torch.tensor(order, dtype=torch.int64)

    def make_params(self, n: int, shape: SampleShape, generator: AnyGenerator) -> dict[str, Tensor]:
        if shape[1] != len(self._order):
            raise InputValueError(
                f"{type(self).__name__}: the permutation has {len(self._order)} joints, the sequences {shape[1]}; "
                "pass permutation= for this skeleton's layout"
            )
        return {}

    def transform(self, joints: Tensor, params: Params, target: str) -> Tensor:
        return F.flip(joints, self._order, self.axis)

    def extra_repr(self) -> str:
        return f"permutation={self.permutation!r}, axis={self.axis}"


# -- policy ops (level 0 = identity, 1 = the strongest setting in a policy) ---------------------


@register_op("skeleton", "Rotate", "0 -> 30 deg about each axis")
def _rotate_op(level: float) -> Transform:
    return SkeletonRotate(30.0 * level)


@register_op("skeleton", "Shear", "shear factors 0 -> 0.5")
def _shear_op(level: float) -> Transform:
    return SkeletonShear(0.5 * level)


@register_op("skeleton", "Scale", "factor range 1 -> [0.8, 1.2]")
def _scale_op(level: float) -> Transform:
    return SkeletonScale((1.0 - 0.2 * level, 1.0 + 0.2 * level))


@register_op("skeleton", "Jitter", "sigma 0 -> 0.02 (data units, 2 cm)")
def _jitter_op(level: float) -> Transform:
    return SkeletonJitter(0.02 * level)


@register_op("skeleton", "CropResample", "kept duration 1 -> [0.5, 1]")
def _crop_op(level: float) -> Transform:
    return SkeletonCropResample((1.0 - 0.5 * level, 1.0))


@register_op("skeleton", "JointMask", "joints zeroed 0 -> up to 4")
def _joint_mask_op(level: float) -> Transform:
    return SkeletonJointMask((0, round(4 * level)))


@register_op("skeleton", "LimbMask", "probability of zeroing one body part 0 -> 1 (MSR Action3D parts)")
def _limb_mask_op(level: float) -> Transform:
    return SkeletonLimbMask("msr_action3d", p=level)


@register_op("skeleton", "Flip", "left-right flip probability 0 -> 1 (MSR Action3D joints)")
def _flip_op(level: float) -> Transform:
    return SkeletonFlip("msr_action3d", p=level)
