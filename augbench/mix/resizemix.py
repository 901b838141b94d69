"""ResizeMix (Qin et al., 2020): paste a shrunken copy of the whole partner image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

import augbench.functional as F
from augbench.errors import InputValueError
from augbench.functional._resample import (
    filter_taps,
    gather_cols,
    gather_rows,
    interpolation_matrix,
    resample_matmul,
)
from augbench.functional._utils import compute_dtype, restore_dtype
from augbench.mix.base import MIXERS, Mixer
from augbench.random import Params, randint, uniform

__all__ = ["ResizeMix"]

ResizeInterpolation = Literal["nearest", "bilinear"]


def _nearest_index(start: Tensor, size: Tensor, extent: int) -> Tensor:
    """Source index of every output position when ``[0, extent)`` is shrunk into ``[start, start + size)``.

    Output position ``p`` inside the window reads the source pixel containing its centre,
    ``floor((p - start + 1/2) * extent / size)``, in exact integer arithmetic; positions outside
    the window are clamped (they are masked out by the caller). ``(n,)`` int64 -> ``(n, extent)``.
    """
    positions = torch.arange(extent, device=start.device)
    offsets = positions[None, :] - start[:, None]
    index = torch.div((2 * offsets + 1) * extent, 2 * size[:, None], rounding_mode="floor")
    return index.clamp(0, extent - 1)


@MIXERS.register("resizemix")
class ResizeMix(Mixer):
    """Shrink every partner image to a box of scale ``tau`` and paste it; label weight = box area.

    ``tau ~ U(scale)``; the box is ``round(tau * H)`` by ``round(tau * W)`` pixels (at least
    1), placed uniformly at a position where it lies fully inside the image, so it is never
    clipped and the *whole* partner image is resized to exactly the box. The partner's label
    weight is the pasted area fraction, ``1 - lam = box area / (H * W) ~ tau^2``
    (E[tau^2] = 0.243 for the default scale). Simplification relative to the reference
    implementation: the box is placed inside the image instead of around a centre and
    clipped, so ``1 - lam`` tracks ``tau^2`` without clipping bias.

    Args:
        num_classes: number of classes, ``>= 1``.
        scale: range ``(low, high)`` of ``tau``, within (0, 1]; (0.1, 0.8) in the paper. On
            tiny images (8x8) ``tau < 0.3`` pastes 1-2 px, which acts as label noise on the
            benchmark's small-scale harness; (0.3, 0.8) is worth trying there.
        interpolation: ``"nearest"`` (default, as OpenMixup; exact for any dtype) or
            ``"bilinear"`` (two-tap, not antialiased, as ``F.interpolate`` in OpenMixup's
            bilinear option; uint8 is rounded).
        per_sample: one box and partner per sample (default); ``False`` gives one box for the
            batch and a permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), labels ``(B,)`` int64 ->
        ``MixResult`` with ``inputs`` of the same shape and dtype, ``targets``
        ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32, ``index`` ``(B,)`` int64.

    Reference:
        Qin et al., "ResizeMix: Mixing Data with Preserved Object Information and True
        Labels", arXiv:2012.11101, 2020.
    """

    def __init__(
        self,
        num_classes: int,
        scale: Sequence[float] = (0.1, 0.8),
        interpolation: ResizeInterpolation = "nearest",
        *,
        per_sample: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        who = type(self).__name__
        if (
            not isinstance(scale, Sequence)
            or len(scale) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
        ):
            raise InputValueError(f"{who}: scale={scale!r} must be (low, high), e.g. (0.1, 0.8)")
        low, high = float(scale[0]), float(scale[1])
        if low > high:
            raise InputValueError(f"{who}: scale={scale!r} has low > high; pass ({high}, {low})")
        if not 0.0 < low <= high <= 1.0:
            raise InputValueError(f"{who}: scale={scale!r} must lie within (0, 1], e.g. (0.1, 0.8)")
        if interpolation not in ("nearest", "bilinear"):
            raise InputValueError(f"{who}: interpolation={interpolation!r} is unknown; use 'nearest' or 'bilinear'")
        self.scale = (low, high)
        self.interpolation = interpolation

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        tau = uniform(*self.scale, partners.shape[0], generator)
        box_height = torch.round(tau * height).long().clamp(1, height)
        box_width = torch.round(tau * width).long().clamp(1, width)
        return {
            "top": randint(height - box_height + 1, generator),
            "left": randint(width - box_width + 1, generator),
            "height": box_height,
            "width": box_width,
        }

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        height, width = images.shape[-2:]
        if self.interpolation == "nearest":
            rows = _nearest_index(params.top, params.height, height)
            cols = _nearest_index(params.left, params.width, width)
            pasted = gather_cols(gather_rows(partner_images, rows), cols)
        else:
            pasted = self._bilinear(partner_images, params)
        mask = F.box_mask(images, params.top, params.left, params.height, params.width)
        area = (params.height * params.width).to(torch.float32)
        lam = 1.0 - area / float(height * width)
        return torch.where(mask, pasted, images), lam

    @staticmethod
    def _bilinear(partner_images: Tensor, params: Params) -> Tensor:
        """The partners shrunk into their boxes (pixels outside the boxes are don't-cares)."""
        height, width = partner_images.shape[-2:]
        dtype = compute_dtype(partner_images)
        row_scale = height / params.height.to(dtype)
        col_scale = width / params.width.to(dtype)
        row_taps, row_weights = filter_taps(
            -params.top.to(dtype) * row_scale, height * row_scale, height, height, False, dtype, kernel="bilinear"
        )
        col_taps, col_weights = filter_taps(
            -params.left.to(dtype) * col_scale, width * col_scale, width, width, False, dtype, kernel="bilinear"
        )
        rows = interpolation_matrix(row_taps, row_weights, height)
        cols = interpolation_matrix(col_taps, col_weights, width)
        return restore_dtype(resample_matmul(partner_images, rows, cols), partner_images.dtype)
