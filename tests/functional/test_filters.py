"""adjust_sharpness against Pillow's ImageEnhance.Sharpness, gaussian_blur against scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import augbench.functional as F
from augbench.errors import InputValueError

ImageEnhance = pytest.importorskip("PIL.ImageEnhance")


@pytest.mark.parametrize("factor", [0.0, 0.1, 0.5, 1.0, 1.45, 1.9])
def test_sharpness_matches_pillow(cifar64, pil_reference, factor):
    reference = pil_reference.apply(cifar64, lambda im: ImageEnhance.Sharpness(im).enhance(factor))
    pil_reference.check(F.adjust_sharpness(cifar64, factor), reference)


def test_sharpness_grey_border_and_tiny_images(cifar64, pil_reference):
    grey = F.rgb_to_grayscale(cifar64[:8])
    reference = pil_reference.apply(grey, lambda im: ImageEnhance.Sharpness(im).enhance(1.8))
    pil_reference.check(F.adjust_sharpness(grey, 1.8), reference)
    smoothed = F.adjust_sharpness(cifar64[:8], 0.0)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    assert torch.equal(smoothed[..., border], cifar64[:8][..., border])
    tiny = cifar64[:2, :, :2, :5]
    assert torch.equal(F.adjust_sharpness(tiny, 1.7), tiny)


def test_sharpness_per_sample_float_and_identity(cifar64):
    factors = [0.0, 0.4, 1.0, 1.3, 1.9]
    images = cifar64[: len(factors)]
    batched = F.adjust_sharpness(images, torch.tensor(factors))
    separate = torch.cat([F.adjust_sharpness(images[i : i + 1], f) for i, f in enumerate(factors)])
    assert torch.equal(batched, separate)
    floats = F.adjust_sharpness(images.double() / 255, torch.tensor(factors))
    assert floats.dtype == torch.float64
    assert (floats * 255 - batched.double()).abs().max() <= 1.0 + 0.5 * 0.9 + 1e-6
    assert torch.equal(F.adjust_sharpness(images, 1.0), images)


def _scipy_blur(images: np.ndarray, size_x: int, size_y: int, sigma_x: float, sigma_y: float) -> np.ndarray:
    """torchvision's convention in scipy terms: reflect padding without repeating the edge is 'mirror'."""
    out = ndimage.gaussian_filter1d(images, sigma_x, axis=-1, mode="mirror", radius=size_x // 2)
    return ndimage.gaussian_filter1d(out, sigma_y, axis=-2, mode="mirror", radius=size_y // 2)


@pytest.mark.parametrize(("kernel_size", "sigma"), [(3, 0.8), ((5, 3), (1.5, 0.6)), (9, 2.5), (7, None)])
def test_gaussian_blur_matches_scipy(cifar64, kernel_size, sigma):
    size_x, size_y = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if sigma is None:
        sigmas = (0.3 * ((size_x - 1) * 0.5 - 1) + 0.8, 0.3 * ((size_y - 1) * 0.5 - 1) + 0.8)
    else:
        sigmas = (sigma, sigma) if isinstance(sigma, float) else sigma
    images = cifar64[:16]
    reference = _scipy_blur(images.double().numpy(), size_x, size_y, *sigmas)
    floats = F.gaussian_blur(images.double(), kernel_size, sigma)
    np.testing.assert_allclose(floats.numpy(), reference, atol=1e-9)
    uint8 = F.gaussian_blur(images, kernel_size, sigma)
    assert uint8.dtype == torch.uint8
    assert (uint8.double() - torch.from_numpy(reference)).abs().max() <= 0.5 + 1e-3


def test_gaussian_blur_per_sample_sigma(cifar64):
    images = cifar64[:6].float() / 255
    sigma_x, sigma_y = torch.tensor([0.3, 0.7, 1.0, 1.6, 2.2, 3.0]), torch.tensor([3.0, 0.5, 1.0, 1.1, 0.9, 0.2])
    batched = F.gaussian_blur(images, (7, 5), (sigma_x, sigma_y))
    separate = torch.cat(
        [F.gaussian_blur(images[i : i + 1], (7, 5), (float(sigma_x[i]), float(sigma_y[i]))) for i in range(6)]
    )
    torch.testing.assert_close(batched, separate, atol=1e-6, rtol=0)
    assert torch.equal(F.gaussian_blur(cifar64[:4], 3, 0.05), cifar64[:4])  # a tiny sigma is the identity


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.gaussian_blur(x, 4, 1.0),
        lambda x: F.gaussian_blur(x, (3, 3, 3), 1.0),
        lambda x: F.gaussian_blur(x, 0, 1.0),
        lambda x: F.gaussian_blur(x, 3, 0.0),
        lambda x: F.gaussian_blur(x, 3, torch.tensor([1.0, -1.0])),
        lambda x: F.gaussian_blur(x, 3, (1.0, 1.0, 1.0)),
        lambda x: F.gaussian_blur(x, 65, 1.0),
        lambda x: F.adjust_sharpness(x, -0.5),
        lambda x: F.adjust_sharpness(x, torch.ones(5)),
    ],
)
def test_bad_params_raise_one_line(cifar64, call):
    with pytest.raises(InputValueError) as info:
        call(cifar64[:2])
    assert "\n" not in str(info.value)
