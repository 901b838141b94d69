"""The in-project log-mel front-end: HTK mel scale, filterbank, log-mel spectrogram."""

from __future__ import annotations

import math

import pytest
import torch

from augbench.audio_features import LogMel, hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz, num_frames
from augbench.errors import ConfigError, InputTypeError


def test_htk_mel_scale():
    assert float(hz_to_mel(0.0)) == 0.0
    assert abs(float(hz_to_mel(1000.0)) - 2595 * math.log10(1 + 1000 / 700)) < 1e-9
    hz = torch.tensor([50.0, 440.0, 3999.0], dtype=torch.float64)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(hz)), hz)


def test_filterbank_triangles_peak_at_their_centres():
    bank = mel_filterbank(20, 512, 16000, f_min=100.0, f_max=7000.0)
    assert bank.shape == (20, 257) and torch.all(bank.amax(1) == 1.0) and torch.all(bank >= 0)
    centres = mel_to_hz(torch.linspace(float(hz_to_mel(100.0)), float(hz_to_mel(7000.0)), 22)[1:-1])
    peaks = bank.argmax(1).double() * 16000 / 512
    assert torch.all((peaks - centres).abs() < 16000 / 512)  # within one bin
    assert torch.all(bank[:, : int(100 * 512 / 16000)] == 0)  # nothing below f_min


def test_narrow_low_filters_are_never_empty():
    bank = mel_filterbank(64, 64, 8000)  # 125 Hz bins, filters much narrower than a bin at the bottom
    assert torch.all(bank.sum(1) > 0)


def test_log_mel_of_a_tone_peaks_in_its_band_at_about_zero():
    front_end = LogMel(8000, n_fft=256, hop_length=128, n_mels=40)
    t = torch.arange(8000) / 8000
    features = front_end(torch.sin(2 * math.pi * 1000 * t).view(1, 1, 8000))
    assert features.shape == (1, 1, 40, num_frames(8000, 128)) == (1, 1, 40, 63)
    middle = features[0, 0, :, 31]
    band = int(middle.argmax())
    assert abs(float(mel_to_hz(hz_to_mel(4000.0) * (band + 1) / 41)) - 1000) < 60  # the band holding 1 kHz
    assert -0.5 < float(middle.max()) < 1.0  # a unit sine: its peak bin has power 1 (0 dB)
    silent = front_end(torch.zeros(1, 1, 800))
    assert torch.all(silent == math.log(1e-6))


def test_batch_channels_dtype_and_short_inputs():
    bank = mel_filterbank(10, 64, 8000)
    x = torch.randn(3, 2, 500, dtype=torch.float64)
    out = log_mel_spectrogram(x, bank, 64, 16)
    assert out.shape == (3, 2, 10, 1 + 500 // 16) and out.dtype == torch.float64
    torch.testing.assert_close(out[1, 1], log_mel_spectrogram(x[1:2, 1:2], bank, 64, 16)[0, 0])
    assert log_mel_spectrogram(torch.randn(1, 1, 5), bank, 64, 16).shape == (1, 1, 10, 1)


def test_errors():
    with pytest.raises(ConfigError, match="f_max"):
        mel_filterbank(10, 256, 8000, f_max=5000.0)
    with pytest.raises(ConfigError, match="n_mels"):
        LogMel(n_mels=0)
    with pytest.raises(InputTypeError, match=r"\(B, C, T\)"):
        log_mel_spectrogram(torch.zeros(2, 100), mel_filterbank(10, 64, 8000), 64, 16)
