"""Nearest shears and translations through augbench/native/warp.c against their torch gathers:
the same values for every dtype, fill and shift, including shifts off the image."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F


@pytest.fixture
def warp(compiled_library):
    return compiled_library("warp")


def _images(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(sum(shape))
    if dtype.is_floating_point:
        return torch.rand(shape, generator=generator).to(dtype)
    return torch.randint(0, 256 if dtype == torch.uint8 else 1000, shape, generator=generator).to(dtype)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7, 3, 32, 32), (5, 1, 9, 23), (6, 3, 1, 1)])
@pytest.mark.parametrize("fill", [None, 7, [1, 2, 3]])
def test_shears_and_translations_give_the_torch_values(warp, torch_only, dtype, shape, fill) -> None:
    if isinstance(fill, list) and shape[1] != 3:
        fill = fill[:1]
    images = _images(dtype, shape)
    batch, _, height, width = shape
    factor = torch.linspace(-0.99, 0.99, batch, dtype=torch.float64)
    pixels = torch.linspace(-1.5 * width, 1.5 * width, batch).round()  # some shifts leave the image
    for kernel, argument in ((F.shear_x, factor), (F.shear_y, factor), (F.translate_x, pixels), (F.translate_y, pixels)):
        expected = torch_only(lambda: kernel(images, argument, fill=fill))
        assert torch.equal(kernel(images, argument, fill=fill), expected), kernel.__name__


def test_a_centred_shear_and_a_strided_batch_give_the_torch_values(warp, torch_only) -> None:
    images = _images(torch.uint8, (4, 3, 16, 12)).to(memory_format=torch.channels_last)
    factor = torch.tensor([0.2, -0.2, 0.31, -0.05])
    for kernel in (F.shear_x, F.shear_y):
        expected = torch_only(lambda: kernel(images, factor, center=(6.0, 8.0), fill=128))
        assert torch.equal(kernel(images, factor, center=(6.0, 8.0), fill=128), expected)
