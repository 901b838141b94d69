"""autocontrast and equalize against Pillow's ImageOps on real CIFAR-10 images."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench.errors import InputTypeError, InputValueError

ImageOps = pytest.importorskip("PIL.ImageOps")

OPS = {"autocontrast": (F.autocontrast, ImageOps.autocontrast), "equalize": (F.equalize, ImageOps.equalize)}


@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_pillow_rgb(cifar64, pil_reference, name):
    kernel, reference_op = OPS[name]
    # Dimmed copies give narrow ranges and many empty bins, the cases the rules care about.
    images = torch.cat([cifar64, (cifar64 // 3 + 40)])
    exact = pil_reference.check(kernel(images), pil_reference.apply(images, reference_op))
    assert exact == 1.0


@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_pillow_grey_and_special_cases(cifar64, pil_reference, name):
    kernel, reference_op = OPS[name]
    grey = F.rgb_to_grayscale(cifar64[:16])
    pil_reference.check(kernel(grey), pil_reference.apply(grey, reference_op))
    two_levels = torch.where(cifar64[:4] > 128, 200, 90).to(torch.uint8)  # step == 0 for equalize
    tiny = cifar64[:4, :, :2, :3]  # 6 pixels per channel
    constant = torch.full((2, 3, 8, 8), 77, dtype=torch.uint8)
    for images in (two_levels, tiny, constant):
        assert torch.equal(kernel(images), pil_reference.apply(images, reference_op))
    assert torch.equal(kernel(constant), constant)


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_sample_and_channel_independent(cifar64, name):
    kernel = OPS[name][0]
    images = cifar64[:8].clone()
    images[3] //= 4
    batched = kernel(images)
    for i in range(len(images)):
        for c in range(3):
            assert torch.equal(batched[i, c], kernel(images[i : i + 1, c : c + 1])[0, 0])


def test_float_paths(cifar64):
    floats = cifar64.float() / 255
    torch.testing.assert_close(F.equalize(floats), F.equalize(cifar64).float() / 255)
    stretched = F.autocontrast(floats)
    assert stretched.dtype == torch.float32 and stretched.shape == floats.shape
    assert (stretched * 255 - F.autocontrast(cifar64).float()).abs().max() < 1.0 + 1e-3
    low, high = stretched.flatten(2).aminmax(dim=-1)
    assert (low == 0).all() and (high == 1).all()
    constant = torch.full((1, 1, 4, 4), 0.3, dtype=torch.float64)
    assert torch.equal(F.autocontrast(constant), constant)
    assert torch.equal(F.equalize(constant), torch.full_like(constant, 76 / 255))  # equalize is 8-bit: 0.3 -> 76


@pytest.mark.parametrize("name", sorted(OPS))
def test_bad_input_raises_one_line(cifar64, name):
    kernel = OPS[name][0]
    for bad, error in ((cifar64[0, 0], InputValueError), (cifar64.to(torch.int16), InputTypeError)):
        with pytest.raises(error) as info:
            kernel(bad)
        assert "\n" not in str(info.value)
