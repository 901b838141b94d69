"""Mixing of point clouds ``(B, N, 3 + F)`` float: ``point_mixup`` (PointMixup), ``point_cutmix`` (PointCutMix).

Both mix each sample with a partner of the same batch, per sample by default (see
:class:`~augbench.mix.base.Mixer`); the clouds of a batch share ``N``. Point order carries no
meaning, so PointMixup first matches the partner's points to the sample's (an approximate
optimal assignment) and PointCutMix exchanges neighbourhoods, never array positions.
"""

from __future__ import annotations

import torch
from torch import Tensor

import augbench.functional.points as F
from augbench.distributions import beta, normal, rand
from augbench.errors import InputValueError
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["PointMixup", "PointCutMix"]


class _PointMixer(Mixer):
    """The shared part: the modality and ``alpha``."""

    modality = "points"

    def __init__(self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)


@MIXERS.register("point_mixup")
class PointMixup(_PointMixer):
    """PointMixup (Chen et al. 2020): interpolate each point towards its match in the partner cloud.

    ``x~_i = lam * x_i + (1 - lam) * y_a(i)`` with ``a`` a one-to-one assignment of the partner's
    points of low total squared distance and ``lam ~ Beta(alpha, alpha)``; the target is
    ``lam * y + (1 - lam) * y[index]``. Features (values after ``x, y, z``) are interpolated
    with the same assignment.

    Simplification: the paper interpolates along the *optimal* (earth mover's) assignment; here
    it is the batched approximation of :func:`augbench.functional.points.approximate_assignment`
    (sliced matchings along ``projections`` random directions, then pairwise swaps), about 1.4
    times the optimal squared distance with 16 directions, 1.2 times with 32 (see there). The
    end points are exact: ``lam = 1`` gives the sample, ``lam = 0`` the partner's points (in
    another order).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        projections: random directions of the assignment, >= 1 (cost grows linearly).
        per_sample: one ``lam``, partner and assignment per sample (default); ``False``: one
            ``lam`` and a permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        clouds ``(B, N, 3 + F)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs``
        of the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)``.

    Reference:
        Chen et al., "PointMixup: Augmentation for Point Clouds", ECCV 2020.

    >>> mixer = PointMixup(num_classes=3)
    >>> result = mixer(torch.randn(4, 64, 3), torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(0))
    >>> result.inputs.shape, result.targets.sum(1).tolist()
    (torch.Size([4, 64, 3]), [1.0, 1.0, 1.0, 1.0])
    """

    def __init__(
        self, num_classes: int, alpha: float = 1.0, projections: int = 16, *, per_sample: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(num_classes, alpha, per_sample=per_sample, label_smoothing=label_smoothing)
        if isinstance(projections, bool) or not isinstance(projections, int) or projections < 1:
            raise InputValueError(f"{type(self).__name__}: projections={projections!r} must be a whole number >= 1, e.g. 16")
        self.projections = projections

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        n = partners.shape[0]
        return {
            "lam": beta(self.alpha, self.alpha, (n,), generator),
            "directions": normal((n, self.projections, 3), generator),
        }

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        assignment = F.approximate_assignment(images[..., :3], partner_images[..., :3], params.directions)
        lam = params.lam.to(torch.float32)
        return F.interpolate_assigned(images, partner_images, assignment, lam), lam


@MIXERS.register("point_cutmix")
class PointCutMix(_PointMixer):
    """PointCutMix (Zhang et al. 2021), k-nearest-neighbour variant: exchange a local patch.

    ``lam ~ Beta(alpha, alpha)`` sets ``k = round((1 - lam) N)``; a centre is one of the
    sample's points, chosen uniformly; the ``k`` points of the sample nearest to it are replaced
    by the partner's ``k`` points nearest to the same location (:func:`augbench.functional.points.replace_nearest`).
    The label weight is the share of the sample's points kept, ``1 - k / N`` exactly (the drawn
    ``lam`` is not kept).

    Simplification: the paper (PointCutMix-K) first matches the two clouds with the optimal
    assignment and replaces the centre's neighbours by their matched partner points; here the
    partner's own nearest neighbours of the centre are taken, which needs no assignment (clouds
    normalised to the unit sphere, as :mod:`augbench.data.modelnet` loads them, share a frame).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        per_sample: one ``lam``, centre and partner per sample (default); ``False``: one draw
            and a permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        clouds ``(B, N, 3 + F)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs``
        of the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)``
        (multiples of ``1 / N``).

    Reference:
        Zhang et al., "PointCutMix: Regularization Strategy for Point Cloud Classification",
        Neurocomputing 2022 (arXiv 2101.01461, 2021).

    >>> mixer = PointCutMix(num_classes=2)
    >>> result = mixer(torch.randn(4, 50, 3), torch.tensor([0, 1, 1, 0]), generator=torch.Generator().manual_seed(0))
    >>> kept = result.lam * 50  # points kept of 50: whole numbers
    >>> bool((kept - kept.round()).abs().max() < 1e-4)
    True
    """

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        n = partners.shape[0]
        return {"lam": beta(self.alpha, self.alpha, (n,), generator), "centre": rand((n,), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        size = images.shape[1]
        count = torch.round((1.0 - params.lam.to(torch.float32)) * size).long().clamp_(0, size)
        centre = (params.centre.to(torch.float32) * size).long().clamp_(max=size - 1)
        centres = images[..., :3].gather(1, centre.view(-1, 1, 1).expand(-1, 1, 3)).squeeze(1)
        mixed = F.replace_nearest(images, partner_images, centres, count)
        return mixed, 1.0 - count.to(torch.float32) / size
