"""Shared fixtures: small real image batches, seeded generators, and the compiled kernels or their torch path."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from ctypes import CDLL
from pathlib import Path
from typing import Any

import pytest
import torch

import augbench.functional as F
from augbench import native

# The real datasets live outside the repository (never copied in): $AUGBENCH_DATA, by default
# the shared/data folder beside the checkout. Tests that need a file skip cleanly without it.
os.environ.setdefault("AUGBENCH_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_DATA = Path(os.environ["AUGBENCH_DATA"])


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture
def rgb_batch() -> torch.Tensor:
    """16 random-content uint8 RGB images, 3 x 20 x 24 (non-square on purpose)."""
    return torch.randint(0, 256, (16, 3, 20, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


CIFAR10_TEST = SHARED_DATA / "cifar10" / "test_batch_first1000.bin"
CIFAR10_RECORD = 1 + 3 * 32 * 32  # one label byte, then the image as 3 x 32 x 32 (CHW) bytes


@pytest.fixture(scope="session")
def cifar_image() -> torch.Tensor:
    """The first CIFAR-10 test image as a (1, 3, 32, 32) uint8 batch; skips if the file is missing."""
    if not CIFAR10_TEST.is_file():
        pytest.skip(f"CIFAR-10 sample file not found at {CIFAR10_TEST}")
    with CIFAR10_TEST.open("rb") as handle:
        record = handle.read(CIFAR10_RECORD)
    if len(record) != CIFAR10_RECORD:
        pytest.skip(f"CIFAR-10 sample file {CIFAR10_TEST} is truncated")
    image = torch.frombuffer(bytearray(record[1:]), dtype=torch.uint8)
    return image.view(1, 3, 32, 32).clone()


class KernelArgs:
    """Builds the arguments of a :data:`kernel_calls` row: a number, or one value per image.

    ``KernelArgs()`` gives each argument's number; ``KernelArgs(leading)`` a tensor of shape
    ``leading`` spread over ``[low, high]`` (one value per image of a ``(*leading, C, H, W)``
    input); ``KernelArgs(leading, index=i)`` the 0-d value of flat image ``i`` of that tensor.
    """

    def __init__(self, leading: tuple[int, ...] | None = None, index: int | None = None) -> None:
        self.leading, self.index = leading, index

    def __call__(self, value: float, low: float, high: float, whole: bool = False) -> float | torch.Tensor:
        if self.leading is None:
            return value
        count = math.prod(self.leading)
        spread = torch.linspace(low, high, count, dtype=torch.float64)
        spread = (spread.round() if whole else spread).to(torch.float32)
        return spread[self.index] if self.index is not None else spread.reshape(self.leading)


def _white(images: torch.Tensor) -> float:
    return 255.0 if images.dtype == torch.uint8 else 1.0


def _rotation(angle: float | torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``(*leading, 2, 3)`` rotation matrices for ``warp_affine``, one per image of ``images``."""
    radians = torch.deg2rad(torch.as_tensor(angle, dtype=torch.float32)).expand(images.shape[:-3])
    cos, sin, zero = radians.cos(), radians.sin(), torch.zeros_like(radians)
    return torch.stack([torch.stack([cos, sin, zero], -1), torch.stack([-sin, cos, zero], -1)], -2)


def _pixel_noise(images: torch.Tensor) -> torch.Tensor:
    """Deterministic "noise" that depends on each pixel alone, so any batching gives the same values."""
    return torch.sin(images.float() * 0.37)


KernelCall = Callable[[torch.Tensor, KernelArgs], torch.Tensor]

