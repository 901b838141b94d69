"""The in-project log-mel front-end: STFT power spectrogram, an HTK mel filterbank, log.

Used by the ``fsdd_logmel`` dataset (spectrograms stored once) and by the ``speech_cnn`` model
(the same features computed inside the model from waveforms, so waveform augmentations run
before it). torch only: ``torch.stft`` with a periodic Hann window, ``center=True`` with
reflection padding, so a waveform of ``T`` samples gives ``1 + T // hop_length`` frames.

Mel scale: the HTK formula ``mel = 2595 log10(1 + f / 700)`` (O'Shaughnessy 1987), triangular
filters with their corners at ``n_mels + 2`` points equally spaced in mel between ``f_min`` and
``f_max``, peak 1 (no Slaney area normalisation), interpolated linearly in Hz on the FFT bins.
Every filter gets at least its nearest bin, so very narrow low filters are never empty.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from augbench.errors import ConfigError, InputTypeError, InputValueError

__all__ = ["hz_to_mel", "mel_to_hz", "mel_filterbank", "log_mel_spectrogram", "LogMel", "num_frames"]

_LOG_FLOOR = 1e-6
"""Power floor before the logarithm (-60 dB re full scale for a unit-amplitude sine)."""


def hz_to_mel(hz: Tensor | float) -> Tensor:
    """HTK mel of frequencies in Hz: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: Tensor | float) -> Tensor:
    """Frequencies in Hz of HTK mels (the inverse of :func:`hz_to_mel`)."""
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def _check_front_end(sample_rate: int, n_fft: int, hop_length: int, n_mels: int, f_min: float, f_max: float | None) -> float:
    """``f_max`` resolved (``None`` -> Nyquist) after checking every option; one-line errors."""
    for name, value in (("sample_rate", sample_rate), ("n_fft", n_fft), ("hop_length", hop_length), ("n_mels", n_mels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"log-mel front-end: {name}={value!r} must be a whole number >= 1")
    if n_fft < 2:
        raise ConfigError(f"log-mel front-end: n_fft={n_fft} must be >= 2")
    nyquist = sample_rate / 2
    top = nyquist if f_max is None else float(f_max)
    if not 0.0 <= f_min < top <= nyquist:
        raise ConfigError(
            f"log-mel front-end: need 0 <= f_min < f_max <= sample_rate / 2 = {nyquist:g} Hz, "
            f"got f_min={f_min!r}, f_max={f_max!r}"
        )
    return top


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """Triangular HTK mel filters on the ``n_fft // 2 + 1`` bins of a real FFT.

    Args:
        n_mels: number of filters, >= 1.
        n_fft: FFT size in samples.
        sample_rate: in Hz.
        f_min, f_max: band edges in Hz (``f_max`` default: ``sample_rate / 2``).

    Returns:
        ``(n_mels, n_fft // 2 + 1)`` float32 weights in [0, 1]; row ``m`` peaks (1) at the
        centre frequency of filter ``m``.

    >>> bank = mel_filterbank(4, 16, 8000)
    >>> tuple(bank.shape), float(bank.max())
    ((4, 9), 1.0)
    """
    top = _check_front_end(sample_rate, n_fft, 1, n_mels, f_min, f_max)
    corners = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(top)), n_mels + 2, dtype=torch.float64))
    bins = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    low, centre, high = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rising = (bins - low) / (centre - low)
    falling = (high - bins) / (high - centre)
    weights = torch.minimum(rising, falling).clamp(min=0.0)
    nearest = (bins[None, :] - centre).abs().argmin(1)
    weights[torch.arange(n_mels), nearest] = weights[torch.arange(n_mels), nearest].clamp(min=1e-3)
    return (weights / weights.amax(1, keepdim=True)).float()


def num_frames(length: int, hop_length: int) -> int:
    """Frames of a ``length``-sample waveform (centred STFT): ``1 + length // hop_length``."""
    return 1 + length // hop_length


