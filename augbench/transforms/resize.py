"""Deterministic geometry with torchvision's names: ``Resize``, ``CenterCrop``, ``Pad``.

No draw: the same output size and placement for every sample, so an evaluation pipeline is
``Resize -> CenterCrop -> Normalize`` as in torchvision. Masks (``target="mask"``) are resized
with nearest interpolation and padded with 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

import augbench.functional as F
from augbench.checks import IMAGE
from augbench.distributions import AnyGenerator
from augbench.errors import InputValueError
from augbench.functional.geometry import smaller_edge_size
from augbench.random import Params
from augbench.transforms.base import ImageShape, Transform, scale_shift_matrix

__all__ = ["Resize", "CenterCrop", "Pad"]

_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
_TORCH_PADDING = {"edge": "replicate", "reflect": "reflect"}


def _size(value: int | Sequence[int], who: str) -> tuple[int, ...]:
    size = (value,) if isinstance(value, int) else tuple(value)
    if len(size) not in (1, 2) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
        raise InputValueError(f"{who}: size={value!r} must be a positive int or (height, width)")
    return size


class Resize(Transform):
    """Resize every image, torchvision's ``Resize``: ``size=(h, w)``, or an int for the smaller
    edge (the longer one ``int(size * long / short)``, capped at ``max_size``).

    Args:
        size: ``(height, width)``, an int (smaller edge), or ``None`` with ``max_size``.
        interpolation: ``"bilinear"`` (default), ``"bicubic"``, ``"nearest"``, ``"nearest-exact"``.
        max_size: cap of the longer edge.
        antialias: as :func:`augbench.functional.resize` (uint8 bilinear/bicubic match Pillow).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H', W')``, same dtype.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None,
        interpolation: str = "bilinear",
        max_size: int | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__()
        self.size = None if size is None else list(_size(size, type(self).__name__))
        self.interpolation = str(getattr(interpolation, "value", interpolation))
        self.max_size = max_size
        self.antialias = bool(antialias)
        smaller_edge_size((32.0, 32.0), self.size, max_size, type(self).__name__)  # one-line errors up front

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def output_shape(self, shape: ImageShape) -> ImageShape:
        height, width = smaller_edge_size((float(shape[1]), float(shape[2])), self.size, self.max_size,
                                          type(self).__name__)
        return shape[0], height, width

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        _, height, width = self.output_shape(tuple(images.shape[1:]))  # type: ignore[arg-type]
        interpolation = self.interpolation if target == IMAGE else "nearest"
        return F.resize(images, [height, width], interpolation=interpolation, antialias=self.antialias)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        _, height, width = self.output_shape((1, *image_size))
        return scale_shift_matrix(params.batch_size, device, width / image_size[1], height / image_size[0])

    def extra_repr(self) -> str:
        return f"size={self.size}, interpolation={self.interpolation!r}, max_size={self.max_size}"


class CenterCrop(Transform):
    """Cut the central ``size`` window, torchvision's ``CenterCrop`` (a window larger than the
    image is padded with 0 around it; the corner is ``int(round((H - h) / 2))``).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, h, w)``, same dtype.
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        super().__init__()
        pair = _size(size, type(self).__name__)
        self.size = list(pair * 2 if len(pair) == 1 else pair)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def output_shape(self, shape: ImageShape) -> ImageShape:
        return shape[0], self.size[0], self.size[1]

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        height, width = self.size
        top = int(round((images.shape[-2] - height) / 2.0))
        left = int(round((images.shape[-1] - width) / 2.0))
        return F.crop(images, top, left, height, width)

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        top = int(round((image_size[0] - self.size[0]) / 2.0))
        left = int(round((image_size[1] - self.size[1]) / 2.0))
        return scale_shift_matrix(params.batch_size, device, shift_x=float(-left), shift_y=float(-top))

    def extra_repr(self) -> str:
        return f"size={self.size}"


class Pad(Transform):
    """Pad every side, torchvision's ``Pad``.

    Args:
        padding: one int for all sides, ``(left/right, top/bottom)``, or ``(left, top, right, bottom)``.
        fill: value of ``"constant"`` padding (in the images' scale: 0-255 for uint8); masks use 0.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` (no edge repeat) or ``"symmetric"``
            (edge repeated).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H + top + bottom, W + left + right)``, same dtype.
    """

    def __init__(self, padding: int | Sequence[int], fill: float = 0, padding_mode: str = "constant") -> None:
        super().__init__()
        who = type(self).__name__
        sides = (padding,) if isinstance(padding, int) else tuple(padding)
        if len(sides) not in (1, 2, 4) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sides):
            raise InputValueError(f"{who}: padding={padding!r} must be ints >= 0: one, (lr, tb) or (l, t, r, b)")
        if padding_mode not in _PADDING_MODES:
            raise InputValueError(f"{who}: padding_mode={padding_mode!r} is not one of {', '.join(_PADDING_MODES)}")
        self.padding = list(sides)
        self.fill = float(fill)
        self.padding_mode = padding_mode

    def _sides(self) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)``."""
        sides = self.padding
        if len(sides) == 1:
            return sides[0], sides[0], sides[0], sides[0]
        if len(sides) == 2:
            return sides[0], sides[1], sides[0], sides[1]
        return sides[0], sides[1], sides[2], sides[3]

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        left, top, right, bottom = self._sides()
        if self.padding_mode in ("reflect", "symmetric"):
            reach = 0 if self.padding_mode == "symmetric" else 1  # reflect cannot reuse the edge pixel
            if max(left, right) > shape[2] - reach or max(top, bottom) > shape[1] - reach:
                raise InputValueError(f"{type(self).__name__}: {self.padding_mode} padding {self.padding} is larger "
                                      f"than the {shape[1]}x{shape[2]} images allow; pad less or use 'edge'")
        return {}

    def output_shape(self, shape: ImageShape) -> ImageShape:
        left, top, right, bottom = self._sides()
        return shape[0], shape[1] + top + bottom, shape[2] + left + right

    def point_matrix(self, params: Params, image_size: tuple[int, int], device: torch.device) -> Tensor:
        left, top, _, _ = self._sides()
        return scale_shift_matrix(params.batch_size, device, shift_x=float(left), shift_y=float(top))

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        left, top, right, bottom = self._sides()
        if self.padding_mode == "constant" or target != IMAGE:
            fill = self.fill if target == IMAGE else 0.0
            return torch.nn.functional.pad(images, (left, right, top, bottom), value=fill)
        if self.padding_mode == "symmetric":
            return _pad_symmetric(images, left, top, right, bottom)
        mode = _TORCH_PADDING[self.padding_mode]
        padded = torch.nn.functional.pad(images.float() if images.dtype == torch.uint8 else images,
                                         (left, right, top, bottom), mode=mode)
        return padded.to(images.dtype)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r}"


def _pad_symmetric(images: Tensor, left: int, top: int, right: int, bottom: int) -> Tensor:
    """Mirror padding that repeats the edge pixel (numpy's ``symmetric``), by index gathering."""
    height, width = images.shape[-2:]
    rows = torch.arange(-top, height + bottom, device=images.device)
    cols = torch.arange(-left, width + right, device=images.device)
    rows = torch.where(rows < 0, -rows - 1, torch.where(rows >= height, 2 * height - rows - 1, rows))
    cols = torch.where(cols < 0, -cols - 1, torch.where(cols >= width, 2 * width - cols - 1, cols))
    return images.index_select(-2, rows).index_select(-1, cols)
