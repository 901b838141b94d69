"""timm's op conventions (``timm.data.auto_augment``, timm 1.0.31), batched.

The policy strings (``rand-...``, ``augmix-...``, ``original``, ``v0``, ``3a``, ...) mean what
they mean in timm; this module holds what that takes, written from timm's definitions:

* the op names and op sets: :data:`RAND_OPS` (timm's ``_RAND_TRANSFORMS``, the default of a
  ``rand`` string, ``inc0``), :data:`RAND_INCREASING_OPS` (``inc1``), the ``t`` choices
  (:data:`RAND_CHOICES`: ``weights`` and ``3aw`` are weighted, ``3a`` is a list), AugMix's
  :data:`AUGMIX_OPS` and the AutoAugment tables of :data:`AUTOAUGMENT_POLICIES`;
* every op's level -> argument map (:class:`Level`), from a magnitude ``m`` on timm's 0-10 scale
  (``_LEVEL_DENOM = 10``; ``m`` may exceed 10 when ``mmax`` allows it), evaluated in float64 in
  timm's order of operations so that its ``int()`` truncations give the same integers;
* kernels taking those arguments (:func:`kernel`), with the fill and interpolation of timm:
  geometric ops fill with grey 128 (``_FILL``) and resample bilinear or bicubic, chosen at
  random per op and image, unless an interpolation is given. Every geometric op is Pillow's
  affine warp (:func:`warp_matrices`), so images with different geometric ops share one
  :func:`warp` call per interpolation.

Conventions of the arguments (what :meth:`Level.evaluate` returns, by op family):

================================  =============================================================
Rotate                            degrees, counter-clockwise, +-30 m/10, random sign
ShearX, ShearY                    shear factor about the top-left corner, +-0.3 m/10
TranslateXRel, TranslateYRel      fraction of the width/height, +-0.45 m/10 (Pillow's sign: a
                                  positive value moves the content left/up)
Posterize                         bits kept, ``int(4 m/10)`` (0-4: severity *falls* with m)
PosterizeIncreasing               ``4 - int(4 m/10)`` (4 -> 0 bits)
PosterizeOriginal                 ``int(4 m/10) + 4`` (4 -> 8 bits); all clipped to [0, 8]
Solarize                          threshold in 0-255 levels, ``min(256, int(256 m/10))``
SolarizeIncreasing                ``256 - min(256, int(256 m/10))``
SolarizeAdd                       levels added below 128, ``min(128, int(110 m/10))``
Color, Contrast, ...              Pillow enhance factor ``1.8 m/10 + 0.1`` (no sign)
ColorIncreasing, ...              ``max(0.1, 1 +- 0.9 m/10)``
Desaturate                        saturation factor ``1 - clip(0.5 + 0.5 m/10, 0.5, 1)``
GaussianBlur                      radius (sigma, px) ``clip(0.1 + 1.9 m/10, 0.1, 2)``
GaussianBlurRand                  radius uniform in ``[0.1, 2 clip(m/10, 0, 1)]``
AutoContrast, Equalize, Invert    no argument
================================  =============================================================

Deviation: Pillow's ``GaussianBlur`` approximates the Gaussian with three box blurs; the kernel
here is the sampled Gaussian of :func:`augbench.functional.gaussian_blur` with sigma = radius
(13 taps, fewer on images under 7 px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

import augbench.functional as F
from augbench.errors import ConfigError
from augbench.policies.ops import Kernel
from augbench.transforms._args import Fill, fill_for

__all__ = [
    "AUGMIX_OPS",
    "AUTOAUGMENT_POLICIES",
    "DEFAULT_FILL",
    "GEOMETRIC",
    "INTERPOLATIONS",
    "LEVELS",
    "LEVEL_DENOM",
    "Level",
    "LevelTable",
    "RAND_CHOICES",
    "RAND_INCREASING_OPS",
    "RAND_OPS",
    "kernel",
    "geometric_kinds",
    "rand_ops",
    "warp",
    "warp_matrices",
]

LEVEL_DENOM = 10.0
"""timm's magnitude scale: ``m / LEVEL_DENOM`` is the fraction of each op's range."""

DEFAULT_FILL = 128 / 255
"""timm's ``_FILL`` = (128, 128, 128), in [0, 1] units (128 for uint8 images)."""

