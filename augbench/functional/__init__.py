"""Pure, deterministic kernels: ``(B, C, H, W)`` tensors plus per-sample parameters -> tensors.

Names and semantics mirror ``torchvision.transforms.v2.functional``; every scalar parameter
may also be a ``(B,)`` tensor with one value per sample. Nothing here draws random numbers.
"""

from augbench.functional.affine import affine, inverse_affine_matrix, rotate, warp_affine
from augbench.functional.color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
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
from augbench.functional.noise import gaussian_noise
from augbench.functional.shear import shear_x, shear_y, translate_x, translate_y

__all__ = [
    "affine",
    "box_mask",
    "crop",
    "erase",
    "hflip",
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
