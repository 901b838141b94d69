"""The kernel calls the suite makes: torchvision's signature, the Pillow op with the same meaning,
and the per-sample ``(B,)`` forms of augbench.

Each :class:`Case` is one call written exactly as a torchvision user would write it; the suite
makes the same call on ``torchvision.transforms.v2.functional`` and on ``augbench.functional``.
Intensity arguments (thresholds, fills, erase values) are given in the images' own scale,
0-255 for uint8 and 0-1 for floats, as both libraries take them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, ImageEnhance, ImageOps
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode

__all__ = ["Call", "Case", "CASES", "PilOp", "PerSample", "Range", "PER_SAMPLE", "NO_PILLOW", "SEED"]

Call = tuple[tuple[Any, ...], dict[str, Any]]
"""Positional and keyword arguments after the images."""
Builder = Callable[[Tensor], Call]
PilOp = Callable[[Image.Image], Image.Image]

SEED = 1234
"""Seed of torch's global generator before each gaussian_noise call (and of augbench's generator)."""

NEAREST = Image.Resampling.NEAREST
BILINEAR = Image.Resampling.BILINEAR
BICUBIC = Image.Resampling.BICUBIC


@dataclass(frozen=True)
class Case:
    """One kernel call and its oracles.

    Attributes:
        kernel: the function name in both libraries.
        label: the arguments as shown in the report.
        call: the arguments for a given input batch (intensities depend on its dtype).
        pil: Pillow's op with the same meaning, applied per uint8 image; ``None`` if Pillow has none.
        pil_label: the oracle's name in the report.
        torchvision: whether torchvision has the kernel (``False`` for augbench-only kernels that
            are defined by a Pillow call).
        augbench_call: augbench's arguments where they differ from torchvision's on purpose.
        seeded: reseed torch's global generator with :data:`SEED` before each call.
    """

    kernel: str
    label: str
    call: Builder
    pil: PilOp | None = None
    pil_label: str = "Pillow"
    torchvision: bool = True
    augbench_call: Builder | None = None
    seeded: bool = False


def fixed(*args: Any, **kwargs: Any) -> Builder:
    """A builder whose arguments do not depend on the input."""
    return lambda images: (args, kwargs)


def level(images: Tensor, value: float) -> float:
    """An 8-bit intensity in the images' scale: as is for uint8, / 255 for floats."""
    return value if images.dtype == torch.uint8 else value / 255.0


def levels(images: Tensor, values: Sequence[float]) -> list[float]:
    return [level(images, value) for value in values]


def _short_edge_size(width: int, height: int, size: int, max_size: int | None) -> tuple[int, int]:
    """torchvision's rule for ``size=[s]``: the shorter edge becomes ``s``, the longer keeps the
    aspect ratio (truncated), then both shrink so the longer edge is at most ``max_size``.
    Returns Pillow's ``(width, height)``."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if width <= height else (new_long, new_short)


def _pil_resize_short(size: int, max_size: int | None = None) -> PilOp:
    return lambda image: image.resize(_short_edge_size(*image.size, size, max_size), BILINEAR)


def _pil_affine_matrix_op(coefficients: tuple[float, ...], fill: int = 0) -> PilOp:
    return lambda image: image.transform(image.size, Image.Transform.AFFINE, coefficients, NEAREST, fillcolor=fill)


def _pil_solarize_add(addition: int, threshold: int) -> PilOp:
    """TF's SolarizeAdd as a Pillow lookup table: ``min(255, v + addition)`` below ``threshold``."""
    table = [min(255, value + addition) if value < threshold else value for value in range(256)]
    return lambda image: image.point(table * len(image.getbands()))


def _erase_patch(images: Tensor) -> Tensor:
    """A fixed ``(C, 10, 12)`` patch of values in the images' scale (torchvision's RandomErasing form)."""
    patch = torch.randint(0, 256, (images.shape[-3], 10, 12), generator=torch.Generator().manual_seed(SEED), dtype=torch.uint8)
    return patch if images.dtype == torch.uint8 else patch.to(images.dtype) / 255.0


