"""Constructor-argument validation shared by the transforms: one-line errors naming the fix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import torch

from augbench.errors import InputValueError

Number = Union[int, float]
Fill = Union[Number, Sequence[Number]]


def check_range(
    who: str, name: str, value: Number | Sequence[Number], *, symmetric: bool = False,
    low: float = -math.inf, high: float = math.inf,
) -> tuple[float, float]:
    """Parse ``(min, max)``, or ``x`` as ``(-x, x)`` when ``symmetric``; both within [low, high]."""
    if isinstance(value, (int, float)) and symmetric:
        if value < 0:
            raise InputValueError(f"{who}: {name}={value!r} must be >= 0 (it means the range (-{name}, {name}))")
        pair = (-float(value), float(value))
    elif isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        pair = (float(value[0]), float(value[1]))
    else:
        form = "a number or (min, max)" if symmetric else "(min, max)"
        raise InputValueError(f"{who}: {name}={value!r} must be {form}")
    if math.isnan(pair[0]) or math.isnan(pair[1]):
        raise InputValueError(f"{who}: {name}={value!r} contains NaN; pass finite numbers")
    if pair[0] > pair[1]:
        raise InputValueError(f"{who}: {name}={value!r} has min > max; pass ({pair[1]}, {pair[0]})")
    if pair[0] < low or pair[1] > high:
        raise InputValueError(f"{who}: {name}={value!r} must lie within [{low}, {high}]")
    return pair


def check_size(who: str, size: int | Sequence[int]) -> tuple[int, int]:
    """Parse an output size: an int (or ``[int]``) for a square or ``(height, width)``, all positive."""
    values = [size] if isinstance(size, int) else list(size) if isinstance(size, Sequence) else []
    if len(values) not in (1, 2) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InputValueError(f"{who}: size={size!r} must be an int or (height, width)")
    pair = (values[0], values[-1])
    if min(pair) < 1:
        raise InputValueError(f"{who}: size={size!r} must be positive")
    return pair


def check_fill(who: str, fill: Fill) -> Fill:
    """A fill value in [0, 1] units (dtype independent): a number or one per channel."""
    values = [fill] if isinstance(fill, (int, float)) else list(fill)
    if not values or not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in values):
        raise InputValueError(
            f"{who}: fill={fill!r} must be a number or per-channel numbers in [0, 1] "
            "(it is scaled to 0-255 for uint8 images)"
        )
    return fill


def fill_for(fill: Fill, dtype: torch.dtype) -> Fill:
    """A [0, 1] fill in the scale of ``dtype``: x 255 for uint8, unchanged for floats."""
    if dtype != torch.uint8:
        return fill
    if isinstance(fill, (int, float)):
        return round(fill * 255)
    return [round(v * 255) for v in fill]