INTERPOLATIONS = ("random", "bilinear", "bicubic", "nearest")
"""``"random"`` is timm's default: bilinear or bicubic, drawn per op application."""

_BLUR_TAPS = 13  # covers +-3 sigma of the largest radius (2 px)


@dataclass(frozen=True)
class Level:
    """One op's level -> argument map in timm's arithmetic.

    With ``l = m / 10`` (float64): ``v = offset + scale * l``, truncated when ``truncate``
    (timm's ``int()``; ``v >= 0`` there), clipped to ``[low, high]``; then
    ``arg = clip(base + slope * s * v, arg_low, arg_high)`` where ``s`` is the random sign when
    ``signed`` and 1 otherwise. ``blur_rand`` (GaussianBlurRand) then draws the radius uniformly
    in ``[0.1, 2 arg]``.
    """

    scale: float = 0.0
    offset: float = 0.0
    truncate: bool = False
    low: float = -math.inf
    high: float = math.inf
    base: float = 0.0
    slope: float = 1.0
    signed: bool = False
    arg_low: float = -math.inf
    arg_high: float = math.inf
    blur_rand: bool = False


_NONE = Level()
_ENHANCE = Level(scale=1.8, base=0.1)
_ENHANCE_INCREASING = Level(scale=0.9, base=1.0, signed=True, arg_low=0.1)
_BITS = {"arg_low": 0.0, "arg_high": 8.0}  # Pillow keeps all 8 bits from 8 up and none below 0

LEVELS: dict[str, Level] = {
    "AutoContrast": _NONE,
    "Equalize": _NONE,
    "Invert": _NONE,
    "Rotate": Level(scale=30.0, signed=True),
    "Posterize": Level(scale=4.0, truncate=True, **_BITS),
    "PosterizeIncreasing": Level(scale=4.0, truncate=True, base=4.0, slope=-1.0, **_BITS),
    "PosterizeOriginal": Level(scale=4.0, truncate=True, base=4.0, **_BITS),
    "Solarize": Level(scale=256.0, truncate=True, high=256.0),
    "SolarizeIncreasing": Level(scale=256.0, truncate=True, high=256.0, base=256.0, slope=-1.0),
    "SolarizeAdd": Level(scale=110.0, truncate=True, high=128.0),
    "Color": _ENHANCE,
    "ColorIncreasing": _ENHANCE_INCREASING,
    "Contrast": _ENHANCE,
    "ContrastIncreasing": _ENHANCE_INCREASING,
    "Brightness": _ENHANCE,
    "BrightnessIncreasing": _ENHANCE_INCREASING,
    "Sharpness": _ENHANCE,
    "SharpnessIncreasing": _ENHANCE_INCREASING,
    "ShearX": Level(scale=0.3, signed=True),
    "ShearY": Level(scale=0.3, signed=True),
    "TranslateXRel": Level(scale=0.45, signed=True),
    "TranslateYRel": Level(scale=0.45, signed=True),
    "Desaturate": Level(scale=0.5, offset=0.5, low=0.5, high=1.0, base=1.0, slope=-1.0, arg_low=0.0, arg_high=1.0),
    "GaussianBlur": Level(scale=1.9, offset=0.1, low=0.1, high=2.0),
    "GaussianBlurRand": Level(scale=1.0, low=0.0, high=1.0, blur_rand=True),
}
"""timm op name -> level map (timm's ``LEVEL_TO_ARG``, less the absolute-pixel translations,
which no string reaches)."""

_KINDS = {"Rotate": 1, "ShearX": 2, "ShearY": 3, "TranslateXRel": 4, "TranslateYRel": 5}
"""Geometric op -> its code in :func:`warp_matrices` (0: not geometric)."""

GEOMETRIC = frozenset(_KINDS)
"""The ops that move pixels (interpolated, filled, replayed on masks)."""

