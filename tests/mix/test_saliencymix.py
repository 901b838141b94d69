"""SaliencyMix card: the box is centred on the partner's saliency peak (augbench/mix/saliencymix.py)."""

from __future__ import annotations

import pytest
import torch

from augbench.mix import SaliencyMix
from augbench.mix.saliencymix import saliency_peaks, spectral_residual_saliency


def blob_images(batch: int, size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noisy grey float images with one bright 3x3 square each; returns images and square centres."""
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    images = 0.4 + 0.05 * torch.rand(batch, 3, height, width, generator=generator)
    top = torch.randint(0, height - 2, (batch,), generator=generator)
    left = torch.randint(0, width - 2, (batch,), generator=generator)
    rows = torch.arange(height).view(1, -1, 1)
    cols = torch.arange(width).view(1, 1, -1)
    square = (
        (rows >= top.view(-1, 1, 1)) & (rows < top.view(-1, 1, 1) + 3)
        & (cols >= left.view(-1, 1, 1)) & (cols < left.view(-1, 1, 1) + 3)
    )
    return torch.where(square[:, None], torch.ones(()), images), top + 1, left + 1


@pytest.mark.parametrize("size", [(8, 8), (20, 24), (96, 128)])
def test_saliency_peak_finds_the_odd_object(size: tuple[int, int]) -> None:
    images, centre_row, centre_col = blob_images(32, size)
    rows, cols = saliency_peaks(images)
    assert int((rows - centre_row).abs().max()) <= 1 and int((cols - centre_col).abs().max()) <= 1


def test_saliency_maps_shape_range_and_dtype() -> None:
    images = torch.randint(0, 256, (3, 3, 100, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    maps = spectral_residual_saliency(images)
    assert maps.shape == (3, 64, 32) and maps.dtype == torch.float32  # longer side shrunk to 64
    assert float(maps.min()) == 0.0 and float(maps.max()) == pytest.approx(1.0)
    constant = spectral_residual_saliency(torch.full((2, 1, 8, 8), 0.5))
    assert not bool(constant.isnan().any())


@pytest.mark.parametrize("per_sample", [True, False])
def test_box_contains_the_partner_saliency_peak(per_sample: bool) -> None:
    images, _, _ = blob_images(64, (20, 28), seed=1)
    labels = torch.zeros(64, dtype=torch.int64)
    mixer = SaliencyMix(2, per_sample=per_sample)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    peak_row, peak_col = saliency_peaks(images[params.index])
    if not per_sample:  # one box, from the peak of sample 0's partner
        peak_row, peak_col = peak_row[:1].expand(64), peak_col[:1].expand(64)
    nonempty = (params.height > 0) & (params.width > 0)
    assert int(nonempty.sum()) > 0
    inside = (
        (params.top <= peak_row) & (peak_row < params.top + params.height)
        & (params.left <= peak_col) & (peak_col < params.left + params.width)
    )
    assert bool(inside[nonempty].all())


def test_label_weight_equals_pasted_area_and_boxes_follow_content() -> None:
    images, _, _ = blob_images(64, (16, 24), seed=2)
    labels = torch.zeros(64, dtype=torch.int64)
    mixer = SaliencyMix(2)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    result = mixer.apply(images, labels, params)
    changed = (result.inputs != images).any(1).float().mean((1, 2))
    torch.testing.assert_close(1 - result.lam, (params.height * params.width).float() / (16 * 24))
    assert bool((changed <= 1 - result.lam + 1e-6).all())
    centres = torch.stack([params.top + params.height // 2, params.left + params.width // 2], 1)
    assert centres.unique(dim=0).shape[0] > 16  # boxes do not cluster at one place such as (0, 0)


def test_digit_peaks_fall_on_strokes() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    digits = torch.tensor(datasets.load_digits().images, dtype=torch.float32)[:, None] / 16
    rows, cols = saliency_peaks(digits)
    on_stroke = digits[torch.arange(len(digits)), 0, rows, cols] > 0
    assert on_stroke.float().mean() > 0.9  # the card's check on 8x8 digits