def _erase_colour(images: Tensor) -> Tensor:
    return torch.tensor(levels(images, (10.0, 200.0, 90.0)), dtype=torch.float32).view(3, 1, 1).to(images.dtype)


def _seeded_generator() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


_SHEAR_02_DEGREES = math.degrees(math.atan(0.2))
_FLIP_X = Image.Transpose.FLIP_LEFT_RIGHT
_FLIP_Y = Image.Transpose.FLIP_TOP_BOTTOM
_PIL_TV = "Pillow (torchvision's PIL path)"

CASES: tuple[Case, ...] = (
    Case("hflip", "()", fixed(), lambda image: image.transpose(_FLIP_X)),
    Case("vflip", "()", fixed(), lambda image: image.transpose(_FLIP_Y)),
    Case("crop", "top=4, left=3, height=20, width=24", fixed(4, 3, 20, 24), lambda image: image.crop((3, 4, 27, 24))),
    Case("crop", "top=-3, left=-2, height=24, width=30 (past the border)", fixed(-3, -2, 24, 30), lambda image: image.crop((-2, -3, 28, 21))),
    Case("resize", "size=[24, 20]", fixed([24, 20]), lambda image: image.resize((20, 24), BILINEAR)),
    Case("resize", "size=[20] (shorter edge)", fixed([20]), _pil_resize_short(20)),
    Case("resize", "size=[20], max_size=24", fixed([20], max_size=24), _pil_resize_short(20, 24)),
    Case("resize", "size=[72, 60] (upsample)", fixed([72, 60]), lambda image: image.resize((60, 72), BILINEAR)),
    Case("resize", "size=[48, 40], InterpolationMode.NEAREST", fixed([48, 40], InterpolationMode.NEAREST), lambda image: image.resize((40, 48), NEAREST)),
    Case("resize", "size=[48, 40], InterpolationMode.NEAREST_EXACT", fixed([48, 40], InterpolationMode.NEAREST_EXACT), lambda image: image.resize((40, 48), NEAREST)),
    Case("resize", "size=[40, 36], 'bicubic'", fixed([40, 36], "bicubic"), lambda image: image.resize((36, 40), BICUBIC)),
    Case("resize", "size=[24, 20], antialias=False", fixed([24, 20], antialias=False)),
    Case(
        "resized_crop", "top=2, left=3, height=20, width=24, size=[32, 32]", fixed(2, 3, 20, 24, [32, 32]),
        lambda image: image.crop((3, 2, 27, 22)).resize((32, 32), BILINEAR),
    ),
    Case(
        "resized_crop", "top=2, left=3, height=20, width=24, size=[16, 12], InterpolationMode.NEAREST",
        fixed(2, 3, 20, 24, [16, 12], InterpolationMode.NEAREST), lambda image: image.crop((3, 2, 27, 22)).resize((12, 16), NEAREST),
    ),
    Case(
        "resized_crop", "top=2, left=3, height=20, width=24, size=[40, 48], InterpolationMode.BICUBIC",
        fixed(2, 3, 20, 24, [40, 48], InterpolationMode.BICUBIC), lambda image: image.crop((3, 2, 27, 22)).resize((48, 40), BICUBIC),
    ),
    Case("rotate", "angle=30", fixed(30.0), lambda image: image.rotate(30.0, NEAREST)),
    Case("rotate", "angle=135", fixed(135.0), lambda image: image.rotate(135.0, NEAREST)),
    Case("rotate", "angle=30, InterpolationMode.BILINEAR", fixed(30.0, InterpolationMode.BILINEAR), lambda image: image.rotate(30.0, BILINEAR)),
    Case("rotate", "30, NEAREST, True (positional expand)", fixed(30.0, InterpolationMode.NEAREST, True), lambda image: image.rotate(30.0, NEAREST, expand=True)),
    Case("rotate", "angle=30, fill=None", fixed(30.0, fill=None), lambda image: image.rotate(30.0, NEAREST)),
    Case(
        "rotate", "angle=-20, center=[10, 8], fill=[255, 0, 0] (image scale)",
        lambda images: ((-20.0,), {"center": [10.0, 8.0], "fill": levels(images, (255.0, 0.0, 0.0))}),
        lambda image: image.rotate(-20.0, NEAREST, center=(10.0, 8.0), fillcolor=(255, 0, 0)),
    ),
    Case(
        "affine", "angle=15, translate=[2, -3], scale=1.1, shear=[5, -4]", fixed(15.0, [2, -3], 1.1, [5.0, -4.0]),
        lambda image: TF.affine(image, 15.0, [2, -3], 1.1, [5.0, -4.0]), _PIL_TV,
    ),
    Case(
        "affine", "angle=0, translate=[0, 0], scale=1, shear=10.0 (scalar)", fixed(0.0, [0, 0], 1.0, 10.0),
        lambda image: TF.affine(image, 0.0, [0, 0], 1.0, 10.0), _PIL_TV,
    ),
    Case(
        "affine", "shear=[11.31, 0] (factor 0.2), center=[0, 0]", fixed(0.0, [0, 0], 1.0, [_SHEAR_02_DEGREES, 0.0], center=[0.0, 0.0]),
        lambda image: TF.affine(image, 0.0, [0, 0], 1.0, [_SHEAR_02_DEGREES, 0.0], center=[0.0, 0.0]), _PIL_TV,
    ),
    Case(
        "affine", "angle=-30, translate=[1, 1], scale=0.9, shear=[0, 0], BILINEAR, fill=[0, 0, 255]",
        lambda images: ((-30.0, [1, 1], 0.9, [0.0, 0.0], InterpolationMode.BILINEAR), {"fill": levels(images, (0.0, 0.0, 255.0))}),
        lambda image: TF.affine(image, -30.0, [1, 1], 0.9, [0.0, 0.0], InterpolationMode.BILINEAR, fill=[0, 0, 255]), _PIL_TV,
    ),
    Case("erase", "i=4, j=5, h=10, w=12, v=(C, 1, 1) tensor", lambda images: ((4, 5, 10, 12, _erase_colour(images)), {})),
    Case("erase", "i=4, j=5, h=10, w=12, v=(C, h, w) tensor", lambda images: ((4, 5, 10, 12, _erase_patch(images)), {})),
    Case("erase", "i=0, j=0, h=5, w=5, v=0-d tensor, inplace=False", lambda images: ((0, 0, 5, 5, torch.zeros((), dtype=images.dtype)), {"inplace": False})),
    Case("invert", "()", fixed(), ImageOps.invert),
    Case("solarize", "threshold=128 (image scale)", lambda images: ((level(images, 128.0),), {}), lambda image: ImageOps.solarize(image, 128)),
    Case("solarize", "threshold=255 (image scale)", lambda images: ((level(images, 255.0),), {}), lambda image: ImageOps.solarize(image, 255)),
    Case("posterize", "bits=3", fixed(3), lambda image: ImageOps.posterize(image, 3)),
    Case("posterize", "bits=0", fixed(0)),
    Case("rgb_to_grayscale", "()", fixed(), lambda image: image.convert("L")),
    Case("rgb_to_grayscale", "num_output_channels=3", fixed(num_output_channels=3), lambda image: image.convert("L").convert("RGB")),
    Case("adjust_brightness", "brightness_factor=1.4", fixed(1.4), lambda image: ImageEnhance.Brightness(image).enhance(1.4)),
    Case("adjust_brightness", "brightness_factor=0.6", fixed(0.6), lambda image: ImageEnhance.Brightness(image).enhance(0.6)),
    Case("adjust_contrast", "contrast_factor=0.5", fixed(0.5), lambda image: ImageEnhance.Contrast(image).enhance(0.5)),
    Case("adjust_contrast", "contrast_factor=1.6", fixed(1.6), lambda image: ImageEnhance.Contrast(image).enhance(1.6)),
    Case("adjust_saturation", "saturation_factor=0.3", fixed(0.3), lambda image: ImageEnhance.Color(image).enhance(0.3)),
    Case("adjust_saturation", "saturation_factor=1.7", fixed(1.7), lambda image: ImageEnhance.Color(image).enhance(1.7)),
    Case("adjust_hue", "hue_factor=0.2", fixed(0.2), lambda image: TF.adjust_hue(image, 0.2), "Pillow HSV (torchvision's PIL path)"),
    Case("adjust_hue", "hue_factor=-0.45", fixed(-0.45), lambda image: TF.adjust_hue(image, -0.45), "Pillow HSV (torchvision's PIL path)"),
    Case("adjust_sharpness", "sharpness_factor=0.3", fixed(0.3), lambda image: ImageEnhance.Sharpness(image).enhance(0.3)),
    Case("adjust_sharpness", "sharpness_factor=2.0", fixed(2.0), lambda image: ImageEnhance.Sharpness(image).enhance(2.0)),
    Case("autocontrast", "()", fixed(), ImageOps.autocontrast),
    Case("equalize", "()", fixed(), ImageOps.equalize),
    Case("gaussian_blur", "kernel_size=[5, 5], sigma=[1.5, 1.5]", fixed([5, 5], [1.5, 1.5])),
    Case("gaussian_blur", "kernel_size=[3, 5] (sigma from the size)", fixed([3, 5])),
    Case("gaussian_blur", "kernel_size=7, sigma=2.0", fixed(7, 2.0)),
    Case("gaussian_noise", "mean=0.0, sigma=0.1 (torch.manual_seed before each call)", fixed(0.0, 0.1), seeded=True),
    Case(
        "gaussian_noise", "augbench form: generator= seeded as torch's global RNG", fixed(0.0, 0.1),
        augbench_call=lambda images: ((0.0, 0.1), {"generator": _seeded_generator()}), seeded=True,
    ),
    Case("shear_x", "factor=0.2", fixed(0.2), _pil_affine_matrix_op((1, 0.2, 0, 0, 1, 0)), torchvision=False),
    Case("shear_x", "factor=-0.2", fixed(-0.2), _pil_affine_matrix_op((1, -0.2, 0, 0, 1, 0)), torchvision=False),
    Case("shear_x", "factor=0.3", fixed(0.3), _pil_affine_matrix_op((1, 0.3, 0, 0, 1, 0)), torchvision=False),
    Case("shear_y", "factor=0.2", fixed(0.2), _pil_affine_matrix_op((1, 0, 0, 0.2, 1, 0)), torchvision=False),
    Case("translate_x", "pixels=5", fixed(5.0), _pil_affine_matrix_op((1, 0, -5, 0, 1, 0)), torchvision=False),
    Case("translate_y", "pixels=-4", fixed(-4.0), _pil_affine_matrix_op((1, 0, 0, 0, 1, 4)), torchvision=False),
    Case("solarize_add", "addition=50, threshold=128", fixed(50, 128), _pil_solarize_add(50, 128), "Pillow point (timm's solarize_add)", torchvision=False),
)

