"""Interpolation modes: torchvision's enum values and every form torchvision accepts."""

from __future__ import annotations

import enum

import pytest

from augbench.errors import InputValueError
from augbench.functional.interpolation import InterpolationMode, interpolation_name

Image = pytest.importorskip("PIL.Image")

SUPPORTED = ("nearest", "bilinear", "bicubic")


class ForeignMode(enum.Enum):
    """Stands in for ``torchvision.transforms.InterpolationMode`` (same values, another class)."""

    NEAREST = "nearest"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"


def test_enum_has_torchvisions_values() -> None:
    assert [mode.value for mode in InterpolationMode] == [
        "nearest", "nearest-exact", "bilinear", "bicubic", "box", "hamming", "lanczos"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "given, name",
    [
        ("bilinear", "bilinear"),
        (InterpolationMode.BICUBIC, "bicubic"),
        (ForeignMode.NEAREST, "nearest"),  # any enum whose .value is a mode name
        (ForeignMode.BICUBIC, "bicubic"),
        (2, "bilinear"),  # Pillow's constants, as torchvision accepts them
        (Image.Resampling.BICUBIC, "bicubic"),
        (Image.Resampling.NEAREST, "nearest"),
    ],
)
def test_every_form_gives_the_mode_name(given: object, name: str) -> None:
    assert interpolation_name(given, "kernel", SUPPORTED) == name


@pytest.mark.parametrize("given", ["area", "Bilinear", 7, True, None, ForeignMode.LANCZOS, Image.Resampling.LANCZOS])
def test_unknown_or_unsupported_modes_raise_one_line_naming_the_choices(given: object) -> None:
    with pytest.raises(InputValueError, match="kernel: interpolation=.*; use one of 'nearest', 'bilinear', 'bicubic'") as info:
        interpolation_name(given, "kernel", SUPPORTED)
    assert "\n" not in str(info.value)


def test_a_known_mode_the_caller_lacks_says_so() -> None:
    with pytest.raises(InputValueError, match="is not supported here"):
        interpolation_name(InterpolationMode.LANCZOS, "kernel", SUPPORTED)
    with pytest.raises(InputValueError, match="is unknown"):
        interpolation_name("area", "kernel", SUPPORTED)
