"""Geometric random transforms: flips, crops, resized crops and affine warps.

Every transform draws one parameter set per sample (see :class:`~augbench.transforms.base.Transform`)
and replays it on masks with nearest interpolation and a fill of 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

import augbench.functional as F
from augbench.checks import MASK
from augbench.distributions import AnyGenerator
from augbench.errors import InputValueError
from augbench.functional.geometry import Interpolation, PaddingMode
from augbench.functional.interpolation import InterpolationMode, interpolation_name
from augbench.random import Params, log_uniform, randint, uniform
from augbench.transforms._args import Fill, check_fill, check_range, check_size, fill_for
from augbench.functional.affine import inverse_affine_matrix
from augbench.transforms.base import APPLY, ImageShape, Transform, scale_shift_matrix

__all__ = ["HorizontalFlip", "VerticalFlip", "RandomResizedCrop", "RandomCrop", "RandomAffine"]

_CROP_TRIES = 10


def _check_interpolation(who: str, interpolation: Interpolation) -> str:
    """The mode's name (a string, so the transform serialises), refusing modes the kernels lack."""
    return interpolation_name(interpolation, who, ("nearest", "bilinear", "bicubic"))


class HorizontalFlip(Transform):
    """Mirror each sample left-right with probability ``p``.

    Args:
        p: per-sample flip probability (default 0.5).
        same_on_batch: flip all samples or none.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """

    def __init__(self, p: float = 0.5, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        return F.hflip(images)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        return scale_shift_matrix(params.batch_size, device, scale_x=-1.0, shift_x=float(image_size[1]))


class VerticalFlip(HorizontalFlip):
    """Mirror each sample top-bottom with probability ``p`` (default 0.5).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        return F.vflip(images)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        return scale_shift_matrix(params.batch_size, device, scale_y=-1.0, shift_y=float(image_size[0]))


class RandomResizedCrop(Transform):
    """Crop a random area and aspect ratio per sample, resized to ``size`` (Inception-style).

    Sampling follows torchvision: up to 10 tries of area fraction ~ U(scale) and log-aspect
    ~ U(log ratio); the first box that fits is used, else a centre crop with the aspect ratio
    clamped into ``ratio``. The tries are drawn for all samples at once.

    Args:
        size: output ``(height, width)``, an int for a square, or ``None`` to resize each crop
            back to the input's own size (one transform then serves any image size).
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio (width / height).
        interpolation: ``"bilinear"`` (default), ``"bicubic"`` or ``"nearest"``, as a name or an
            :class:`~augbench.functional.InterpolationMode` (stored as its name); masks always use nearest.
        antialias: low-pass filter when a crop is downscaled.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])`` (``(B, C, H, W)`` with ``size=None``),
        same dtype.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        interpolation: Interpolation = InterpolationMode.BILINEAR,
        antialias: bool = True,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        who = type(self).__name__
        self.size = None if size is None else check_size(who, size)
        self.scale = check_range(who, "scale", scale, low=0.0, high=1.0)
        self.ratio = check_range(who, "ratio", ratio, low=1e-6)
        if self.scale[1] <= 0:
            raise InputValueError(f"{who}: scale={scale!r} must allow a positive area")
        self.interpolation = _check_interpolation(who, interpolation)
        self.antialias = bool(antialias)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        _, height, width = shape
        tries = (n, _CROP_TRIES)
        area = height * width * uniform(*self.scale, tries, generator)
        aspect = log_uniform(*self.ratio, tries, generator)
        crop_w = torch.round(torch.sqrt(area * aspect))
        crop_h = torch.round(torch.sqrt(area / aspect))
        fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
        first = fits.to(torch.uint8).argmax(1, keepdim=True)  # index of the first box that fits
        crop_h = crop_h.gather(1, first)[:, 0]
        crop_w = crop_w.gather(1, first)[:, 0]
        fallback_h, fallback_w = self._fallback(height, width)
        found = fits.any(1)
        crop_h = torch.where(found, crop_h, torch.full_like(crop_h, fallback_h)).long()
        crop_w = torch.where(found, crop_w, torch.full_like(crop_w, fallback_w)).long()
        top = torch.where(found, randint(height - crop_h + 1, generator), (height - crop_h) // 2)
        left = torch.where(found, randint(width - crop_w + 1, generator), (width - crop_w) // 2)
        return {"top": top, "left": left, "height": crop_h, "width": crop_w}

    def _fallback(self, height: int, width: int) -> tuple[int, int]:
        """Centre-crop size when no try fits: the whole image with its aspect clamped into ``ratio``."""
        aspect = width / height
        if aspect < self.ratio[0]:
            return int(round(width / self.ratio[0])), width
        if aspect > self.ratio[1]:
            return height, int(round(height * self.ratio[1]))
        return height, width

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        return self._resized_crop(images, params, target, hflip=False)

    def _apply_fused(
        self, images: Tensor, params: Params, following: Transform, following_params: Params, target: str
    ) -> Tensor | None:
        """A following ``HorizontalFlip`` folds into the resampling for free: the flipped samples
        get mirrored column taps. Same result as applying the two in turn."""
        if type(following) is not HorizontalFlip:
            return None
        params = self._checked_params(images, params)
        flips = following._checked_params(images, following_params)
        if APPLY in params:
            return None
        return self._resized_crop(images, params, target, hflip=flips[APPLY] if APPLY in flips else True)

    def _resized_crop(self, images: Tensor, params: Params, target: str, hflip: Tensor | bool) -> Tensor:
        interpolation = "nearest" if target == MASK else self.interpolation
        return F.resized_crop(
            images,
            params.top,
            params.left,
            params.height,
            params.width,
            self.size or tuple(images.shape[-2:]),
            interpolation,
            self.antialias,
            hflip=hflip,
        )

    def output_shape(self, shape: ImageShape) -> ImageShape:
        return shape if self.size is None else (shape[0], *self.size)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        """The box ``(left, top, width, height)`` scaled to the output size. A following
        ``HorizontalFlip`` that ``Compose`` fuses into the resampling is applied to points by
        that flip itself, so fused or not the points agree."""
        out_h, out_w = self.size or image_size
        scale_x, scale_y = out_w / params.width.double(), out_h / params.height.double()
        return scale_shift_matrix(params.batch_size, device, scale_x, scale_y, -params.left * scale_x, -params.top * scale_y)

    def extra_repr(self) -> str:
        return f"size={self.size}, scale={self.scale}, ratio={tuple(round(r, 4) for r in self.ratio)}, interpolation={self.interpolation!r}"


def _check_padding(who: str, padding: int | Sequence[int] | None) -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if padding is None:
        return (0, 0, 0, 0)
    values = [padding] if isinstance(padding, int) else list(padding)
    if len(values) not in (1, 2, 4) or not all(isinstance(v, int) and v >= 0 for v in values):
        raise InputValueError(
            f"{who}: padding={padding!r} must be a non-negative int, (left/right, top/bottom) or (left, top, right, bottom)"
        )
    if len(values) == 1:
        return (values[0],) * 4  # type: ignore[return-value]
    if len(values) == 2:
        return (values[0], values[1], values[0], values[1])
    return tuple(values)  # type: ignore[return-value]


class RandomCrop(Transform):
    """Crop a ``size`` window at a random position per sample, after optional padding.

    Args:
        size: output ``(height, width)`` or an int for a square.
        padding: pixels added around the image first: an int, ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)`` (torchvision's forms).
        pad_if_needed: pad top/bottom and left/right further when the image is smaller than ``size``.
        fill: value for ``"constant"`` padding in [0, 1] units (x255 for uint8), or per channel.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])``, same dtype.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: Fill = 0.0,
        padding_mode: PaddingMode = "constant",
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        who = type(self).__name__
        self.size = check_size(who, size)
        self.padding = _check_padding(who, padding)
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = check_fill(who, fill)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise InputValueError(
                f"{who}: padding_mode={padding_mode!r} is unknown; use 'constant', 'edge', 'reflect' or 'symmetric'"
            )
        self.padding_mode = padding_mode

    def _padding_for(self, height: int, width: int) -> tuple[int, int, int, int]:
        left, top, right, bottom = self.padding
        if self.pad_if_needed:
            extra_h = max(self.size[0] - (height + top + bottom), 0)
            extra_w = max(self.size[1] - (width + left + right), 0)
            left, top, right, bottom = left + extra_w, top + extra_h, right + extra_w, bottom + extra_h
        return left, top, right, bottom

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        _, height, width = shape
        left, top, right, bottom = self._padding_for(height, width)
        room_h = height + top + bottom - self.size[0] + 1
        room_w = width + left + right - self.size[1] + 1
        if room_h < 1 or room_w < 1:
            raise InputValueError(
                f"{type(self).__name__}: crop size {self.size} is larger than the padded image "
                f"({height + top + bottom}, {width + left + right}); pass pad_if_needed=True or more padding"
            )
        device = generator.device
        return {
            "top": randint(torch.full((n,), room_h, device=device), generator) - top,
            "left": randint(torch.full((n,), room_w, device=device), generator) - left,
        }

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        fill = 0 if target == MASK else fill_for(self.fill, images.dtype)
        return F.crop(images, params.top, params.left, *self.size, padding_mode=self.padding_mode, fill=fill)

    def output_shape(self, shape: ImageShape) -> ImageShape:
        return (shape[0], *self.size)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        """A shift by the window's corner (``top``/``left`` already count the padding). Points in
        the padding stay where the padding is, whatever ``padding_mode`` copies there."""
        return scale_shift_matrix(params.batch_size, device, shift_x=-params.left, shift_y=-params.top)

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}"


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear per sample about the image centre.

    Ranges follow torchvision's ``RandomAffine``: ``degrees`` d means U(-d, d) (clockwise
    positive), ``translate=(a, b)`` means a horizontal shift U(-a W, a W) and vertical
    U(-b H, b H) rounded to whole pixels, ``scale=(lo, hi)`` a zoom U(lo, hi), and ``shear``
    s an x-shear U(-s, s) degrees, ``(a, b)`` an x-shear U(a, b), ``(a, b, c, d)`` also a
    y-shear U(c, d).

    Args:
        degrees: rotation range in degrees.
        translate: maximal shift as fractions of width and height, or ``None``.
        scale: zoom range, or ``None`` for 1.
        shear: shear range in degrees, or ``None``.
        interpolation: ``"nearest"`` (default, as torchvision), ``"bilinear"`` or ``"bicubic"``, as
            a name or an :class:`~augbench.functional.InterpolationMode` (stored as its name).
        fill: value for pixels from outside the image, in [0, 1] units (x255 for uint8).
        center: ``(x, y)`` centre of the warp in pixels; default the image centre.
        p: per-sample probability of applying the warp.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: float | Sequence[float] | None = None,
        interpolation: Interpolation = InterpolationMode.NEAREST,
        fill: Fill = 0.0,
        center: Sequence[float] | None = None,
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.degrees = check_range(who, "degrees", degrees, symmetric=True)
        self.translate = None if translate is None else self._check_translate(who, translate)
        self.scale = None if scale is None else check_range(who, "scale", scale, low=1e-6)
        self.shear = self._check_shear(who, shear)
        self.interpolation = _check_interpolation(who, interpolation)
        self.fill = check_fill(who, fill)
        self.center = self._check_center(who, center)

    @staticmethod
    def _check_center(who: str, center: Sequence[float] | None) -> tuple[float, float] | None:
        if center is None:
            return None
        if not isinstance(center, Sequence) or len(center) != 2 or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in center
        ):
            raise InputValueError(f"{who}: center={center!r} must be (x, y) pixel coordinates or None")
        return (float(center[0]), float(center[1]))

    @staticmethod
    def _check_translate(who: str, translate: Sequence[float]) -> tuple[float, float]:
        """``(a, b)``: maximal horizontal and vertical shift as fractions of width and height."""
        values = list(translate) if isinstance(translate, Sequence) else []
        if len(values) != 2 or not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in values):
            raise InputValueError(f"{who}: translate={translate!r} must be (a, b) with fractions a, b in [0, 1]")
        return (float(values[0]), float(values[1]))

    @staticmethod
    def _check_shear(who: str, shear: float | Sequence[float] | None) -> tuple[float, float, float, float] | None:
        if shear is None:
            return None
        if isinstance(shear, (int, float)):
            return (*check_range(who, "shear", shear, symmetric=True), 0.0, 0.0)
        values = list(shear)
        if len(values) == 2:
            return (*check_range(who, "shear", values), 0.0, 0.0)
        if len(values) == 4:
            return (*check_range(who, "shear[:2]", values[:2]), *check_range(who, "shear[2:]", values[2:]))
        raise InputValueError(f"{who}: shear={shear!r} must be a number, (min, max) or (xmin, xmax, ymin, ymax)")

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        _, height, width = shape
        zeros = torch.zeros(n, device=generator.device)
        params = {"angle": uniform(*self.degrees, n, generator), "translate_x": zeros, "translate_y": zeros}
        if self.translate is not None:
            max_x, max_y = self.translate[0] * width, self.translate[1] * height
            params["translate_x"] = torch.round(uniform(-max_x, max_x, n, generator))
            params["translate_y"] = torch.round(uniform(-max_y, max_y, n, generator))
        params["scale"] = uniform(*self.scale, n, generator) if self.scale is not None else zeros + 1.0
        params["shear_x"] = zeros if self.shear is None else uniform(self.shear[0], self.shear[1], n, generator)
        params["shear_y"] = zeros if self.shear is None else uniform(self.shear[2], self.shear[3], n, generator)
        return params

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        is_mask = target == MASK
        return F.affine(
            images,
            params.angle,
            (params.translate_x, params.translate_y),
            params.scale,
            (params.shear_x, params.shear_y),
            "nearest" if is_mask else self.interpolation,
            0 if is_mask else fill_for(self.fill, images.dtype),
            self.center,
        )

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        """The forward map of the warp: the inverse of the matrix the image kernel samples with."""
        height, width = image_size
        center = self.center or (width * 0.5, height * 0.5)
        names = ("angle", "translate_x", "translate_y", "scale", "shear_x", "shear_y")
        values = [params[name].to(device, torch.float64) for name in names]
        center_x = torch.full_like(values[0], center[0])
        inverse = inverse_affine_matrix(*values, center_x, torch.full_like(values[0], center[1]))  # (B, 2, 3)
        a, b, c = inverse[:, 0].unbind(-1)
        d, e, f = inverse[:, 1].unbind(-1)
        det = a * e - b * d
        forward = torch.zeros(params.batch_size, 3, 3, dtype=torch.float64, device=device)
        forward[:, 0, 0], forward[:, 0, 1], forward[:, 1, 0], forward[:, 1, 1] = e / det, -b / det, -d / det, a / det
        forward[:, 0, 2] = -(forward[:, 0, 0] * c + forward[:, 0, 1] * f)
        forward[:, 1, 2] = -(forward[:, 1, 0] * c + forward[:, 1, 1] * f)
        forward[:, 2, 2] = 1.0
        return forward if device.type != "mps" else forward.float()

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"shear={self.shear}, interpolation={self.interpolation!r}"
        )
