"""Pure, deterministic kernels: ``(B, C, H, W)`` tensors plus per-sample parameters -> tensors.

Names and semantics mirror ``torchvision.transforms.v2.functional``; every scalar parameter
may also be a ``(B,)`` tensor with one value per sample. Nothing here draws random numbers.
"""

from augbench.functional.affine import affine, inverse_affine_matrix, rotate, warp_affine
from augbench.functional.erasing import box_mask, erase
from augbench.functional.geometry import crop, hflip, resize, resized_crop, vflip

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
]
