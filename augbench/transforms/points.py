"""Point-cloud transforms ``(B, N, 3 + F)`` float, one draw per sample, and their policy ops.

Every transform draws its parameters in :meth:`~augbench.transforms.base.Transform.sample`
(angles, factors, noise, uniform scores) and its ``apply`` runs a batched kernel of
:mod:`augbench.functional.points`, so a draw can be replayed and keyed draws depend on a
sample's key alone. The first 3 values of a point are its coordinates, the others features
(see :mod:`augbench.functional.points`: geometric ops move the coordinates only).

**Up axis.** ModelNet10 as augbench loads it (:mod:`augbench.data.modelnet`) is **z-up**: tables
have their top, with most of their points, at the highest z (skewness of z -1.7, of x and y
~0), and beds, sofas and bathtubs are flattest along z. :class:`PointRotate` turns about z by
default (``axis="y"`` for the y-up HDF5 release used by PointNet's code).

**Policy ops.** Every shape-keeping op is registered for ``ModalityRandAugment("points")`` with
its strength at level 0 -> 1 (``augbench list ops --modality points``); level 0 is the
identity. :class:`PointResample` changes ``N`` and is not a policy op.

References: Qi et al., "PointNet", CVPR 2017 (up-axis rotation, jitter sigma 0.01 clip 0.05);
Qi et al., "PointNet++", NeurIPS 2017 (scaling 0.8-1.25, shift 0.1, point dropout up to
0.875); Wang et al., "Dynamic Graph CNN", TOG 2019 (anisotropic scaling 2/3-3/2, shift 0.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

import augbench.functional.points as F
from augbench.distributions import AnyGenerator, normal, rand
from augbench.errors import InputValueError
from augbench.policies.modal import register_op
from augbench.random import Params, uniform
from augbench.transforms.base import APPLY, Transform

__all__ = [
    "PointRotate",
    "PointRotateSO3",
    "PointScale",
    "PointTranslate",
    "PointJitter",
    "PointDropout",
    "PointResample",
    "PointOcclusion",
]

PointShape = tuple[int, int]
"""``(points, values per point)`` of the clouds in a batch: ``(N, 3 + F)``."""
Range = Union[float, Sequence[float]]
"""A number, or a ``(min, max)`` range drawn uniformly per sample."""

_REGIONS = ("ball", "halfspace")
_OPEN_BELOW_ONE = 1.0 - 2.0**-24  # the largest float32 below 1


# -- argument checks ------------------------------------------------------------------------------


def _number(who: str, name: str, value: object, *, low: float = 0.0, high: float = math.inf) -> float:
    """``value`` as a finite float in ``[low, high]``, else one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise InputValueError(f"{who}: {name}={value!r} must be a finite number in [{low:g}, {high:g}]")
    return float(value)


def _range(who: str, name: str, value: object, *, low: float, high: float, symmetric: bool = False) -> tuple[float, float]:
    """``(min, max)`` within ``[low, high]``; a number ``v`` means ``(-v, v)`` if ``symmetric`` else ``(v, v)``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        pair = (-value, value) if symmetric else (value, value)
        if symmetric and value < 0:
            raise InputValueError(f"{who}: {name}={value!r} must be >= 0 (it means the range (-{name}, {name}))")
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise InputValueError(f"{who}: {name}={value!r} must be a number or (min, max)")
    first, second = (_number(who, name, v, low=low, high=high) for v in pair)
    if first > second:
        raise InputValueError(f"{who}: {name}={value!r} has min > max; pass ({second:g}, {first:g})")
    return first, second


def _choice(who: str, name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InputValueError(f"{who}: {name}={value!r} is unknown; choose from {', '.join(map(repr, choices))}")
    return str(value)


def _gaussian(size: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Standard normal draws of ``size``, one random number per value.

    A ``torch.Generator`` fills them with ``torch.randn`` (as fast as uniform draws); keyed
    draws use the inverse CDF of one keyed uniform each, ``sqrt(2) erfinv(2u - 1)`` with
    ``2u - 1`` kept inside ``(-1, 1)`` (``|z| < 5.5``). Both take half the random numbers of
    :func:`augbench.distributions.normal` (Box-Muller, two per value), which matters for the
    jitter's ``(B, N, 3)`` noise.
    """
    if isinstance(generator, torch.Generator):
        return torch.randn(size, generator=generator, device=generator.device)
    centred = rand(size, generator).mul_(2.0).sub_(1.0).clamp_(-_OPEN_BELOW_ONE, _OPEN_BELOW_ONE)
    return centred.erfinv_().mul_(math.sqrt(2.0))


