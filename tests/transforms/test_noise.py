"""GaussianNoise: torchvision's kernel with a per-sample draw, sigma ranges, uint8, keys and errors."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench import GaussianNoise, from_dict
from augbench.errors import InputValueError


def _grey(count: int = 64) -> torch.Tensor:
    """Mid-grey float images, far enough from 0 and 1 that the noise is not clipped."""
    return torch.full((count, 3, 16, 16), 0.5)


def test_noise_is_the_kernel_with_the_drawn_noise_and_sigma() -> None:
    images = torch.rand(8, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    noise = GaussianNoise(mean=0.01, sigma=(0.05, 0.2))
    params = noise.sample(images, generator=torch.Generator().manual_seed(1))
    assert params["noise"].shape == (8, 3, 9, 11) and params["sigma"].shape == (8,)
    expected = F.gaussian_noise(images, 0.01, params["sigma"], noise=params["noise"])
    assert torch.equal(noise.apply(images, params), expected)


def test_per_sample_standard_deviation_follows_the_drawn_sigma() -> None:
    noise = GaussianNoise(sigma=(0.02, 0.1))
    images = _grey()
    params = noise.sample(images, generator=torch.Generator().manual_seed(2))
    spread = (noise.apply(images, params) - images).flatten(1).std(dim=1)
    assert torch.allclose(spread, params["sigma"], rtol=0.1)
    assert float(params["sigma"].std()) > 0.01  # every sample its own sigma


def test_sigma_zero_is_the_identity_and_p_zero_leaves_every_sample() -> None:
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(GaussianNoise(sigma=0.0)(images, generator=torch.Generator().manual_seed(0)), images)
    assert torch.equal(GaussianNoise(sigma=0.3, p=0.0)(images, generator=torch.Generator().manual_seed(0)), images)


def test_uint8_noise_is_the_rounded_float_noise() -> None:
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    noise = GaussianNoise(sigma=0.1)
    params = noise.sample(images, generator=torch.Generator().manual_seed(5))
    as_float = noise.apply(images.float() / 255, params)
    assert torch.equal(noise.apply(images, params), (as_float * 255).round().to(torch.uint8))


def test_keyed_noise_depends_on_the_key_alone() -> None:
    noise = GaussianNoise(sigma=0.1)
    images = _grey(4)
    keys = torch.tensor([5, 9, 2, 7])
    full = noise(images, keys=keys, seed=3)
    part = noise(images[[2, 0]], keys=keys[[2, 0]], seed=3)
    assert torch.equal(full[[2, 0]], part)
    assert not torch.equal(full[0], full[1])


def test_round_trip_and_errors() -> None:
    noise = GaussianNoise(mean=0.0, sigma=(0.1, 0.3), p=0.5)
    assert repr(from_dict(noise.to_dict())) == repr(noise)
    with pytest.raises(InputValueError, match="sigma"):
        GaussianNoise(sigma=-0.1)
    with pytest.raises(InputValueError, match="min <= max"):
        GaussianNoise(sigma=(0.3, 0.1))
    with pytest.raises(InputValueError, match="clip=True"):
        GaussianNoise(clip=False)(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
