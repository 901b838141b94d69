"""FMix card: binary low-frequency masks whose mean is lam (augbench/mix/fmix.py)."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import InputValueError
from augbench.mix import FMix
from augbench.mix.fmix import fourier_masks


def labelled_images(batch: int, size: tuple[int, int]) -> torch.Tensor:
    return torch.arange(batch, dtype=torch.uint8).view(-1, 1, 1, 1).expand(batch, 3, *size).clone()


@pytest.mark.parametrize("size", [(8, 8), (16, 21), (13, 10)])
def test_mask_mean_equals_lambda(size: tuple[int, int]) -> None:
    batch = 64
    images = labelled_images(batch, size)
    labels = torch.zeros(batch, dtype=torch.int64)
    mixer = FMix(2)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    result = mixer.apply(images, labels, params)
    kept = (result.inputs[:, 0] == torch.arange(batch).view(-1, 1, 1).to(torch.uint8)).float().mean((1, 2))
    torch.testing.assert_close(result.lam, kept)  # the reported lam is the exact mask mean
    pixels = size[0] * size[1]
    assert (result.lam - params.lam).abs().max() <= 0.5 / pixels + 1e-6  # drawn lam, up to binarisation


def test_mean_lambda_is_one_half() -> None:
    images = torch.zeros(4000, 1, 8, 8, dtype=torch.uint8)
    lam = FMix(2)(images, torch.zeros(4000, dtype=torch.int64), generator=torch.Generator().manual_seed(1)).lam
    assert lam.double().mean().item() == pytest.approx(0.5, abs=0.015)


def neighbour_agreement(masks: torch.Tensor) -> float:
    """Fraction of horizontally and vertically adjacent pixel pairs with the same mask value."""
    same_rows = (masks[..., 1:, :] == masks[..., :-1, :]).float().mean()
    same_cols = (masks[..., :, 1:] == masks[..., :, :-1]).float().mean()
    return float((same_rows + same_cols) / 2)


def test_masks_are_spatially_coherent_and_decay_power_matters() -> None:
    generator = torch.Generator().manual_seed(2)
    coefficients = torch.randn(256, 2, 32, 17, generator=generator)
    lam = torch.full((256,), 0.5)
    blobby, _ = fourier_masks(coefficients, lam, 32, 32, decay_power=3.0)
    noisy, _ = fourier_masks(coefficients, lam, 32, 32, decay_power=0.01)
    assert neighbour_agreement(blobby) > 0.9  # a few smooth blobs
    assert neighbour_agreement(noisy) < 0.6  # about salt-and-pepper (0.5 for independent pixels)
    assert not bool((blobby.flatten(1).all(1) | (~blobby).flatten(1).all(1)).any())  # never constant at lam=1/2


def test_extreme_lambdas_give_constant_masks() -> None:
    coefficients = torch.randn(2, 2, 6, 4, generator=torch.Generator().manual_seed(3))
    masks, lam = fourier_masks(coefficients, torch.tensor([0.0, 1.0]), 6, 7, 3.0)
    assert masks.shape == (2, 1, 6, 7)
    assert not bool(masks[0].any()) and bool(masks[1].all())
    assert torch.equal(lam, torch.tensor([0.0, 1.0]))


def test_float_pixels_come_from_image_or_partner() -> None:
    images = torch.rand(5, 3, 9, 12, generator=torch.Generator().manual_seed(0))
    result = FMix(2)(images, torch.zeros(5, dtype=torch.int64), generator=torch.Generator().manual_seed(0))
    assert bool(((result.inputs == images) | (result.inputs == images[result.index])).all())


def test_decay_power_must_be_positive() -> None:
    with pytest.raises(InputValueError, match="decay_power=0 must be a finite number > 0"):
        FMix(2, decay_power=0)
