"""The time-series kernels of augbench/functional/timeseries.py: each op's invariant, padding, bad input."""

from __future__ import annotations

import pytest
import torch

import augbench.functional.timeseries as F
from augbench.errors import AugbenchError, InputValueError


def _series(batch: int = 6, channels: int = 2, length: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, channels, length, generator=torch.Generator().manual_seed(seed))


def _ramp(batch: int = 4, length: int = 30) -> torch.Tensor:
    """x[b, 0, t] = t: a resampled ramp shows the time map itself."""
    return torch.arange(length, dtype=torch.float32).expand(batch, 1, length).clone()


def test_valid_lengths_finds_trailing_padding_only():
    x = torch.tensor([[[1.0, 0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]],
                      [[3.0, 3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0, 1.0]],
                      [[0.0] * 5, [0.0] * 5]])
    assert F.valid_lengths(x).tolist() == [3, 5, 0]
    assert F.valid_lengths(x, pad_value=3.0).tolist() == [5, 5, 5]


def test_resample_is_exact_at_integer_positions_and_linear_between():
    x = _series()
    positions = torch.arange(40, dtype=torch.float32).expand(6, 40)
    torch.testing.assert_close(F.resample(x, positions), x, atol=1e-5, rtol=0)
    halves = positions[:, :-1] + 0.5
    torch.testing.assert_close(F.resample(x, halves), (x[..., :-1] + x[..., 1:]) / 2)


def test_smooth_curve_passes_through_its_knots_and_keeps_a_constant():
    knots = torch.tensor([[1.0, 3.0, -2.0, 0.5, 4.0]])
    curve = F.smooth_curve(knots, torch.tensor([41]), 41)
    torch.testing.assert_close(curve[0, ::10], knots[0])
    torch.testing.assert_close(F.smooth_curve(torch.full((2, 3, 6), 1.25), torch.tensor([9, 20]), 20), torch.full((2, 3, 20), 1.25))
    torch.testing.assert_close(F.smooth_curve(knots, None, 41), curve)  # one basis shared by the batch
    second_difference = curve[0, 2:] - 2 * curve[0, 1:-1] + curve[0, :-2]
    assert float(second_difference.abs().max()) < 0.2  # smooth: no kinks between knots


def test_jitter_noise_level_is_relative_to_each_channel():
    x = _series(2, 2, 4000)
    x[:, 1] *= 10.0
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    added = F.jitter(x, noise, 0.1) - x
    spread = added.std(-1) / x.std(-1)
    torch.testing.assert_close(spread, torch.full((2, 2), 0.1), atol=0.005, rtol=0)
    assert torch.equal(F.jitter(x, noise, 0.0), x)


def test_scale_multiplies_each_channel_by_its_factor():
    x = _series()
    factors = torch.rand(6, 2) + 0.5
    torch.testing.assert_close(F.scale(x, factors), x * factors[:, :, None])


def test_magnitude_warp_multiplies_by_the_smooth_curve():
    x = _series(2, 2, 21)
    knots = torch.rand(2, 2, 3) + 0.5
    out = F.magnitude_warp(x, knots)
    torch.testing.assert_close(out[..., ::10], x[..., ::10] * knots)
    torch.testing.assert_close(F.magnitude_warp(x, torch.ones(2, 2, 5)), x)


def test_time_warp_is_monotone_keeps_the_ends_and_is_the_identity_at_equal_speeds():
    x = _ramp(8, 50)
    speeds = torch.exp(0.5 * torch.randn(8, 6, generator=torch.Generator().manual_seed(2)))
    out = F.time_warp(x, speeds)
    assert bool((out[..., 1:] >= out[..., :-1]).all())
    assert torch.equal(out[..., 0], x[..., 0]) and torch.allclose(out[..., -1], x[..., -1])
    assert not torch.allclose(out, x)
    torch.testing.assert_close(F.time_warp(_series(), torch.ones(6, 4)), _series(), atol=1e-5, rtol=0)