RAND_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
    "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
)  # fmt: skip
"""timm's ``_RAND_TRANSFORMS``: the ops of a ``rand`` string without ``inc1``."""

RAND_INCREASING_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing",
    "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
    "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
)  # fmt: skip
"""timm's ``_RAND_INCREASING_TRANSFORMS`` (``inc1``): severity rises with m for every op."""

RAND_CHOICES: dict[str, tuple[str, ...] | dict[str, float]] = {
    "weights": {
        "Rotate": 3, "ShearX": 2, "ShearY": 2, "TranslateXRel": 1, "TranslateYRel": 1,
        "ColorIncreasing": 0.25, "SharpnessIncreasing": 0.25, "AutoContrast": 0.25,
        "SolarizeIncreasing": 0.05, "SolarizeAdd": 0.05, "ContrastIncreasing": 0.05,
        "BrightnessIncreasing": 0.05, "Equalize": 0.05, "PosterizeIncreasing": 0.05, "Invert": 0.05,
    },
    "3aw": {
        "SolarizeIncreasing": 6, "Desaturate": 6, "GaussianBlur": 6, "Rotate": 3, "ShearX": 2,
        "ShearY": 2, "PosterizeIncreasing": 1, "AutoContrast": 1, "ColorIncreasing": 1,
        "SharpnessIncreasing": 1, "ContrastIncreasing": 1, "BrightnessIncreasing": 1, "Equalize": 1,
        "Invert": 1,
    },
    "3a": ("SolarizeIncreasing", "Desaturate", "GaussianBlur"),
}  # fmt: skip
"""The ``t`` choices of a ``rand`` string (timm's ``rand_augment_choices``): a dict is a weighted
choice without replacement (timm's ``_RAND_WEIGHTED_0`` and ``_RAND_WEIGHTED_3A``), a tuple a
uniform choice. They do not depend on ``inc``."""

AUGMIX_OPS = (
    "AutoContrast", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
    "SharpnessIncreasing", "Equalize", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing",
    "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
)  # fmt: skip
"""timm's ``_AUGMIX_TRANSFORMS`` (with the four enhance ops the paper leaves out)."""


def rand_ops(choice: str | None, increasing: bool) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """The ops and choice weights (``None``: uniform) of a ``rand`` string's ``t`` and ``inc`` sections."""
    if choice is None:
        return (RAND_INCREASING_OPS if increasing else RAND_OPS), None
    ops = RAND_CHOICES[choice]
    if isinstance(ops, dict):
        return tuple(ops), tuple(float(w) for w in ops.values())
    return ops, None


SubPolicy = tuple[tuple[str, float, int], ...]


def _table(text: str) -> tuple[SubPolicy, ...]:
    """``"Op p m | Op p m"`` lines -> sub-policies of (op, probability, magnitude 0-10)."""
    return tuple(
        tuple((name, float(p), int(m)) for name, p, m in (part.split() for part in line.split("|")))
        for line in text.strip().splitlines()
    )


_V0 = """
    Equalize 0.8 1 | ShearY 0.8 4
    Color 0.4 9 | Equalize 0.6 3
    Color 0.4 1 | Rotate 0.6 8
    Solarize 0.8 3 | Equalize 0.4 7
    Solarize 0.4 2 | Solarize 0.6 2
    Color 0.2 0 | Equalize 0.8 8
    Equalize 0.4 8 | SolarizeAdd 0.8 3
    ShearX 0.2 9 | Rotate 0.6 8
    Color 0.6 1 | Equalize 1.0 2
    Invert 0.4 9 | Rotate 0.6 0
    Equalize 1.0 9 | ShearY 0.6 3
    Color 0.4 7 | Equalize 0.6 0
    {posterize} 0.4 6 | AutoContrast 0.4 7
    Solarize 0.6 8 | Color 0.6 9
    Solarize 0.2 4 | Rotate 0.8 9
    Rotate 1.0 7 | TranslateYRel 0.8 9
    ShearX 0.0 0 | Solarize 0.8 4
    ShearY 0.8 0 | Color 0.6 4
    Color 1.0 0 | Rotate 0.6 2
    Equalize 0.8 4 | Equalize 0.0 8
    Equalize 1.0 4 | AutoContrast 0.6 2
    ShearY 0.4 7 | SolarizeAdd 0.6 7
    {posterize} 0.8 2 | Solarize 0.6 10
    Solarize 0.6 8 | Equalize 0.6 1
    Color 0.8 6 | Rotate 0.4 5
"""
"""TF's ImageNet ``policy_v0`` (EfficientNet; not the paper's policy)."""