def _uniform_in(bounds: tuple[float, float], size: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Draws from U[bounds] of ``size``; a degenerate range gives exactly that value (no draw)."""
    low, high = bounds
    if low == high:
        return torch.full(size, low, device=generator.device)
    return uniform(low, high, size, generator)


# -- the base -------------------------------------------------------------------------------------


class _PointTransform(Transform):
    """Shared by the point-cloud transforms: the modality, the params' point count and ``repr``.

    Subclasses implement ``make_params`` and :meth:`transform_points`; ``per_point`` names their
    params with a point axis (``(B, N, ...)``), checked against the batch before applying.
    """

    modality = "points"
    per_point: tuple[str, ...] = ()

    def transform(self, points: Tensor, params: Params, target: str) -> Tensor:
        size = points.shape[1]
        for name in self.per_point:
            if name in params and params[name].shape[1] != size:
                raise InputValueError(
                    f"{type(self).__name__}: params were drawn for clouds of {params[name].shape[1]} points, "
                    f"got {size}; call sample() on this batch"
                )
        return self.transform_points(points, params)

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        """Apply ``params`` to a checked ``(B, N, 3 + F)`` batch (pure; no randomness)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        skip = ("p", "same_on_batch")
        return ", ".join(f"{name}={value!r}" for name, value in self.config().items() if name not in skip)


class _LinearPointTransform(_PointTransform):
    """A transform whose draw is one 3x3 matrix per sample applied to the coordinates.

    Two of them in a row inside a ``Compose`` are applied as one matrix product (the product of
    their matrices, identity for samples with ``apply == False``): one pass over the points.
    """

    def matrix(self, params: Params) -> Tensor:
        """``(B, 3, 3)`` float32 matrices of a draw."""
        raise NotImplementedError

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        return F.linear_transform(points, self.matrix(params))

    def _applied_matrix(self, points: Tensor, params: Params) -> Tensor:
        params = self._checked_params(points, params)
        matrix = self.matrix(params)
        if APPLY not in params:
            return matrix
        identity = torch.eye(3, dtype=matrix.dtype, device=matrix.device)
        return torch.where(params[APPLY].view(-1, 1, 1), matrix, identity)

    def _apply_fused(
        self, points: Tensor, params: Params, following: Transform, following_params: Params, target: str
    ) -> Tensor | None:
        if not isinstance(following, _LinearPointTransform):
            return None
        first = self._applied_matrix(points, params)
        return F.linear_transform(points, following._applied_matrix(points, following_params) @ first)


# -- rigid and affine ops -------------------------------------------------------------------------


class PointRotate(_LinearPointTransform):
    """Rotate each cloud about one coordinate axis by a random angle (PointNet's up-axis rotation).

    The angle is drawn uniformly from ``degrees`` per sample; the rotation is about the origin
    (clouds centred at the origin, as :mod:`augbench.data.modelnet` loads them, turn in place).

    Args:
        degrees: ``(min, max)`` in degrees, or ``d`` for ``(-d, d)``; default 180 (any angle).
        axis: the up axis ``"x"``, ``"y"`` or ``"z"`` (ModelNet10: ``"z"``, see the module docstring).
        p: per-sample probability of rotating.
        same_on_batch: one angle for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype; features unchanged.

    >>> clouds = torch.randn(4, 128, 3, generator=torch.Generator().manual_seed(0))
    >>> PointRotate()(clouds, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([4, 128, 3])
    """

    def __init__(self, degrees: Range = 180.0, axis: str = "z", p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.degrees = _range(who, "degrees", degrees, low=-360.0, high=360.0, symmetric=True)
        self.axis = _choice(who, "axis", axis, tuple(F.AXES))

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"angle": torch.deg2rad(_uniform_in(self.degrees, (n,), generator))}

    def matrix(self, params: Params) -> Tensor:
        return F.axis_rotation_matrix(params.angle.float(), self.axis)


class PointRotateSO3(_LinearPointTransform):
    """Rotate each cloud by a uniformly random 3-D rotation (Haar measure on SO(3)).

    The rotation comes from a uniform unit quaternion (Shoemake 1992, see
    :func:`augbench.functional.points.uniform_quaternion`). ``strength < 1`` keeps each drawn
    rotation's axis and multiplies its angle by ``strength`` (the geodesic from the identity), so
    the policy op can grow from the identity (0) to uniform rotations (1).

    Args:
        strength: in [0, 1]; 1 (default) is uniform over SO(3).
        p: per-sample probability of rotating.
        same_on_batch: one rotation for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype; features unchanged.
    """

    def __init__(self, strength: float = 1.0, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.strength = _number(type(self).__name__, "strength", strength, high=1.0)

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"quaternion": F.uniform_quaternion(rand((n, 3), generator))}

    def matrix(self, params: Params) -> Tensor:
        return F.quaternion_to_matrix(F.shrink_rotation(params.quaternion.float(), self.strength))


class PointScale(_LinearPointTransform):
    """Scale each cloud about the origin by random factors, one per axis (anisotropic) or one for all.

    Factors are uniform in ``scale``: PointNet++ draws one factor in (0.8, 1.25) per cloud
    (``anisotropic=False``), DGCNN one per axis in (2/3, 3/2).

    Args:
        scale: ``(min, max)`` of the factors, > 0.
        anisotropic: one factor per axis (default) or one shared by the three axes.
        p: per-sample probability of scaling.
        same_on_batch: one set of factors for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype; features unchanged.
    """

    def __init__(
        self, scale: Range = (0.8, 1.25), anisotropic: bool = True, p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.scale = _range(who, "scale", scale, low=1e-6, high=1e6)
        if not isinstance(anisotropic, bool):
            raise InputValueError(f"{who}: anisotropic={anisotropic!r} must be True or False")
        self.anisotropic = anisotropic

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        factors = _uniform_in(self.scale, (n, 3 if self.anisotropic else 1), generator)
        return {"factors": factors.expand(n, 3)}

    def matrix(self, params: Params) -> Tensor:
        return F.scale_matrix(params.factors.float())


class PointTranslate(_PointTransform):
    """Shift each cloud by a random offset, uniform in ``shift`` per axis.

    Args:
        shift: ``(min, max)`` offset per axis in the cloud's units, or ``s`` for ``(-s, s)``;
            default 0.2 (DGCNN; PointNet++ uses 0.1), for unit-sphere clouds.
        p: per-sample probability of shifting.
        same_on_batch: one offset for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype; features unchanged.
    """

    def __init__(self, shift: Range = 0.2, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.shift = _range(type(self).__name__, "shift", shift, low=-1e6, high=1e6, symmetric=True)

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"shift": _uniform_in(self.shift, (n, 3), generator)}

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        return F.translate(points, params.shift)


class PointJitter(_PointTransform):
    """Add clipped Gaussian noise to every coordinate (PointNet: sigma 0.01, clip 0.05).

    Each coordinate moves by ``clip(sigma * z, -clip, clip)``, ``z ~ N(0, 1)`` fresh for every
    sample, point and axis (see :func:`augbench.functional.points.jitter`).

    Args:
        sigma: noise standard deviation in the cloud's units, >= 0.
        clip: largest offset per coordinate, >= 0, or ``None`` (no clipping).
        p: per-sample probability of adding noise.
        same_on_batch: one noise draw for every sample.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype; features unchanged.
    """

    per_point = ("noise",)

    def __init__(
        self, sigma: float = 0.01, clip: float | None = 0.05, p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.sigma = _number(who, "sigma", sigma)
        self.clip = None if clip is None else _number(who, "clip", clip)

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"noise": _gaussian((n, shape[0], 3), generator)}

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        return F.jitter(points, params.noise, self.sigma, self.clip)


# -- ops that pick points -------------------------------------------------------------------------


class PointDropout(_PointTransform):
    """Random point dropout (PointNet++): a random share of each cloud's points is replaced by a kept one.

    Each sample draws a dropout ratio ``r ~ U[0, max_ratio]`` and drops each point with
    probability ``r``; dropped points become copies of the first kept point (see
    :func:`augbench.functional.points.dropout`), so ``N`` is kept. At least one point is always
    kept (the one with the highest draw).

    Args:
        max_ratio: the largest dropout ratio, in [0, 1); PointNet++'s default 0.875.
        p: per-sample probability of dropping points.
        same_on_batch: one draw (ratio and dropped positions) for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype.
    """

    per_point = ("dropped",)

    def __init__(self, max_ratio: float = 0.875, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.max_ratio = _number(type(self).__name__, "max_ratio", max_ratio, high=0.999)

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        ratio = self.max_ratio * rand((n,), generator)
        scores = rand((n, shape[0]), generator)
        keep_one = scores.amax(1)
        return {"dropped": scores < torch.minimum(ratio, keep_one)[:, None]}

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        return F.dropout(points, params.dropped)


class PointResample(_PointTransform):
    """Resample each cloud to ``num_points`` points: a random subset, or with replacement.

    Without ``replace``: ``min(num_points, N)`` distinct points chosen uniformly (kept in their
    order), and when ``num_points > N`` the remaining ones drawn with replacement (duplicates).
    With ``replace``: every output point drawn with replacement. Changes ``N``: not usable with
    ``p < 1`` nor as a policy op.

    Args:
        num_points: points per output cloud, >= 1.
        replace: draw every point with replacement.
        same_on_batch: one choice of positions for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> ``(B, num_points, 3 + F)``, same dtype.
    """

    per_point = ("scores",)

    def __init__(self, num_points: int = 1024, replace: bool = False, *, same_on_batch: bool = False) -> None:
        super().__init__(same_on_batch=same_on_batch)
        who = type(self).__name__
        if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 1:
            raise InputValueError(f"{who}: num_points={num_points!r} must be a whole number >= 1")
        if not isinstance(replace, bool):
            raise InputValueError(f"{who}: replace={replace!r} must be True or False")
        self.num_points = num_points
        self.replace = replace

    def output_shape(self, shape: PointShape) -> PointShape:
        return (self.num_points, shape[1])

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        size = shape[0]
        params = {} if self.replace else {"scores": rand((n, size), generator)}
        if self.replace or self.num_points > size:
            params["extra"] = rand((n, self.num_points), generator)
        return params

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        scores = params["scores"] if "scores" in params else None
        extra = params["extra"] if "extra" in params else None
        if extra is None and points.shape[1] < self.num_points:
            raise InputValueError(
                f"{type(self).__name__}: params were drawn for clouds of at least {self.num_points} points, "
                f"got {points.shape[1]}; call sample() on this batch"
            )
        index = F.resample_index(points.shape[1], scores, extra, self.num_points, self.replace)
        return F.gather_points(points, index)


class PointOcclusion(_PointTransform):
    """Remove a random region of each cloud and refill it with copies of kept points (keeps ``N``).

    Each sample removes ``k = round(f N)`` points, ``f ~ U[fraction]`` (at most ``N - 1``):

    * ``region="ball"``: the ``k`` points nearest to a centre chosen uniformly among the cloud's
      points (a local occlusion, as PointCutMix-K's neighbourhoods);
    * ``region="halfspace"``: the ``k`` points farthest along a uniformly random direction, i.e.
      the cloud cut by a random plane placed so that exactly ``k`` points lie beyond it.

    The ``k`` slots are refilled by kept points drawn uniformly with replacement, so the output
    has ``N`` points of which ``k`` duplicate others (simplification of "crop and resample":
    max-pooling models see the kept subset). Kept points keep their positions in the array.

    Args:
        fraction: ``(min, max)`` share of points removed, in [0, 1], or one number.
        region: ``"ball"`` or ``"halfspace"``.
        p: per-sample probability of occluding.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, N, 3 + F)`` float -> same shape and dtype.
    """

    per_point = ("refill",)

    def __init__(
        self, fraction: Range = (0.1, 0.3), region: str = "ball", p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.fraction = _range(who, "fraction", fraction, low=0.0, high=1.0)
        self.region = _choice(who, "region", region, _REGIONS)

    def make_params(self, n: int, shape: PointShape, generator: AnyGenerator) -> dict[str, Tensor]:
        params = {"fraction": _uniform_in(self.fraction, (n,), generator)}
        if self.region == "ball":
            params["centre"] = rand((n,), generator)
        else:
            params["direction"] = normal((n, 3), generator)
        params["refill"] = rand((n, shape[0]), generator)
        return params

    def transform_points(self, points: Tensor, params: Params) -> Tensor:
        size = points.shape[1]
        xyz = points[..., :3].float()
        if self.region == "ball":
            centre = (params.centre * size).long().clamp_(max=size - 1)
            centres = xyz.gather(1, centre.view(-1, 1, 1).expand(-1, 1, 3))
            score = -(xyz - centres).square().sum(-1)
        else:
            score = torch.bmm(xyz, params.direction.float()[:, :, None]).squeeze(-1)
        count = torch.round(params.fraction.float() * size).long().clamp_(max=size - 1)
        return F.drop_and_refill(points, score, count, params.refill)


# -- policy ops -----------------------------------------------------------------------------------

_OP = "points"


@register_op(_OP, "RotateUp", "angle about z 0 -> +-180 deg")
def _rotate_up_op(level: float) -> Transform:
    return PointRotate(degrees=180.0 * level)


@register_op(_OP, "RotateSO3", "share of a uniform 3-D rotation's angle 0 -> 1")
def _rotate_so3_op(level: float) -> Transform:
    return PointRotateSO3(strength=level)


@register_op(_OP, "Scale", "per-axis factor range 1 -> 1/1.5..1.5")
def _scale_op(level: float) -> Transform:
    return PointScale(scale=(1.0 / (1.0 + 0.5 * level), 1.0 + 0.5 * level))


@register_op(_OP, "Translate", "shift per axis 0 -> +-0.2")
def _translate_op(level: float) -> Transform:
    return PointTranslate(shift=0.2 * level)


@register_op(_OP, "Jitter", "noise sigma 0 -> 0.02, clip 5 sigma")
def _jitter_op(level: float) -> Transform:
    return PointJitter(sigma=0.02 * level, clip=0.1 * level)


@register_op(_OP, "Dropout", "largest dropout ratio 0 -> 0.875")
def _dropout_op(level: float) -> Transform:
    return PointDropout(max_ratio=0.875 * level)


@register_op(_OP, "Occlusion", "removed ball 0 -> up to 40 % of the points")
def _occlusion_op(level: float) -> Transform:
    return PointOcclusion(fraction=(0.0, 0.4 * level))
