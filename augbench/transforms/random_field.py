"""``RandomFieldAugment``: affine and colour transforms whose parameters vary smoothly over the pixels.

Mansfield, Afkanpour, Morningstar and Singhal, "Random Field Augmentations for Self-Supervised
Representation Learning", arXiv 2311.03629 (PMLR v228, 2023). No reference code is public; the
construction below is augbench's instantiation of the paper's description (see the class
docstring for what is simplified).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from augbench.checks import MASK
from augbench.distributions import AnyGenerator, normal
from augbench.errors import InputValueError
from augbench.functional.geometry import Interpolation
from augbench.functional.interpolation import InterpolationMode, interpolation_name
from augbench.functional.random_field import PADDING_MODES, field_noise_shape, gaussian_random_field, local_affine, local_color
from augbench.random import Params
from augbench.transforms.base import ImageShape, Transform

__all__ = ["RandomFieldAugment"]

SPATIAL = ("angle", "scale", "shear_x", "shear_y", "translate_x", "translate_y")
"""Names of the warp's fields in the params, in drawing order."""
COLOR = ("hue", "saturation", "brightness")
"""Names of the colour fields in the params, in drawing order."""
_IDENTITY = {"scale": 1.0, "saturation": 1.0, "brightness": 1.0}
"""Identity values of the factor fields (the others are 0)."""
_BOUNDS = {"scale": (0.1, math.inf), "shear_x": (-80.0, 80.0), "shear_y": (-80.0, 80.0), "saturation": (0.0, math.inf),
           "brightness": (0.0, math.inf)}
"""Clipping of ``identity + sigma f`` where large ``sigma`` would leave the valid range: zoom > 0 (0.1
at most 10x out), shear off the singular 90 degrees, colour factors >= 0."""