_ORIGINAL = """
    {posterize} 0.4 8 | Rotate 0.6 9
    Solarize 0.6 5 | AutoContrast 0.6 5
    Equalize 0.8 8 | Equalize 0.6 3
    {posterize} 0.6 7 | {posterize} 0.6 6
    Equalize 0.4 7 | Solarize 0.2 4
    Equalize 0.4 4 | Rotate 0.8 8
    Solarize 0.6 3 | Equalize 0.6 7
    {posterize} 0.8 5 | Equalize 1.0 2
    Rotate 0.2 3 | Solarize 0.6 8
    Equalize 0.6 8 | {posterize} 0.4 6
    Rotate 0.8 8 | Color 0.4 0
    Rotate 0.4 9 | Equalize 0.6 2
    Equalize 0.0 7 | Equalize 0.8 8
    Invert 0.6 4 | Equalize 1.0 8
    Color 0.6 4 | Contrast 1.0 8
    Rotate 0.8 8 | Color 1.0 2
    Color 0.8 8 | Solarize 0.8 7
    Sharpness 0.4 7 | Invert 0.6 8
    ShearX 0.6 5 | Equalize 1.0 9
    Color 0.4 0 | Equalize 0.6 3
    Equalize 0.4 7 | Solarize 0.2 4
    Solarize 0.6 5 | AutoContrast 0.6 5
    Invert 0.6 4 | Equalize 1.0 8
    Color 0.6 4 | Contrast 1.0 8
    Equalize 0.8 8 | Equalize 0.6 3
"""
"""The paper's ImageNet policy (Cubuk et al. 2019) on timm's 0-10 magnitude scale."""

AUTOAUGMENT_POLICIES: dict[str, tuple[SubPolicy, ...]] = {
    "original": _table(_ORIGINAL.format(posterize="PosterizeOriginal")),
    "originalr": _table(_ORIGINAL.format(posterize="PosterizeIncreasing")),
    "v0": _table(_V0.format(posterize="Posterize")),
    "v0r": _table(_V0.format(posterize="PosterizeIncreasing")),
    "3a": (
        (("Solarize", 1.0, 5),),  # threshold 128
        (("Desaturate", 1.0, 10),),  # greyscale
        (("GaussianBlurRand", 1.0, 10),),  # radius uniform in [0.1, 2]
    ),
}
"""timm's AutoAugment policies by string name: sub-policies of (op, probability, magnitude).
``original``/``originalr`` and ``v0``/``v0r`` differ only in their posterize op (the ``r``
variants remove more bits as the magnitude rises); ``3a`` is DeiT III's 3-Augment."""


def _fill(images: Tensor, fill: Fill) -> Fill:
    return fill_for(fill, images.dtype)


def _levels(images: Tensor, levels: Tensor) -> Tensor:
    """0-255 levels in the images' scale (x / 255 for floating images)."""
    return levels if images.dtype == torch.uint8 else levels / 255.0


def _saturation(images: Tensor, factor: Tensor, fill: Fill) -> Tensor:
    # Pillow's Color on a grey image is the identity; saturation needs RGB.
    return images if images.shape[1] != 3 else F.adjust_saturation(images, factor)


