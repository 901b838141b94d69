"""The audio and spectrogram transforms and their policy ops (the generic contract is in
tests/modalities/test_contract.py; these check each op's own invariants)."""

from __future__ import annotations

import math

import pytest
import torch

import augbench.transforms as T
from augbench.errors import AugbenchError, InputValueError
from augbench.policies.modal import MODALITY_OPS, ModalityRandAugment, list_ops
from augbench.serialization import from_dict
from augbench.transforms.base import Compose


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def waveforms(batch: int = 8, channels: int = 1, length: int = 4000) -> torch.Tensor:
    return 0.1 * torch.randn(batch, channels, length, generator=gen(1))


def spectrograms(batch: int = 8, bins: int = 40, frames: int = 50) -> torch.Tensor:
    return torch.rand(batch, 1, bins, frames, generator=gen(2))


def snr_db(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(clean.double().square().mean((1, 2)) / (noisy - clean).double().square().mean((1, 2)))


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_noise_reaches_each_samples_drawn_snr(color):
    x = waveforms(batch=16, channels=2) * torch.linspace(0.1, 3.0, 16).view(16, 1, 1)
    transform = T.AudioNoise(snr_db=(0.0, 30.0), color=color)
    params = transform.sample(x, generator=gen())
    drawn = params.snr_db
    assert drawn.min() >= 0 and drawn.max() <= 30 and drawn.unique().numel() == 16  # per-sample draws
    assert torch.all((snr_db(x, transform.apply(x, params)) - drawn.double()).abs() < 0.5)


def test_noise_with_p_computes_only_the_chosen_samples():
    x = waveforms()
    transform = T.AudioNoise(snr_db=10.0, p=0.5)
    params = transform.sample(x, generator=gen(3))
    out = transform.apply(x, params)
    chosen = params["apply"]
    assert 0 < int(chosen.sum()) < len(x)
    assert torch.equal(out[~chosen], x[~chosen])
    assert torch.all((snr_db(x[chosen], out[chosen]) - 10.0).abs() < 0.5)


def test_time_shift_draws_whole_sample_shifts_within_the_range():
    x = waveforms(length=1000)
    transform = T.AudioTimeShift(shift=(-0.1, 0.3), mode="roll")
    params = transform.sample(x, generator=gen())
    assert params.shift.dtype == torch.int64 and params.shift.min() >= -100 and params.shift.max() <= 300
    out = transform.apply(x, params)
    for b in range(len(x)):
        assert torch.equal(out[b], torch.roll(x[b], int(params.shift[b]), -1))


def test_speed_pitch_gain_draws_stay_in_their_ranges():
    x = waveforms()
    assert torch.all((T.AudioSpeed((0.9, 1.1)).sample(x, generator=gen()).factor - 1.0).abs() <= 0.1 + 1e-6)
    assert torch.all(T.AudioPitchShift(3.0).sample(x, generator=gen()).semitones.abs() <= 3.0)
    gains = T.AudioGain(6.0).sample(x, generator=gen()).gain_db
    assert torch.all(gains.abs() <= 6.0) and (gains > 0).any() and (gains < 0).any()


def test_filters_attenuate_above_the_drawn_cutoff():
    x = waveforms(batch=4, length=8000)
    low = T.AudioLowPass(cutoff=(0.1, 0.1))(x, generator=gen())
    spectrum = torch.fft.rfft(low[:, 0], dim=-1).abs().square().mean(0)
    original = torch.fft.rfft(x[:, 0], dim=-1).abs().square().mean(0)
    top = slice(2000, 4001)  # above 0.5 Nyquist, five times the cutoff: -28 dB for order 2
    assert float(spectrum[top].sum() / original[top].sum()) < 10 ** -2.5
    band = T.AudioBandPass(center=0.2, bandwidth=1.0)
    params = band.sample(x, generator=gen())
    assert torch.allclose(params.center, torch.tensor(0.2)) and torch.allclose(params.bandwidth, torch.tensor(1.0))
    assert band.apply(x, params).shape == x.shape


def test_time_mask_silences_up_to_the_width():
    x = waveforms(length=1000) + 1.0  # no zeros in the signal
    transform = T.AudioTimeMask(width=(0.05, 0.2), num_masks=2)
    params = transform.sample(x, generator=gen())
    out = transform.apply(x, params)
    assert torch.all((params.width >= 50) & (params.width <= 200))
    zeros = (out == 0).sum(dim=(1, 2))
    assert torch.all(zeros <= params.width.sum(1)) and torch.all(zeros >= params.width.max(1).values)


@pytest.mark.parametrize("name, axis", [("SpecFrequencyMask", 2), ("SpecTimeMask", 3)])
def test_spec_mask_widths_never_exceed_the_axis(name, axis):
    x = spectrograms(batch=64, bins=10, frames=12)
    transform = getattr(T, name)(max_width=1000, num_masks=1, fill=-5.0)
    params = transform.sample(x, generator=gen())
    size = x.shape[axis]
    assert params.width.max() <= size and params.width.max() >= size - 2  # widths reach the whole axis
    assert torch.all(params.start + params.width <= size) and params.width.unique().numel() > 3
    out = transform.apply(x, params)
    masked = (out == -5.0).all(dim=5 - axis)[:, 0] if axis == 2 else (out == -5.0).all(dim=2)[:, 0]
    assert torch.equal(masked.sum(-1), params.width[:, 0])


def test_spec_time_mask_caps_at_the_fraction_of_frames_and_fills_the_mean():
    x = spectrograms(batch=64, frames=50)
    transform = T.SpecTimeMask(max_width=40, max_fraction=0.2)
    params = transform.sample(x, generator=gen())
    assert params.width.max() == 10  # floor(0.2 * 50), not 40
    out = transform.apply(x, params)
    first = int(params.width[:, 0].argmax())
    start, width = int(params.start[first, 0]), int(params.width[first, 0])
    torch.testing.assert_close(out[first, ..., start : start + width], x[first].mean().expand(1, 40, width))


def test_spec_time_warp_stays_inside_and_zero_warp_is_identity():
    x = spectrograms()
    params = T.SpecTimeWarp(5.0).sample(x, generator=gen())
    assert torch.all(params.warp.abs() <= 5) and torch.all((params.center >= 5) & (params.center <= 44))
    assert torch.equal(T.SpecTimeWarp(0.0)(x, generator=gen()), x)
    assert T.SpecTimeWarp(100.0)(x[..., :4], generator=gen()).shape == (8, 1, 40, 4)


@pytest.mark.parametrize("modality, example", [("audio", waveforms), ("spectrogram", spectrograms)])
def test_every_policy_op_is_the_identity_at_level_zero(modality, example):
    x = example()
    for op in MODALITY_OPS[modality].values():
        out = op.at(0.0)(x, generator=gen())
        assert torch.equal(out, x), op.name
        assert op.at(1.0)(x, generator=gen()).shape == x.shape


def test_list_ops_names_the_audio_and_spectrogram_ops():
    assert {name for name, _ in list_ops("audio")} == {
        "Gain", "TimeShift", "Speed", "PitchShift", "Noise", "LowPass", "TimeMask"
    }
    assert {name for name, _ in list_ops("spectrogram")} == {"FrequencyMask", "TimeMask", "TimeWarp"}


@pytest.mark.parametrize("modality, example", [("audio", waveforms), ("spectrogram", spectrograms)])
def test_randaugment_on_audio_replays_and_keyed_draws_ignore_the_batch(modality, example):
    x = example()
    policy = ModalityRandAugment(modality, num_ops=2, magnitude=9)
    out = policy(x, generator=gen())
    assert out.shape == x.shape and out.dtype == x.dtype and not torch.equal(out, x)
    assert torch.equal(policy.apply(x, policy.sample(x, generator=gen())), out)
    assert torch.equal(ModalityRandAugment(modality, magnitude=0)(x, generator=gen()), x)
    keys = torch.arange(10, 18)
    whole = policy(x, keys=keys, seed=3)
    order = torch.tensor([6, 1, 3])
    torch.testing.assert_close(policy(x[order], keys=keys[order], seed=3), whole[order], atol=1e-6, rtol=0)
    again = from_dict(policy.to_dict())
    assert torch.equal(again(x, generator=gen(4)), policy(x, generator=gen(4)))


def test_compose_of_audio_ops_is_keyed_per_sample():
    x = waveforms()
    pipeline = Compose([T.AudioGain(6.0), T.AudioNoise((10.0, 30.0)), T.AudioTimeShift(0.2)])
    keys = torch.arange(100, 108)
    whole = pipeline(x, keys=keys, seed=0)
    torch.testing.assert_close(pipeline(x[[5, 2]], keys=keys[[5, 2]], seed=0), whole[[5, 2]])


def test_serialisation_keeps_the_argument_names():
    transform = T.AudioNoise(snr_db=(5.0, 15.0), color="pink", p=0.5)
    config = transform.to_dict()["transform"]
    assert config == {"__class_fullname__": "AudioNoise", "snr_db": [5.0, 15.0], "color": "pink", "p": 0.5, "same_on_batch": False}
    assert repr(from_dict(transform.to_dict())) == repr(transform)


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: T.AudioGain((6.0, -6.0)), "min > max"),
        (lambda: T.AudioTimeShift(mode="wrap"), "mode"),
        (lambda: T.AudioTimeShift(shift=1.5), "shift"),
        (lambda: T.AudioSpeed((0.0, 1.0)), "factor"),
        (lambda: T.AudioPitchShift(n_fft=64, hop_length=64), "hop_length"),
        (lambda: T.AudioNoise(color="blue"), "color"),
        (lambda: T.AudioNoise(snr_db=math.nan), "snr_db"),
        (lambda: T.AudioLowPass(cutoff=(0.5, 2.0)), "cutoff"),
        (lambda: T.AudioTimeMask(num_masks=0), "num_masks"),
        (lambda: T.SpecFrequencyMask(max_width=-1), "max_width"),
        (lambda: T.SpecTimeMask(fill="median"), "fill"),
        (lambda: T.SpecTimeWarp(-1.0), "max_warp"),
    ],
)
def test_bad_options_fail_in_one_line(build, fragment):
    with pytest.raises(InputValueError, match=fragment) as info:
        build()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "transform, bad",
    [
        (T.AudioNoise(), torch.zeros(8, 1, 40, 50)),  # a spectrogram given to a waveform op
        (T.SpecTimeMask(), torch.zeros(8, 1, 4000)),  # a waveform given to a spectrogram op
        (T.AudioGain(), torch.zeros(8, 1, 4000, dtype=torch.int16)),  # integer PCM: convert first
        (T.AudioSpeed(), torch.zeros(8, 1, 0)),  # empty recordings
    ],
)
def test_bad_input_fails_in_one_line_naming_the_modality(transform, bad):
    with pytest.raises(AugbenchError, match=transform.modality) as info:
        transform(bad, generator=gen())
    assert "\n" not in str(info.value)


def test_silent_samples_pass_through():
    silent = torch.zeros(4, 1, 2000)
    for transform in (T.AudioNoise(), T.AudioGain(), T.AudioSpeed(), T.AudioPitchShift(), T.AudioLowPass()):
        assert torch.equal(transform(silent, generator=gen()), silent)