def _sigma(who: str, name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise InputValueError(f"{who}: {name}={value!r} must be a finite number >= 0 (the field's standard deviation)")
    return float(value)


class RandomFieldAugment(Transform):
    """Random field augmentation: per-pixel rotation, scale, shear, shift, hue, saturation and value.

    Every parameter ``phi`` of a global affine warp or colour jitter becomes a field over the
    pixels, ``phi(x, y) = identity + sigma_phi * f(x, y)``, one independent field per parameter
    and per sample, where ``f`` is white noise blurred with a Gaussian of standard deviation
    ``length_scale`` and normalised to unit standard deviation
    (:func:`augbench.functional.random_field.gaussian_random_field`). So ``sigma_phi`` is the
    pixel-wise standard deviation of the parameter whatever the length scale; ``length_scale =
    inf`` makes every field constant over an image, i.e. a global affine warp with Gaussian
    parameters (:func:`augbench.functional.affine` with those per-sample values, bilinear, up to
    float32 rounding of the sampling grid), and a length scale of a pixel or two gives local,
    elastic-like warps and mottled colour.

    Algorithm (per call, for the whole batch at once):

    1. Draw white noise for the ``K`` fields with ``sigma > 0``, ``(B, K, r_H, r_W)`` with
       ``r <= H, W`` the Karhunen-Loeve modes the length scale needs (``(B, K, 1, 1)`` at
       ``inf``), and expand it into ``(B, K, H, W)`` fields (two small matrix products); add
       the identity value (0 for angles and shifts, 1 for factors) to ``sigma`` times it.
    2. Warp: output pixel ``p`` reads the input at ``A(p)^-1 (p - c - t(p)) + c``
       (:func:`augbench.functional.random_field.local_affine`: one ``grid_sample``).
    3. Colour, on the warped image: rotate the hue, scale HSV saturation and value pixel by
       pixel, clip to HSV's range (:func:`augbench.functional.random_field.local_color`).

    Grey images get the value (brightness) field only: hue and saturation are identities on
    them and are not drawn. Masks (``target="mask"``) get the warp with nearest interpolation,
    no colour. The params hold the final fields, ``(B, H, W)`` float32 each (4 K B H W bytes),
    named ``angle`` (degrees), ``scale``, ``shear_x``/``shear_y`` (degrees),
    ``translate_x``/``translate_y`` (pixels), ``hue`` (turns), ``saturation``, ``brightness``;
    fields with ``sigma = 0`` are absent and ``sigma = 0`` everywhere returns the input.

    Simplified relative to the paper (which publishes no code): one length scale shared by
    all fields; Gaussian fields with the correlation of a Gaussian blur (the paper's exact
    covariance and sampling method are not recoverable); every pixel's rotation, scale and
    shear act about the image centre (the card's construction), not about the pixel itself;
    the scale field is clipped to >= 0.1, shear to +-80 degrees and colour factors to >= 0
    so that ``identity + sigma f`` stays a valid transform at large ``sigma``; colour runs after
    the warp, in the output's coordinates. The paper applies the fields on top of SimCLR's
    pipeline; here it is one transform, to compose with others (e.g. simclr's ``augment``).

    Args:
        length_scale: correlation length of the fields in pixels (the blur's standard
            deviation), > 0; ``math.inf`` (``.inf`` in YAML) for a global transform.
        rotation: standard deviation of the rotation angle field, degrees (clockwise positive).
        scale: standard deviation of the zoom factor field (identity 1).
        shear: standard deviation of the x- and the y-shear angle fields, degrees.
        translate: standard deviation of the x- and y-shift fields, as a fraction of the image
            width and height (0.02 is 2 % of the side).
        hue: standard deviation of the hue shift field, in turns (RGB only).
        saturation: standard deviation of the HSV saturation factor field (RGB only).
        brightness: standard deviation of the HSV value factor field.
        interpolation: ``"bilinear"`` (default), ``"bicubic"`` or ``"nearest"``, as a name or
            an :class:`~augbench.functional.InterpolationMode` (stored as its name).
        padding_mode: sources outside the image read ``"zeros"`` (default, as ``RandomAffine``'s
            fill 0), the ``"border"`` pixel or the ``"reflection"`` of the image.
        p: per-sample probability of transforming.
        same_on_batch: one set of fields for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype; ``C`` is 1 or 3 when
        ``hue`` or ``saturation`` is positive.

    Example:
        >>> import torch, augbench as ab
        >>> from augbench.transforms import RandomFieldAugment
        >>> t = RandomFieldAugment(length_scale=4.0, rotation=10.0, translate=0.02, hue=0.05, saturation=0.0, brightness=0.0)
        >>> images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
        >>> params = t.sample(images, generator=torch.Generator().manual_seed(0))
        >>> tuple(params.angle.shape), sorted(params)
        ((8, 32, 32), ['angle', 'hue', 'translate_x', 'translate_y'])
        >>> t.apply(images, params).shape
        torch.Size([8, 3, 32, 32])
    """

    def __init__(
        self,
        length_scale: float = 8.0,
        rotation: float = 10.0,
        scale: float = 0.0,
        shear: float = 0.0,
        translate: float = 0.02,
        hue: float = 0.05,
        saturation: float = 0.1,
        brightness: float = 0.1,
        interpolation: Interpolation = InterpolationMode.BILINEAR,
        padding_mode: str = "zeros",
        *,
        p: float = 1.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        if isinstance(length_scale, bool) or not isinstance(length_scale, (int, float)) or not length_scale > 0:
            raise InputValueError(f"{who}: length_scale={length_scale!r} must be a number > 0 (pixels), or .inf for a global transform")
        self.length_scale = float(length_scale)
        self.rotation = _sigma(who, "rotation", rotation)
        self.scale = _sigma(who, "scale", scale)
        self.shear = _sigma(who, "shear", shear)
        self.translate = _sigma(who, "translate", translate)
        self.hue = _sigma(who, "hue", hue)
        self.saturation = _sigma(who, "saturation", saturation)
        self.brightness = _sigma(who, "brightness", brightness)
        self.interpolation = interpolation_name(interpolation, who, ("nearest", "bilinear", "bicubic"))
        if padding_mode not in PADDING_MODES:
            raise InputValueError(f"{who}: padding_mode={padding_mode!r} is unknown; use one of {PADDING_MODES}")
        self.padding_mode = padding_mode
        # Keypoints and boxes pass through a colour-only transform; a local warp has no matrix.
        self.keeps_geometry = not (self.rotation or self.scale or self.shear or self.translate)

    def _sigmas(self, channels: int) -> dict[str, float]:
        """Each field's standard deviation in its own unit, for images with ``channels``."""
        rgb = channels == 3
        return {
            "angle": self.rotation, "scale": self.scale, "shear_x": self.shear, "shear_y": self.shear,
            "translate_x": self.translate, "translate_y": self.translate,
            "hue": self.hue if rgb else 0.0, "saturation": self.saturation if rgb else 0.0, "brightness": self.brightness,
        }

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        channels, height, width = shape
        if (self.hue > 0 or self.saturation > 0) and channels not in (1, 3):
            raise InputValueError(
                f"{type(self).__name__}: hue and saturation fields need grey (1) or RGB (3) channels, got {channels}; "
                "drop an alpha channel with x[:, :3], or set hue=saturation=0"
            )
        sigmas = {name: sigma for name, sigma in self._sigmas(channels).items() if sigma > 0}
        if not sigmas:
            return {}
        noise = normal((n, len(sigmas), *field_noise_shape((height, width), self.length_scale)), generator)
        fields = gaussian_random_field(noise, self.length_scale, (height, width))
        units = {"translate_x": width, "translate_y": height}  # fractions of the side -> pixels
        params = {}
        for index, (name, sigma) in enumerate(sigmas.items()):
            values = fields[:, index] * (sigma * units.get(name, 1.0)) + _IDENTITY.get(name, 0.0)
            params[name] = values.clamp_(*_BOUNDS[name]) if name in _BOUNDS else values
        return params

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        who = type(self).__name__
        for name, field in params.items():
            if name in SPATIAL + COLOR and tuple(field.shape[1:]) != tuple(images.shape[-2:]):
                raise InputValueError(
                    f"{who}: params hold {tuple(field.shape[1:])} fields, the images are {tuple(images.shape[-2:])}; "
                    "call sample() on images of this size"
                )
        result = images
        if any(name in params for name in SPATIAL):
            result = local_affine(
                images,
                params.get("angle"),
                (params.get("translate_x"), params.get("translate_y")),
                params.get("scale"),
                (params.get("shear_x"), params.get("shear_y")),
                "nearest" if target == MASK else self.interpolation,
                self.padding_mode,
            )
        if target != MASK and any(name in params for name in COLOR):
            result = local_color(result, params.get("hue"), params.get("saturation"), params.get("brightness"))
        return result.clone() if result is images else result

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor | None:
        if self.keeps_geometry:
            return None
        raise InputValueError(
            f"{type(self).__name__}: keypoints and boxes are not supported by a random field warp (every pixel moves "
            "its own way); use rotation=scale=shear=translate=0 for colour fields only, or RandomAffine"
        )

    def extra_repr(self) -> str:
        sigmas = [
            f"{name}={getattr(self, name)}"
            for name in ("rotation", "scale", "shear", "translate", "hue", "saturation", "brightness")
            if getattr(self, name) > 0
        ]
        return ", ".join([f"length_scale={self.length_scale}", *sigmas, f"interpolation={self.interpolation!r}", f"padding_mode={self.padding_mode!r}"])