NO_PILLOW: tuple[tuple[str, str, str], ...] = (
    ("posterize", "bits=0", "ImageOps.posterize takes 1-8 bits"),
    ("erase", "", "Pillow has no erase op"),
    (
        "gaussian_blur", "",
        "not compared with Pillow: ImageFilter.GaussianBlur(radius) is a different filter "
        "(an extended box blur of radius ~sigma with no kernel size), not torchvision's truncated Gaussian",
    ),
    ("gaussian_noise", "", "Pillow has no Gaussian noise op with a replayable draw"),
)
"""(kernel, arguments, why): torchvision calls without a Pillow row."""


@dataclass(frozen=True)
class Range:
    """Per-sample values of one parameter: evenly spaced in ``[low, high]``, shuffled.

    ``integral`` rounds them; ``intensity`` means 8-bit levels, divided by 255 for float images.
    """

    low: float
    high: float
    integral: bool = False
    intensity: bool = False


PerSampleBuilder = Callable[[Sequence[Any], Tensor], Call]
"""``(values, noise) -> call``: values are ``(B,)`` tensors or one sample's numbers; ``noise`` is
a standard normal tensor shaped like the images passed (for gaussian_noise)."""


@dataclass(frozen=True)
class PerSample:
    """A kernel call with ``(B,)`` parameter tensors, checked against a loop of scalar calls."""

    kernel: str
    label: str
    ranges: tuple[Range, ...]
    build: PerSampleBuilder


