"""gaussian_noise: explicit randomness, the formula, per-sample parameters, dtypes and errors."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench.errors import InputTypeError, InputValueError


def test_formula_with_given_noise(cifar64):
    images = cifar64[:4].float() / 255
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(3))
    mean, sigma = torch.tensor([0.0, 0.1, -0.2, 0.05]), torch.tensor([0.1, 0.0, 0.3, 0.02])
    expected = (images + mean.view(-1, 1, 1, 1) + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1)
    torch.testing.assert_close(F.gaussian_noise(images, mean, sigma, noise=noise), expected)
    unclipped = F.gaussian_noise(images, mean, sigma, clip=False, noise=noise)
    torch.testing.assert_close(unclipped, images + mean.view(-1, 1, 1, 1) + sigma.view(-1, 1, 1, 1) * noise)
    uint8 = F.gaussian_noise(cifar64[:4], mean, sigma, noise=noise)
    offset = 255 * (mean.view(-1, 1, 1, 1) + sigma.view(-1, 1, 1, 1) * noise)
    reference = (cifar64[:4].float() + offset).round().clamp(0, 255)
    assert uint8.dtype == torch.uint8 and torch.equal(uint8, reference.to(torch.uint8))


def test_generator_is_the_only_randomness(cifar64):
    images = cifar64[:8]
    first = F.gaussian_noise(images, 0.0, 0.1, generator=torch.Generator().manual_seed(7))
    again = F.gaussian_noise(images, 0.0, 0.1, generator=torch.Generator().manual_seed(7))
    other = F.gaussian_noise(images, 0.0, 0.1, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
    drawn = torch.randn(images.shape, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, F.gaussian_noise(images, 0.0, 0.1, noise=drawn))


def test_per_sample_sigma_statistics_and_identity(cifar64):
    images = torch.full((3, 3, 64, 64), 0.5, dtype=torch.float64)
    sigma = torch.tensor([0.0, 0.05, 0.15])
    noisy = F.gaussian_noise(images, 0.0, sigma, generator=torch.Generator().manual_seed(0))
    assert noisy.dtype == torch.float64 and noisy.shape == images.shape
    spread = (noisy - images).flatten(1).std(1)
    torch.testing.assert_close(spread, sigma.double(), atol=0.005, rtol=0)
    assert torch.equal(F.gaussian_noise(cifar64, 0.0, 0.0, generator=torch.Generator()), cifar64)
    shared = torch.randn(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    per_channel_same = F.gaussian_noise(images, 0.0, 0.1, noise=shared)
    assert torch.equal(per_channel_same[:, 0], per_channel_same[:, 2])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda x: F.gaussian_noise(x, generator=torch.Generator(), noise=torch.randn(x.shape)), InputValueError),
        (lambda x: F.gaussian_noise(x, clip=False, generator=torch.Generator()), InputValueError),
        (lambda x: F.gaussian_noise(x, sigma=-0.1, generator=torch.Generator()), InputValueError),
        (lambda x: F.gaussian_noise(x, noise=torch.randn(2, 3, 5, 5)), InputValueError),
        (lambda x: F.gaussian_noise(x, noise=torch.zeros(x.shape, dtype=torch.int64)), InputTypeError),
        (lambda x: F.gaussian_noise(x.int(), generator=torch.Generator()), InputTypeError),
    ],
)
def test_bad_input_raises_one_line(cifar64, call, error):
    with pytest.raises(error) as info:
        call(cifar64[:2])
    assert "\n" not in str(info.value)
