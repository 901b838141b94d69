"""Pure kernels: ``(..., C, H, W)`` tensors plus per-sample parameters -> tensors.

Names, signatures and semantics mirror ``torchvision.transforms.v2.functional`` (the image
argument is ``inpt``; unbatched ``(C, H, W)`` images and extra leading dims work as there, see
:mod:`augbench.functional._leading_dims`); every scalar parameter may also be a tensor with one
value per image, ``(B,)`` for a ``(B, C, H, W)`` batch. The uint8 colour ops follow Pillow
exactly where torchvision's differ by a level; each docstring says which convention it follows.
Only ``gaussian_noise`` draws random numbers, from an explicit or augbench's default generator.
"""

from augbench.functional.affine import affine, inverse_affine_matrix, rotate, warp_affine
from augbench.functional.color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    color_jitter,
    identity,
    invert,
    posterize,
    rgb_to_grayscale,
    solarize,
    solarize_add,
)
from augbench.functional.cutout import cutout
from augbench.functional.erasing import box_mask, erase
from augbench.functional.filters import adjust_sharpness, gaussian_blur
from augbench.functional.geometry import crop, hflip, resize, resized_crop, vflip
from augbench.functional.histogram import autocontrast, equalize
from augbench.functional.interpolation import InterpolationMode
from augbench.functional.noise import gaussian_noise
from augbench.functional.shear import shear_x, shear_y, translate_x, translate_y

horizontal_flip = hflip
"""torchvision v2's name of :func:`hflip`."""
vertical_flip = vflip
"""torchvision v2's name of :func:`vflip`."""

__all__ = [
    "InterpolationMode",
    "affine",
    "box_mask",
    "crop",
    "erase",
    "hflip",
    "horizontal_flip",
    "vertical_flip",
    "inverse_affine_matrix",
    "resize",
    "resized_crop",
    "rotate",
    "vflip",
    "warp_affine",
    "identity",
    "autocontrast",
    "equalize",
    "solarize",
    "solarize_add",
    "posterize",
    "invert",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "color_jitter",
    "adjust_hue",
    "adjust_sharpness",
    "gaussian_blur",
    "gaussian_noise",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "cutout",
]
