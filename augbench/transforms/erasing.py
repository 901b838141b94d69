"""Random Erasing (Zhong et al., 2020): occlude a random rectangle per sample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import torch
from torch import Tensor

import augbench.functional as F
from augbench.checks import MASK
from augbench.distributions import AnyGenerator, rand
from augbench.errors import InputValueError
from augbench.random import Params, log_uniform, randint, uniform
from augbench.transforms._args import check_fill, check_range, fill_for
from augbench.transforms.base import ImageShape, Transform

__all__ = ["RandomErasing"]

_ERASE_TRIES = 10
EraseValue = Union[float, Sequence[float], Literal["random"]]


class RandomErasing(Transform):
    """Erase one random rectangle per sample with probability ``p``.

    Sampling follows torchvision's ``RandomErasing``: up to 10 tries of area fraction
    ~ U(scale) and log-aspect ~ U(log ratio); the first box strictly smaller than the image
    is placed uniformly; when no try fits, the sample is left unchanged (so the mean erased
    fraction is slightly below ``p * E[scale]``).

    Args:
        p: per-sample probability of erasing (default 0.5).
        scale: range of the box area as a fraction of the image area.
        ratio: range of the box aspect ratio (height / width).
        value: fill in [0, 1] units (x255 for uint8): a number, one per channel, or
            ``"random"`` for per-pixel uniform noise (the paper's RE-R variant).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype. Masks pass through unchanged.

    Reference:
        Zhong et al., "Random Erasing Data Augmentation", AAAI 2020.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: EraseValue = 0.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.scale = check_range(who, "scale", scale, low=0.0, high=1.0)
        self.ratio = check_range(who, "ratio", ratio, low=1e-6)
        if isinstance(value, str):
            if value != "random":
                raise InputValueError(f"{who}: value={value!r} is unknown; pass a number in [0, 1] or 'random'")
            self.value: EraseValue = value
        else:
            self.value = check_fill(who, value)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        channels, height, width = shape
        tries = (n, _ERASE_TRIES)
        area = height * width * uniform(*self.scale, tries, generator)
        aspect = log_uniform(*self.ratio, tries, generator)
        box_h = torch.round(torch.sqrt(area * aspect))
        box_w = torch.round(torch.sqrt(area / aspect))
        fits = (box_h < height) & (box_w < width)
        first = fits.to(torch.uint8).argmax(1, keepdim=True)
        found = fits.any(1)
        box_h = torch.where(found, box_h.gather(1, first)[:, 0], 0).long()
        box_w = torch.where(found, box_w.gather(1, first)[:, 0], 0).long()
        params = {
            "top": randint(height - box_h + 1, generator),
            "left": randint(width - box_w + 1, generator),
            "height": box_h,
            "width": box_w,
        }
        if self.value == "random":
            params["noise"] = rand((n, channels, height, width), generator)
        return params

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        if target == MASK:
            return images
        if self.value == "random":
            noise = params.noise
            value = noise.mul(255).round_().to(torch.uint8) if images.dtype == torch.uint8 else noise.to(images.dtype)
        else:
            value = fill_for(self.value, images.dtype)
        return F.erase(images, params.top, params.left, params.height, params.width, value)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, ratio={tuple(round(r, 4) for r in self.ratio)}, value={self.value!r}"