def log_mel_spectrogram(
    waveforms: Tensor, filterbank: Tensor, n_fft: int, hop_length: int, window: Tensor | None = None
) -> Tensor:
    """Natural-log mel power spectrogram of a batch of waveforms.

    ``log(max(M |STFT(x)|^2 * 4 / sum(window)^2, 1e-6))`` with ``M`` the filterbank: the
    scaling gives the peak bin of a unit-amplitude sine power 1 (0 dB), so a filter holding it
    reads about 0 (a little more with the window's leakage into the neighbouring bins).

    Args:
        waveforms: ``(B, C, T)`` float, ``T >= 1`` (short inputs are zero-padded to ``n_fft // 2 + 1``
            before the reflection padding).
        filterbank: ``(F, n_fft // 2 + 1)`` from :func:`mel_filterbank`.
        n_fft, hop_length: STFT size and hop in samples.
        window: ``(n_fft,)`` analysis window (default: periodic Hann on the waveforms' device).

    Returns:
        ``(B, C, F, 1 + T // hop_length)`` float32 (float64 stays float64).
    """
    if not isinstance(waveforms, Tensor) or waveforms.ndim != 3 or not waveforms.is_floating_point():
        got = f"{waveforms.dtype} {tuple(waveforms.shape)}" if isinstance(waveforms, Tensor) else type(waveforms).__name__
        raise InputTypeError(f"log_mel_spectrogram: expected (B, C, T) float waveforms, got {got}")
    if filterbank.shape[-1] != n_fft // 2 + 1:
        raise InputValueError(
            f"log_mel_spectrogram: the filterbank has {filterbank.shape[-1]} bins, n_fft={n_fft} needs {n_fft // 2 + 1}"
        )
    batch, channels, length = waveforms.shape
    dtype = torch.float64 if waveforms.dtype == torch.float64 else torch.float32
    flat = waveforms.reshape(batch * channels, length).to(dtype)
    if length <= n_fft // 2:  # reflection padding needs more samples than the pad
        flat = nn.functional.pad(flat, (0, n_fft // 2 + 1 - length))
    window = torch.hann_window(n_fft, dtype=dtype, device=waveforms.device) if window is None else window.to(dtype)
    spectrum = torch.stft(flat, n_fft, hop_length, window=window, center=True, pad_mode="reflect", return_complex=True)
    frames = num_frames(length, hop_length)
    power = spectrum[..., :frames].abs().square_().mul_(4.0 / window.sum().square())
    mel = torch.matmul(filterbank.to(dtype), power)
    return mel.clamp_(min=_LOG_FLOOR).log_().view(batch, channels, filterbank.shape[0], frames)


class LogMel(nn.Module):
    """:func:`log_mel_spectrogram` as a module (window and filterbank kept as buffers).

    Args:
        sample_rate: in Hz.
        n_fft: STFT size in samples (256 = 32 ms at 8 kHz).
        hop_length: hop in samples (128 = 16 ms at 8 kHz).
        n_mels: mel filters.
        f_min, f_max: band edges in Hz (``f_max`` default: Nyquist).

    Shape:
        ``(B, C, T)`` float -> ``(B, C, n_mels, 1 + T // hop_length)`` float32 log-mel power.

    >>> LogMel(8000, n_mels=40)(torch.zeros(2, 1, 8000)).shape
    torch.Size([2, 1, 40, 63])
    """

    def __init__(
        self, sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 128, n_mels: int = 40,
        f_min: float = 0.0, f_max: float | None = None,
    ) -> None:
        super().__init__()
        _check_front_end(sample_rate, n_fft, hop_length, n_mels, f_min, f_max)
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max), persistent=False)

    def forward(self, waveforms: Tensor) -> Tensor:
        return log_mel_spectrogram(waveforms, self.filterbank, self.n_fft, self.hop_length, self.window)

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, n_mels={self.n_mels}"