def _one(position: int = 0, **kwargs: Any) -> PerSampleBuilder:
    """A builder passing one value as the argument after the images."""
    return lambda values, noise: ((values[position],), kwargs)


PER_SAMPLE: tuple[PerSample, ...] = (
    PerSample("adjust_brightness", "brightness_factor", (Range(0.2, 1.8),), _one()),
    PerSample("adjust_contrast", "contrast_factor", (Range(0.2, 1.8),), _one()),
    PerSample("adjust_saturation", "saturation_factor", (Range(0.0, 2.0),), _one()),
    PerSample("adjust_hue", "hue_factor", (Range(-0.5, 0.5),), _one()),
    PerSample("adjust_sharpness", "sharpness_factor", (Range(0.0, 2.0),), _one()),
    PerSample("solarize", "threshold", (Range(0, 256, integral=True, intensity=True),), _one()),
    PerSample("posterize", "bits", (Range(0, 8, integral=True),), _one()),
    PerSample("rotate", "angle", (Range(-45.0, 45.0),), _one()),
    PerSample("rotate", "angle, bilinear", (Range(-45.0, 45.0),), _one(interpolation="bilinear")),
    PerSample(
        "affine", "angle, translate, scale, shear",
        (Range(-30, 30), Range(-4, 4), Range(-4, 4), Range(0.8, 1.2), Range(-15, 15), Range(-10, 10)),
        lambda values, noise: ((values[0], [values[1], values[2]], values[3], [values[4], values[5]]), {}),
    ),
    PerSample("crop", "top, left (height=20, width=20)", (Range(-2, 10, True), Range(-2, 10, True)), lambda values, noise: ((values[0], values[1], 20, 20), {})),
    PerSample(
        "resized_crop", "top, left, height, width (size=[24, 24])",
        (Range(0, 8, True), Range(0, 8, True), Range(16, 24, True), Range(16, 24, True)),
        lambda values, noise: ((*values, [24, 24]), {}),
    ),
    PerSample(
        "erase", "i, j, h, w (v=0)", (Range(0, 20, True), Range(0, 20, True), Range(0, 10, True), Range(0, 10, True)),
        lambda values, noise: ((*values, torch.zeros(())), {}),
    ),
    PerSample("gaussian_blur", "sigma (kernel_size=[5, 5])", (Range(0.5, 3.0),), lambda values, noise: (([5, 5], values[0]), {})),
    PerSample(
        "gaussian_noise", "mean, sigma (noise= given)", (Range(-0.1, 0.1), Range(0.0, 0.2)),
        lambda values, noise: ((values[0], values[1]), {"noise": noise}),
    ),
    PerSample("shear_x", "factor", (Range(-0.3, 0.3),), _one()),
    PerSample("shear_y", "factor", (Range(-0.3, 0.3),), _one()),
    PerSample("translate_x", "pixels", (Range(-8, 8, True),), _one()),
    PerSample("translate_y", "pixels", (Range(-8, 8, True),), _one()),
    PerSample("solarize_add", "addition", (Range(0, 110, True, True),), _one()),
)