def test_window_slice_reads_the_window_stretched():
    x = _ramp(3, 31)
    out = F.window_slice(x, torch.tensor([0.0, 0.5, 1.0]), 0.5)
    first = torch.tensor([0.0, 7.5, 15.0])
    expected = first[:, None, None] + 0.5 * torch.arange(31.0)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(F.window_slice(_series(), 0.3, 1.0), _series(), atol=1e-5, rtol=0)


def test_window_warp_stretches_the_window_and_keeps_the_length():
    x = _ramp(1, 101)
    out = F.window_warp(x, 0.5, 0.2, 2.0)
    slope = out[0, 0, 1:] - out[0, 0, :-1]
    assert bool((slope > 0).all())
    assert float(out[0, 0, 0]) == 0.0 and abs(float(out[0, 0, -1]) - 100.0) < 1e-4
    # the 20-step window (input 40..60) takes 40 warped steps of 120, read at 100 output steps
    torch.testing.assert_close(slope.max(), torch.tensor(1.2), atol=1e-4, rtol=0)
    torch.testing.assert_close(slope.min(), torch.tensor(0.6), atol=1e-4, rtol=0)
    torch.testing.assert_close(F.window_warp(_series(), 0.4, 0.3, 1.0), _series(), atol=1e-5, rtol=0)


def test_permute_segments_keeps_the_values_and_moves_whole_segments():
    x = _series(5, 3, 37)
    order = torch.rand(5, 4, generator=torch.Generator().manual_seed(3)).argsort(-1)
    segments = torch.tensor([1, 2, 3, 4, 4])
    out = F.permute_segments(x, order, segments)
    assert torch.equal(out.sort(-1).values, x.sort(-1).values)
    assert torch.equal(out[0], x[0])  # one segment: unchanged
    index = F.permute_segments(torch.arange(37.0).expand(5, 1, 37), order, segments)[:, 0]
    jumps = (index[:, 1:] - index[:, :-1] != 1).sum(-1)
    assert bool((jumps <= segments - 1).all())


def test_negate():
    x = _series()
    assert torch.equal(F.negate(x), -x)


def test_time_mask_blanks_one_span_with_the_channel_mean():
    x = _series(4, 2, 20)
    out = F.time_mask(x, torch.tensor([0.0, 0.5, 1.0, 0.2]), 0.25)
    changed = (out != x).any(1)
    assert changed.sum(-1).tolist() == [5, 5, 5, 5]
    assert changed[0, :5].all() and changed[2, -5:].all()
    torch.testing.assert_close(out[0, :, 0], x[0].mean(-1))
    zero = F.time_mask(x, 0.0, 0.25, fill="zero")
    assert bool((zero[..., :5] == 0).all()) and torch.equal(zero[..., 5:], x[..., 5:])
    assert torch.equal(F.time_mask(x, 0.3, 0.0), x)


