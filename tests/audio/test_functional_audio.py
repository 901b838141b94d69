"""The waveform kernels of augbench.functional.audio: each op's invariant on known signals."""

from __future__ import annotations

import math

import pytest
import torch

import augbench.functional.audio as FA
from augbench.errors import InputTypeError, InputValueError

RATE = 16000


def tone(frequency: float, batch: int = 1, length: int = RATE, amplitude: float = 0.5) -> torch.Tensor:
    """``(batch, 1, length)`` sines of ``frequency`` Hz at 16 kHz."""
    t = torch.arange(length, dtype=torch.float64) / RATE
    return (amplitude * torch.sin(2 * math.pi * frequency * t)).float().view(1, 1, length).repeat(batch, 1, 1)


def peak_hz(waveforms: torch.Tensor) -> torch.Tensor:
    """The strongest frequency of each sample (Hann-windowed FFT, 1 Hz bins for 1 s)."""
    length = waveforms.shape[-1]
    spectrum = torch.fft.rfft(waveforms[:, 0].double() * torch.hann_window(length, dtype=torch.float64), dim=-1).abs()
    return spectrum.argmax(-1).double() * RATE / length


def rms(waveforms: torch.Tensor) -> torch.Tensor:
    return waveforms.double().square().mean(dim=(1, 2)).sqrt()


def noise(batch: int = 4, channels: int = 1, length: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, channels, length, generator=torch.Generator().manual_seed(seed))


def test_gain_scales_amplitude_by_decibels():
    x = noise()
    out = FA.gain(x, torch.tensor([0.0, 6.0, -20.0, 20.0]))
    torch.testing.assert_close(out[0], x[0])
    torch.testing.assert_close(out / x, torch.tensor([1.0, 10 ** 0.3, 0.1, 10.0]).view(4, 1, 1).expand_as(x))


def test_invert_polarity_negates():
    x = noise()
    assert torch.equal(FA.invert_polarity(x), -x)


@pytest.mark.parametrize("mode", ["zero", "roll"])
def test_time_shift_moves_every_sample_by_its_own_steps(mode):
    x = noise(batch=3, channels=2, length=50)
    shifts = torch.tensor([0, 7, -11])
    out = FA.time_shift(x, shifts, mode)
    for b, steps in enumerate(shifts.tolist()):
        rolled = torch.roll(x[b], steps, dims=-1)
        if mode == "zero":
            if steps > 0:
                rolled[:, :steps] = 0
            elif steps < 0:
                rolled[:, steps:] = 0
        assert torch.equal(out[b], rolled)


def test_time_shift_past_the_whole_length_is_silence():
    assert torch.equal(FA.time_shift(noise(length=10), 10), torch.zeros(4, 1, 10))


def test_change_speed_multiplies_frequency_and_keeps_the_length():
    x = tone(440.0, batch=3)
    out = FA.change_speed(x, torch.tensor([1.0, 1.1, 0.9]))
    assert out.shape == x.shape
    assert torch.equal(out[0], x[0])  # factor 1: the samples themselves
    torch.testing.assert_close(peak_hz(out), torch.tensor([440.0, 484.0, 396.0], dtype=torch.float64), atol=1.0, rtol=0)


def test_change_speed_faster_ends_in_silence_slower_is_cut():
    x = torch.ones(2, 1, 100)
    out = FA.change_speed(x, torch.tensor([2.0, 0.5]))
    assert torch.all(out[0, 0, :50] == 1) and torch.all(out[0, 0, 51:] == 0)
    assert torch.all(out[1] == 1)  # the slower sample reads only its first half


def test_change_speed_refuses_non_positive_factor():
    with pytest.raises(InputValueError, match="factor"):
        FA.change_speed(noise(), 0.0)


def test_pitch_shift_moves_the_pitch_at_the_same_duration():
    x = tone(440.0, batch=4)
    steps = torch.tensor([0.0, 12.0, -5.0, 3.0])
    out = FA.pitch_shift(x, steps)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out[0], x[0])  # 0 semitones: unchanged
    expected = 440.0 * 2.0 ** (steps.double() / 12.0)
    torch.testing.assert_close(peak_hz(out), expected, atol=expected.max().item() * 0.01, rtol=0)
    # a steady tone keeps its level within ~1.5 dB (phase vocoder without phase locking)
    assert torch.all((20 * torch.log10(rms(out) / rms(x))).abs() < 1.5)


def test_pitch_shift_up_is_band_limited():
    """Shifting up a tone near Nyquist would alias it; the low-pass before resampling removes it."""
    x = tone(7000.0, batch=1)
    out = FA.pitch_shift(x, 12.0)
    assert rms(out) < 0.05 * rms(x)