def _blur(images: Tensor, radius: Tensor, fill: Fill) -> Tensor:
    half = min(_BLUR_TAPS // 2, images.shape[-1] - 1, images.shape[-2] - 1)
    return F.gaussian_blur(images, 2 * half + 1, radius)


_PIXEL_KERNELS: dict[str, Kernel] = {
    "AutoContrast": lambda images, value, fill: F.autocontrast(images),
    "Equalize": lambda images, value, fill: F.equalize(images),
    "Invert": lambda images, value, fill: F.invert(images),
    "Posterize": lambda images, value, fill: F.posterize(images, value),
    "Solarize": lambda images, value, fill: F.solarize(images, _levels(images, value)),
    "SolarizeAdd": lambda images, value, fill: F.solarize_add(images, _levels(images, value), _levels(images, torch.full_like(value, 128.0))),
    "Color": _saturation,
    "Contrast": lambda images, value, fill: F.adjust_contrast(images, value),
    "Brightness": lambda images, value, fill: F.adjust_brightness(images, value),
    "Sharpness": lambda images, value, fill: F.adjust_sharpness(images, value),
    "GaussianBlur": _blur,
}  # fmt: skip
_KERNEL_OF = {
    **{name: name for name in _PIXEL_KERNELS},
    "PosterizeIncreasing": "Posterize", "PosterizeOriginal": "Posterize", "SolarizeIncreasing": "Solarize",
    "ColorIncreasing": "Color", "ContrastIncreasing": "Contrast", "BrightnessIncreasing": "Brightness",
    "SharpnessIncreasing": "Sharpness", "Desaturate": "Color", "GaussianBlurRand": "GaussianBlur",
}  # fmt: skip


def geometric_kinds(ops: tuple[str, ...]) -> Tensor:
    """``(len(ops),)`` int64 geometric codes of an op list (:func:`warp_matrices`; 0 for the pixel ops)."""
    return torch.tensor([_KINDS.get(op, 0) for op in ops])


def warp_matrices(kind: Tensor, value: Tensor, height: int, width: int) -> Tensor:
    """The warps of timm's geometric ops as :func:`augbench.functional.warp_affine` matrices.

    Pillow's AFFINE data ``(a, b, c, d, e, f)`` (output pixel centre ``(x, y)`` reads the input at
    ``(a x + b y + c, d x + e y + f)``) of each op: ``Image.rotate``'s matrix about the centre
    (``angle % 360``, entries rounded to 15 decimals), ``(1, v, 0, 0, 1, 0)`` for ShearX,
    ``(1, 0, 0, v, 1, 0)`` for ShearY, ``(1, 0, v W, 0, 1, 0)`` and ``(1, 0, 0, 0, 1, v H)`` for the
    relative translations; written relative to the image centre, as ``warp_affine`` takes them.

    Args:
        kind: int64 codes of :func:`geometric_kinds` (any shape; 0 gives an unused identity).
        value: the ops' arguments (degrees, shear factor, fraction of the side), same shape.
        height, width: the image size in pixels.

    Returns:
        float64 matrices of shape ``(*kind.shape, 6)``.
    """
    v = value.double()
    one, zero = torch.ones_like(v), torch.zeros_like(v)
    cx, cy = width * 0.5, height * 0.5
    degrees = torch.fmod(v, 360.0)
    radians = -(torch.where(degrees < 0, degrees + 360.0, degrees) * (math.pi / 180))  # Python's % 360
    cos, sin = torch.round(torch.cos(radians), decimals=15), torch.round(torch.sin(radians), decimals=15)
    rotate = kind == 1
    a = torch.where(rotate, cos, one)
    b = torch.where(rotate, sin, torch.where(kind == 2, v, zero))
    c = torch.where(rotate, cos * -cx + sin * -cy + cx, torch.where(kind == 4, v * width, zero))
    d = torch.where(rotate, -sin, torch.where(kind == 3, v, zero))
    e = torch.where(rotate, cos, one)
    f = torch.where(rotate, -sin * -cx + cos * -cy + cy, torch.where(kind == 5, v * height, zero))
    # Pillow's pixel coordinates (origin at the top-left corner) -> coordinates about the centre.
    return torch.stack([a, b, c - cx + a * cx + b * cy, d, e, f - cy + d * cx + e * cy], -1)


def warp(images: Tensor, kind: Tensor, value: Tensor, interpolation: str, fill: Fill) -> Tensor:
    """Apply geometric ops of any :data:`GEOMETRIC` kinds in one warp (one matrix per image).

    Args:
        images: ``(k, C, H, W)``.
        kind: ``(k,)`` codes of :func:`geometric_kinds`; value: ``(k,)`` their arguments.
        interpolation: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        fill: in [0, 1] units.
    """
    matrices = warp_matrices(kind, value, images.shape[-2], images.shape[-1])
    return F.warp_affine(images, matrices.view(-1, 2, 3), interpolation, fill=_fill(images, fill))


def _geometric(name: str, interpolation: str) -> Kernel:
    if interpolation == "nearest" and name != "Rotate":  # whole-pixel shifts: the same pixels, faster
        axis = "x" if name in ("ShearX", "TranslateXRel") else "y"
        if name.startswith("Shear"):
            shear = F.shear_x if axis == "x" else F.shear_y
            return lambda images, value, fill: shear(images, value, interpolation="nearest", fill=_fill(images, fill))
        shift, side = (F.translate_x, -1) if axis == "x" else (F.translate_y, -2)
        # Pillow's (1, 0, d, 0, 1, 0) reads the input at x + d: the content moves by -d pixels.
        return lambda images, value, fill: shift(images, -value * images.shape[side], interpolation="nearest", fill=_fill(images, fill))
    code = _KINDS[name]
    return lambda images, value, fill: warp(images, torch.full(value.shape, code, device=value.device), value, interpolation, fill)


def kernel(name: str, interpolation: str) -> Kernel:
    """The kernel of timm op ``name``: ``(images, argument (k,), fill in [0, 1] units) -> images``.

    Args:
        name: a key of :data:`LEVELS`.
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``; only geometric ops use it.
    """
    if name in GEOMETRIC:
        return _geometric(name, interpolation)
    if name not in _KERNEL_OF:
        raise ConfigError(f"unknown timm op {name!r}; choose from {', '.join(LEVELS)}")
    return _PIXEL_KERNELS[_KERNEL_OF[name]]


_COLUMNS = ("scale", "offset", "truncate", "low", "high", "base", "slope", "signed", "arg_low", "arg_high", "blur_rand")


class LevelTable:
    """The :class:`Level` maps of an op list, evaluated for per-sample op indices in one pass.

    Args:
        ops: timm op names (keys of :data:`LEVELS`); op index ``k`` means ``ops[k]``.
    """

    def __init__(self, ops: tuple[str, ...]) -> None:
        self._table = torch.tensor([[float(getattr(LEVELS[op], c)) for c in _COLUMNS] for op in ops], dtype=torch.float64)
        self.needs_uniform = any(LEVELS[op].blur_rand for op in ops)

    def __call__(self, op: Tensor, magnitude: Tensor, sign: Tensor, uniform: Tensor | None) -> Tensor:
        """Each op's argument at its magnitude.

        Args:
            op: int64 op indices (any shape; ``-1``, no op, gives an ignored 0 argument).
            magnitude: float64 magnitudes on the 0-10 scale, already clipped, same shape.
            sign: +1 or -1, same shape (used by signed ops).
            uniform: uniform numbers in [0, 1), same shape; needed when :attr:`needs_uniform`.

        Returns:
            float32 arguments, same shape.
        """
        columns = self._table.to(op.device)[op.clamp(min=0)].unbind(-1)
        scale, offset, truncate, low, high, base, slope, signed, arg_low, arg_high, blur_rand = columns
        value = offset + scale * (magnitude / LEVEL_DENOM)  # timm's order: (m / 10) * scale
        value = torch.where(truncate.bool(), value.trunc(), value)
        value = torch.minimum(torch.maximum(value, low), high)
        value = base + slope * torch.where(signed.bool(), sign.double(), 1.0) * value
        value = torch.minimum(torch.maximum(value, arg_low), arg_high)
        if uniform is not None:
            value = torch.where(blur_rand.bool(), 0.1 + (2.0 * value - 0.1) * uniform.double(), value)
        return value.float()
