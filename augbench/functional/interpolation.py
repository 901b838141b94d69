"""Interpolation modes: torchvision's enum values, accepted in every form torchvision accepts.

Kernels take ``interpolation`` as a string (``"nearest"``, ``"nearest-exact"``, ``"bilinear"``,
``"bicubic"``), as :class:`InterpolationMode`, as any object whose ``.value`` is one of those
strings (``torchvision.transforms.InterpolationMode`` works without augbench importing
torchvision), or as a Pillow resampling constant (``0`` nearest, ``2`` bilinear, ``3`` bicubic,
``PIL.Image.Resampling`` members included), as torchvision does.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import Any, Union

from augbench.errors import InputValueError

__all__ = ["InterpolationMode", "InterpolationArg", "interpolation_name"]


class InterpolationMode(enum.Enum):
    """torchvision's interpolation modes, with the same string values."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


InterpolationArg = Union[str, InterpolationMode, int, Any]
"""A mode name, an :class:`InterpolationMode` (augbench's or torchvision's) or a Pillow constant."""

_MODE_NAMES = frozenset(mode.value for mode in InterpolationMode)
_PILLOW_CONSTANTS = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def interpolation_name(interpolation: InterpolationArg, who: str, supported: Collection[str]) -> str:
    """The mode name of ``interpolation``, after checking that ``who`` supports it.

    Args:
        interpolation: a string, an enum member whose ``.value`` is a mode name, or a Pillow
            resampling constant (an int or an ``IntEnum`` member).
        who: the calling kernel or transform, used in the message.
        supported: the mode names the caller implements.

    Raises:
        InputValueError: an unknown mode, or one the caller does not implement (one line,
            listing the supported names).
    """
    name = _as_name(getattr(interpolation, "value", interpolation))
    if name not in supported:
        choices = ", ".join(repr(mode) for mode in supported)
        known = "is not supported here" if name in _MODE_NAMES else "is unknown"
        raise InputValueError(f"{who}: interpolation={interpolation!r} {known}; use one of {choices}")
    return name


def _as_name(value: object) -> object:
    """A mode name for strings and Pillow constants; anything else is returned unchanged (and refused)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _PILLOW_CONSTANTS.get(value, value)
    return value
