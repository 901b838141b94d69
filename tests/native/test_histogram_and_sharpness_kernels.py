"""The compiled autocontrast, equalize and sharpness (augbench/native/histogram.c, sharpness.c)
against their torch code: the same bits on every input."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F


@pytest.fixture
def histogram(compiled_library):
    return compiled_library("histogram")


@pytest.fixture
def sharpness(compiled_library):
    return compiled_library("sharpness")


def _images(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Random uint8 images with the cases that take their own branches: a constant channel, a
    two-valued channel, a narrow range, and full black and white."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    if shape[0] >= 5:
        images[0, 0] = 77
        images[1, 0] = torch.where(images[1, 0] > 127, 200, 3).to(torch.uint8)
        images[2] = images[2] // 16 + 100
        images[3, :, 0, 0], images[3, :, -1, -1] = 0, 255
        images[4] = 255
    return images


SHAPES = [(9, 1, 1, 1), (9, 3, 2, 5), (9, 3, 3, 3), (17, 1, 7, 13), (33, 3, 32, 32), (5, 3, 40, 27)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel", [F.autocontrast, F.equalize])
def test_histogram_kernels_give_the_torch_bits(histogram, torch_only, shape, kernel) -> None:
    images = _images(shape, sum(shape))
    assert torch.equal(kernel(images), torch_only(lambda: kernel(images)))


@pytest.mark.parametrize("shape", SHAPES)
def test_sharpness_gives_the_torch_bits(sharpness, torch_only, shape) -> None:
    images = _images(shape, sum(shape) + 1)
    factor = torch.rand(shape[0], generator=torch.Generator().manual_seed(2)) * 2.0
    factor[0], factor[1] = 0.0, 1.0  # the smoothed image, the identity
    assert torch.equal(F.adjust_sharpness(images, factor), torch_only(lambda: F.adjust_sharpness(images, factor)))


def test_strided_and_channels_last_inputs_give_the_contiguous_result(histogram, sharpness) -> None:
    images = _images((6, 3, 12, 10), 5)
    for layout in (images.to(memory_format=torch.channels_last), images.transpose(2, 3).contiguous().transpose(2, 3)):
        assert torch.equal(F.equalize(layout), F.equalize(images))
        assert torch.equal(F.autocontrast(layout), F.autocontrast(images))
        assert torch.equal(F.adjust_sharpness(layout, 1.7), F.adjust_sharpness(images, 1.7))


def test_the_input_is_never_written_and_empty_batches_stay_empty(histogram, sharpness) -> None:
    images = _images((5, 3, 8, 8), 9)
    before = images.clone()
    F.equalize(images), F.autocontrast(images), F.adjust_sharpness(images, 0.3)
    assert torch.equal(images, before)
    empty = images[:0]
    for result in (F.equalize(empty), F.autocontrast(empty), F.adjust_sharpness(empty, 0.5)):
        assert result.shape == empty.shape and result.dtype == torch.uint8

