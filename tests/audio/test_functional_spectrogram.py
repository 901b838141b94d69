"""The SpecAugment kernels of augbench.functional.spectrogram."""

from __future__ import annotations

import pytest
import torch

import augbench.functional.spectrogram as FS
from augbench.errors import InputValueError


def spectrograms(batch: int = 3, bins: int = 12, frames: int = 20) -> torch.Tensor:
    return torch.rand(batch, 2, bins, frames, generator=torch.Generator().manual_seed(0))


def test_mask_frequency_fills_whole_bands_with_the_per_sample_value():
    x = spectrograms()
    out = FS.mask_frequency(x, torch.tensor([1, 0, 5]), torch.tensor([3, 0, 7]), torch.tensor([-1.0, -2.0, -3.0]))
    expected = x.clone()
    expected[0, :, 1:4, :] = -1.0
    expected[2, :, 5:12, :] = -3.0
    assert torch.equal(out, expected)


def test_mask_time_with_several_masks():
    x = spectrograms()
    out = FS.mask_time(x, torch.tensor([[0, 10]] * 3), torch.tensor([[2, 1]] * 3), 0.0)
    expected = x.clone()
    expected[..., 0:2] = 0
    expected[..., 10] = 0
    assert torch.equal(out, expected)


def test_time_warp_zero_is_the_identity_and_the_ends_stay():
    x = spectrograms()
    assert torch.equal(FS.time_warp(x, torch.tensor([5.0, 10.0, 14.0]), 0.0), x)
    out = FS.time_warp(x, torch.tensor([8.0, 8.0, 12.0]), torch.tensor([3.0, -3.0, 2.5]))
    assert torch.equal(out[..., 0], x[..., 0]) and torch.equal(out[..., -1], x[..., -1])
    torch.testing.assert_close(out[0, ..., 11], x[0, ..., 8])  # the anchor frame moved to centre + warp
    torch.testing.assert_close(out[1, ..., 5], x[1, ..., 8])


def test_time_warp_is_piecewise_linear_on_a_ramp():
    """On a frame-index ramp the output is the inverse warp map: linear on each side of the anchor."""
    ramp = torch.arange(21.0).view(1, 1, 1, 21).expand(1, 1, 3, 21).contiguous()
    out = FS.time_warp(ramp, 10.0, 5.0)[0, 0, 0]
    torch.testing.assert_close(out[:16], torch.arange(16.0) * 10 / 15)
    torch.testing.assert_close(out[15:], 10 + (torch.arange(15.0, 21.0) - 15) * 10 / 5)


def test_short_spectrograms_and_bad_layout():
    short = spectrograms(frames=2)
    assert torch.equal(FS.time_warp(short, 0.5, 1.0), short)
    with pytest.raises(InputValueError, match=r"\(B, C, F, T\)"):
        FS.mask_time(torch.zeros(2, 5, 5), torch.tensor([0, 0]), torch.tensor([1, 1]))
    with pytest.raises(InputValueError, match="same shape"):
        FS.mask_frequency(spectrograms(), torch.tensor([0, 0, 0]), torch.tensor([1, 1]))