KERNEL_CALLS: dict[str, KernelCall] = {
    "affine": lambda x, v: F.affine(x, v(10.0, -30, 30), (v(2.0, -3, 3), v(-1.0, -3, 3)), v(1.1, 0.8, 1.2), (v(5.0, -10, 10), v(0.0, -5, 5))),
    "box_mask": lambda x, v: F.box_mask(x, v(1, 0, 3, True), v(2, 0, 3, True), v(3, 1, 4, True), v(2, 1, 4, True)),
    "crop": lambda x, v: F.crop(x, v(1, -1, 3, True), v(2, 0, 3, True), 4, 5),
    "erase": lambda x, v: F.erase(x, v(1, 0, 3, True), v(1, 0, 3, True), v(2, 1, 4, True), v(3, 1, 4, True), 0),
    "hflip": lambda x, v: F.hflip(x),
    "horizontal_flip": lambda x, v: F.horizontal_flip(x),
    "vertical_flip": lambda x, v: F.vertical_flip(x),
    "inverse_affine_matrix": lambda x, v: F.inverse_affine_matrix(*(torch.zeros(len(x)),) * 3, torch.ones(len(x)), *(torch.zeros(len(x)),) * 4),
    "resize": lambda x, v: F.resize(x, [6, 5]),
    "resized_crop": lambda x, v: F.resized_crop(x, v(1, 0, 2, True), v(1, 0, 2, True), v(5, 4, 6, True), v(5, 4, 6, True), [4, 6]),
    "rotate": lambda x, v: F.rotate(x, v(20.0, -40, 40)),
    "vflip": lambda x, v: F.vflip(x),
    "warp_affine": lambda x, v: F.warp_affine(x, _rotation(v(15.0, -30, 30), x), "nearest"),
    "identity": lambda x, v: F.identity(x),
    "autocontrast": lambda x, v: F.autocontrast(x),
    "equalize": lambda x, v: F.equalize(x),
    "solarize": lambda x, v: F.solarize(x, v(0.5, 0.0, 1.0) * _white(x)),
    "solarize_add": lambda x, v: F.solarize_add(x, v(0.1, -0.2, 0.2) * _white(x)),
    "posterize": lambda x, v: F.posterize(x, v(3, 1, 8, True)),
    "invert": lambda x, v: F.invert(x),
    "rgb_to_grayscale": lambda x, v: F.rgb_to_grayscale(x),
    "adjust_brightness": lambda x, v: F.adjust_brightness(x, v(1.3, 0.2, 1.8)),
    "adjust_contrast": lambda x, v: F.adjust_contrast(x, v(1.3, 0.2, 1.8)),
    "adjust_saturation": lambda x, v: F.adjust_saturation(x, v(1.3, 0.2, 1.8)),
    "adjust_hue": lambda x, v: F.adjust_hue(x, v(0.1, -0.5, 0.5)),
    "color_jitter": lambda x, v: F.color_jitter(x, v(1.3, 0.2, 1.8), v(0.8, 0.2, 1.8), v(1.2, 0.2, 1.8), v(0.1, -0.5, 0.5)),
    "adjust_sharpness": lambda x, v: F.adjust_sharpness(x, v(1.3, 0.2, 1.8)),
    "gaussian_blur": lambda x, v: F.gaussian_blur(x, 3, v(1.0, 0.5, 2.0)),
    "gaussian_noise": lambda x, v: F.gaussian_noise(x, v(0.0, -0.1, 0.1), v(0.1, 0.0, 0.2), noise=_pixel_noise(x)),
    "shear_x": lambda x, v: F.shear_x(x, v(0.2, -0.3, 0.3)),
    "shear_y": lambda x, v: F.shear_y(x, v(0.2, -0.3, 0.3)),
    "translate_x": lambda x, v: F.translate_x(x, v(2, -3, 3, True)),
    "translate_y": lambda x, v: F.translate_y(x, v(2, -3, 3, True)),
    "cutout": lambda x, v: F.cutout(x, v(3, 0, 7, True), v(4, 0, 7, True), v(3, 0, 5, True)),
}
"""A minimal call of every public kernel of ``augbench.functional``: ``call(images, args)``, with
``args`` a :class:`KernelArgs` giving each per-sample argument; shared by the leading-dims and
empty-batch contracts. A new public kernel needs a row here."""

NOT_IMAGE_KERNELS = frozenset({"inverse_affine_matrix"})
"""Public functions of ``augbench.functional`` that take no image (only the empty-batch contract calls them)."""


@pytest.fixture(scope="session")
def kernel_calls() -> dict[str, KernelCall]:
    return KERNEL_CALLS


@pytest.fixture(scope="session")
def kernel_args() -> type[KernelArgs]:
    return KernelArgs


@pytest.fixture
def compiled_library() -> Callable[[str], CDLL]:
    """``compiled_library(name)``: the compiled library ``name``. Skips without a C compiler or
    under ``AUGBENCH_NATIVE=0``; otherwise a library that did not build fails the test (never a
    silent fallback)."""

    def get(name: str) -> CDLL:
        if shutil.which("cc") is None:
            pytest.skip(f"no C compiler: only the torch code of {name}.c runs here")
        if os.environ.get(native.NATIVE_ENV_VAR, "1") == "0":
            pytest.skip(f"{native.NATIVE_ENV_VAR}=0: the compiled kernels are switched off")
        library = native.library(name)
        assert library is not None, f"cc is installed but augbench/native/{name}.c did not build"
        return library

    return get


@pytest.fixture
def torch_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], Any]], Any]:
    """``torch_only(function)``: ``function()`` with the compiled kernels switched off
    (``AUGBENCH_NATIVE=0``), so every kernel runs its torch path."""

    def run(function: Callable[[], Any]) -> Any:
        with monkeypatch.context() as switched:  # the variable's own value (or absence) comes back afterwards
            switched.setenv(native.NATIVE_ENV_VAR, "0")
            native.library.cache_clear()
            try:
                return function()
            finally:
                native.library.cache_clear()

    return run