def test_frequency_mask_removes_the_band_and_keeps_the_mean():
    x = _series(3, 2, 64) + 5.0
    out = F.frequency_mask(x, torch.tensor([0.0, 0.5, 1.0]), 0.25)
    before, after = torch.fft.rfft(x), torch.fft.rfft(out)
    frequency = torch.arange(33) / 64
    for b, low in enumerate((0.0, 0.1875, 0.375)):
        band = (frequency >= low) & (frequency < low + 0.125) & (frequency > 0)
        assert float(after[b, :, band].abs().max()) < 1e-4
        torch.testing.assert_close(after[b, :, ~band], before[b, :, ~band], atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(out.mean(-1), x.mean(-1))
    assert torch.equal(F.frequency_mask(x, 0.5, 0.0), x)


def test_drift_starts_at_zero_and_peaks_at_the_amplitude():
    x = _series(2, 3, 80)
    walk = torch.cat([torch.zeros(2, 3, 1), torch.randn(2, 3, 5).cumsum(-1)], -1)
    amplitude = torch.rand(2, 3) + 0.1
    added = F.drift(x, walk, amplitude) - x
    torch.testing.assert_close(added[..., 0], torch.zeros(2, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(added.abs().amax(-1), amplitude * x.std(-1, correction=0), atol=1e-5, rtol=1e-4)
    assert torch.equal(F.drift(x, walk, torch.zeros(2, 3)), x)


def test_align_lengths_stretches_each_valid_part():
    x = _ramp(2, 21)
    out = F.align_lengths(x, torch.tensor([11, 21]), torch.tensor([21, 11]))
    torch.testing.assert_close(out[0, 0], torch.arange(21.0) / 2)
    torch.testing.assert_close(out[1, 0, :11], torch.arange(11.0) * 2)


def _draw(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


PADDED_CALLS = {
    "jitter": lambda x, n: F.jitter(x, 2 * _draw(*x.shape) - 1, 0.2, n),
    "scale": lambda x, n: F.scale(x, torch.full((x.shape[0], x.shape[1]), 2.0), n),
    "magnitude_warp": lambda x, n: F.magnitude_warp(x, _draw(x.shape[0], x.shape[1], 4) + 0.5, n),
    "time_warp": lambda x, n: F.time_warp(x, _draw(x.shape[0], 5) + 0.5, n),
    "window_slice": lambda x, n: F.window_slice(x, 0.3, 0.6, n),
    "window_warp": lambda x, n: F.window_warp(x, 0.3, 0.3, 2.0, n),
    "permute_segments": lambda x, n: F.permute_segments(x, torch.tensor([[2, 0, 1]]).expand(x.shape[0], 3), torch.full((x.shape[0],), 3), n),
    "negate": lambda x, n: F.negate(x, n),
    "time_mask": lambda x, n: F.time_mask(x, 0.5, 0.3, "mean", n),
    "frequency_mask": lambda x, n: F.frequency_mask(x, 0.2, 0.3, n),
    "drift": lambda x, n: F.drift(x, (_draw(x.shape[0], x.shape[1], 5) - 0.5).cumsum(-1), torch.full((x.shape[0], x.shape[1]), 0.5), n),
}


@pytest.mark.parametrize("name", sorted(PADDED_CALLS))
def test_padding_is_kept_and_never_read(name):
    x = _series(3, 2, 30)
    lengths = torch.tensor([30, 17, 9])
    padded = x.clone()
    for b, n in enumerate(lengths.tolist()):
        padded[b, :, n:] = -7.0
    other = padded.clone()
    other[1, :, 17:] = 123.0  # different padding values: the valid part must not change
    out, out_other = PADDED_CALLS[name](padded, lengths), PADDED_CALLS[name](other, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.equal(out[b, :, n:], padded[b, :, n:]), "padding must come back unchanged"
    torch.testing.assert_close(out[1, :, :17], out_other[1, :, :17])


@pytest.mark.parametrize("name", sorted(PADDED_CALLS))
def test_kernels_keep_dtype_and_take_empty_batches(name):
    for dtype in (torch.float64, torch.float16):
        x = _series(3, 2, 16).to(dtype)
        assert PADDED_CALLS[name](x, None).dtype == dtype
    empty = torch.zeros(0, 2, 16)
    assert PADDED_CALLS[name](empty, None).shape == (0, 2, 16)


def test_bad_input_is_one_line():
    with pytest.raises(InputValueError, match=r"\(B, C, L\)"):
        F.time_warp(torch.zeros(3, 10), torch.ones(3, 4))
    with pytest.raises(AugbenchError, match="float"):
        F.negate(torch.zeros(2, 1, 5, dtype=torch.int64))
    with pytest.raises(InputValueError, match="noise has shape"):
        F.jitter(_series(), torch.zeros(6, 2, 39), 0.1)
    with pytest.raises(InputValueError, match="one row per sample"):
        F.window_slice(_series(), torch.zeros(5), 0.5)
    with pytest.raises(InputValueError, match="lengths must be"):
        F.negate(_series(), torch.tensor([1.0] * 6))
    with pytest.raises(InputValueError, match="'mean' or 'zero'"):
        F.time_mask(_series(), 0.1, 0.1, fill="noise")