def test_pitch_shift_short_input_and_bad_options():
    assert FA.pitch_shift(noise(length=10), 2.0).shape == (4, 1, 10)
    with pytest.raises(InputValueError, match="hop_length"):
        FA.pitch_shift(noise(), 2.0, n_fft=64, hop_length=40)


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_add_noise_reaches_the_target_snr(color):
    x = noise(batch=5, channels=2, length=8000, seed=1) * torch.tensor([0.01, 0.1, 1.0, 3.0, 0.5]).view(5, 1, 1)
    target = torch.tensor([-5.0, 0.0, 10.0, 20.0, 40.0])
    shaped = FA.color_noise(noise(batch=5, channels=2, length=8000, seed=2), FA.NOISE_EXPONENTS[color])
    out = FA.add_noise(x, shaped, target)
    achieved = 10 * torch.log10(x.double().square().mean((1, 2)) / (out - x).double().square().mean((1, 2)))
    assert torch.all((achieved - target.double()).abs() < 0.5)


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_color_noise_has_the_power_law_slope(exponent):
    """Power per octave band falls by 3 dB per octave and unit exponent (10 log10 2 = 3.01)."""
    white = noise(batch=16, length=2 ** 14, seed=3)
    spectrum = torch.fft.rfft(FA.color_noise(white, exponent)[:, 0].double(), dim=-1).abs().square().mean(0)
    low = spectrum[256:512].mean()  # bins 256-511 and 1024-2047: two octaves apart
    high = spectrum[1024:2048].mean()
    slope_db = 10 * math.log10(float(low / high)) / 2.0  # dB per octave
    assert abs(slope_db - 3.01 * exponent) < 0.4


def test_add_noise_leaves_silence_silent_and_checks_shapes():
    silent = torch.zeros(2, 1, 100)
    assert torch.equal(FA.add_noise(silent, noise(2, 1, 100), 10.0), silent)
    with pytest.raises(InputValueError, match="noise has shape"):
        FA.add_noise(silent, noise(2, 1, 50), 10.0)


def response_db(filtered: torch.Tensor, original: torch.Tensor, hz: float) -> float:
    frequency = torch.fft.rfftfreq(original.shape[-1], 1 / RATE)
    ratio = torch.fft.rfft(filtered[0, 0].double()).abs() / torch.fft.rfft(original[0, 0].double()).abs()
    return float(20 * torch.log10(ratio[(frequency - hz).abs().argmin()]))


def test_band_pass_has_butterworth_edges():
    x = noise(batch=1, length=RATE, seed=4)
    low_pass = FA.band_pass(x, 0.0, 1000.0, RATE)
    assert abs(response_db(low_pass, x, 1000.0) + 3.01) < 0.05  # -3 dB at the cutoff
    assert abs(response_db(low_pass, x, 4000.0) + 24.1) < 0.3  # order 2: -12 dB per octave above it
    assert response_db(low_pass, x, 100.0) > -0.01
    band = FA.band_pass(x, 500.0, 2000.0, RATE)
    assert abs(response_db(band, x, 500.0) + 3.01) < 0.1 and abs(response_db(band, x, 2000.0) + 3.01) < 0.1
    assert response_db(band, x, 100.0) < -25


def test_band_pass_per_sample_cutoffs_and_identity():
    x = noise(batch=2, length=RATE, seed=5)
    out = FA.band_pass(x, 0.0, torch.tensor([RATE / 2, 500.0]), RATE)
    torch.testing.assert_close(out[0], x[0], atol=1e-5, rtol=0)  # cutoff at Nyquist: no filter
    assert rms(out[1:]) < 0.3 * rms(x[1:])


def test_time_mask_silences_the_segments_only():
    x = noise(batch=2, channels=2, length=20)
    out = FA.time_mask(x, torch.tensor([[2, 15], [0, 0]]), torch.tensor([[3, 10], [0, 0]]))
    expected = x.clone()
    expected[0, :, 2:5] = 0
    expected[0, :, 15:] = 0
    assert torch.equal(out, expected)


def test_kernels_refuse_wrong_layout_and_dtype():
    with pytest.raises(InputValueError, match=r"\(B, C, T\)"):
        FA.gain(torch.zeros(4, 100), 1.0)
    with pytest.raises(InputTypeError, match="float"):
        FA.time_shift(torch.zeros(1, 1, 10, dtype=torch.int16), 1)
    with pytest.raises(InputValueError, match="one value per sample"):
        FA.gain(noise(), torch.zeros(3))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_kernels_keep_the_dtype(dtype):
    x = noise(batch=2, length=600).to(dtype)
    outputs = [
        FA.gain(x, 3.0), FA.time_shift(x, 5), FA.change_speed(x, 1.1), FA.pitch_shift(x, 2.0, n_fft=128, hop_length=32),
        FA.add_noise(x, FA.color_noise(noise(2, 1, 600).to(dtype), 1.0), 10.0), FA.band_pass(x, 100.0, 3000.0, RATE),
        FA.time_mask(x, torch.tensor([1, 2]), torch.tensor([3, 4])),
    ]
    assert all(out.dtype == dtype and out.shape == x.shape for out in outputs)
