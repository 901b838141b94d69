"""Waveform kernels: ``(B, C, T)`` float batches with per-sample parameters -> ``(B, C, T)``.

Every kernel is pure (no randomness: noise arrives as a tensor), batched (no Python loop over
the samples) and keeps the shape, dtype and device of its input; float16/bfloat16 inputs are
computed in float32 and cast back. A per-sample parameter is a number (every sample) or a
``(B,)`` tensor (one value per sample). All channels of a sample get the same parameters.
"""

from __future__ import annotations

import ctypes
import math
from functools import lru_cache
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as nnf

from augbench.errors import InputTypeError, InputValueError
from augbench.functional._utils import BatchParam, batch_param
from augbench.native import library, thread_count

__all__ = [
    "gain",
    "invert_polarity",
    "time_shift",
    "change_speed",
    "pitch_shift",
    "color_noise",
    "add_noise",
    "add_noise_and_shift",
    "band_pass",
    "time_mask",
    "segment_mask",
    "NOISE_EXPONENTS",
]

ShiftMode = Literal["zero", "roll"]

NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
"""Power-spectrum exponents ``a`` of the noise colours: power density ``~ 1 / f^a``."""


def _check(waveforms: object, who: str) -> Tensor:
    """``waveforms`` if it is a ``(B, C, T)`` floating tensor, else a one-line error."""
    if not isinstance(waveforms, Tensor) or not waveforms.is_floating_point():
        got = getattr(waveforms, "dtype", type(waveforms).__name__)
        raise InputTypeError(f"{who}: waveforms must be a floating (B, C, T) tensor, got {got}; use .float()")
    if waveforms.ndim != 3:
        raise InputValueError(f"{who}: waveforms are (B, C, T), got shape {tuple(waveforms.shape)}")
    return waveforms


def _work(waveforms: Tensor) -> Tensor:
    """The waveforms in their compute dtype: float32, float64 stays float64."""
    return waveforms if waveforms.dtype in (torch.float32, torch.float64) else waveforms.float()


def _per_sample(value: BatchParam, waveforms: Tensor, name: str, dtype: torch.dtype | None = None) -> Tensor:
    """A ``(B, 1, 1)`` tensor of one value per sample (in the waveforms' compute dtype)."""
    return batch_param(value, waveforms, name, dtype or _work(waveforms).dtype).view(-1, 1, 1)


def gain(waveforms: Tensor, gain_db: BatchParam) -> Tensor:
    """Scale each sample's amplitude by ``10 ** (gain_db / 20)``.

    Args:
        waveforms: ``(B, C, T)`` float.
        gain_db: gain in dB (amplitude), a number or ``(B,)``; 0 dB is the identity.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.

    >>> gain(torch.ones(1, 1, 2), 20.0)
    tensor([[[10., 10.]]])
    """
    waveforms = _check(waveforms, "gain")
    factor = torch.pow(10.0, _per_sample(gain_db, waveforms, "gain_db") / 20.0)
    return (_work(waveforms) * factor).to(waveforms.dtype)


def invert_polarity(waveforms: Tensor) -> Tensor:
    """``-waveforms``: the same sound with the sign of every sample flipped (inaudible alone,
    but it changes the sum with another signal, e.g. in Mixup).

    Shape:
        ``(B, C, T)`` -> same shape and dtype.
    """
    return -_check(waveforms, "invert_polarity")


def _gather_time(waveforms: Tensor, index: Tensor) -> Tensor:
    """``waveforms[b, c, index[b, t]]`` for a ``(B, T')`` index shared by the channels."""
    batch, channels, _ = waveforms.shape
    return torch.gather(waveforms, 2, index[:, None, :].expand(batch, channels, index.shape[-1]))


def time_shift(waveforms: Tensor, shift: BatchParam, mode: ShiftMode = "zero", max_shift: int | None = None) -> Tensor:
    """Delay each sample by ``shift`` samples (negative: advance), keeping ``T`` samples.

    Each sample's output is one window of the input extended by ``max_shift`` samples at both
    ends (zeros, or the wrapped-around signal for ``"roll"``), read as a strided view: the
    copy moves whole rows, with no per-element index. On the CPU (no gradient needed) the
    compiled kernel of :mod:`augbench.native` copies each row once to its place instead (the
    same values, bit for bit, without the extended copy).

    Args:
        waveforms: ``(B, C, T)`` float.
        shift: whole samples, a number or ``(B,)`` (rounded towards zero).
        mode: ``"zero"``: samples shifted past either end are dropped and the gap is zero;
            ``"roll"``: circular, what leaves one end comes back at the other (``torch.roll``).
        max_shift: a bound on ``|shift|`` (the caller's range, e.g. from a transform's options),
            so the extension is no longer than needed; ``None`` reads it from ``shift`` (one
            host synchronisation on accelerators). Shifts beyond it are clamped to it.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.

    >>> time_shift(torch.arange(1., 5.).view(1, 1, 4), 1)
    tensor([[[0., 1., 2., 3.]]])
    >>> time_shift(torch.arange(1., 5.).view(1, 1, 4), -1, mode="roll")
    tensor([[[2., 3., 4., 1.]]])
    """
    waveforms = _check(waveforms, "time_shift")
    return _shift(waveforms, *_shift_steps(waveforms, shift, mode, max_shift, "time_shift"), mode)


def _shift(waveforms: Tensor, steps: Tensor, reach: int, mode: ShiftMode) -> Tensor:
    """:func:`time_shift` by checked ``steps`` within ``[-reach, reach]``: compiled where it can run, else torch."""
    if waveforms.shape[0] == 0:
        return waveforms.clone()
    compiled = _audio_library(waveforms)
    if compiled is not None:
        return _shift_compiled(compiled, waveforms, steps, mode)
    return _shift_torch(waveforms, steps, reach, mode)


def _shift_steps(
    waveforms: Tensor, shift: BatchParam, mode: ShiftMode, max_shift: int | None, who: str
) -> tuple[Tensor, int]:
    """The ``(B,)`` int64 steps of :func:`time_shift` within ``[-reach, reach]``, and ``reach``.

    ``"zero"``: a shift of ``T`` or more leaves silence, like a shift of ``T``; ``"roll"``: the
    same steps mod ``T``, taken within ``[-T // 2, T // 2]``."""
    if mode not in ("zero", "roll"):
        raise InputValueError(f"{who}: mode={mode!r} must be 'zero' or 'roll'")
    length = waveforms.shape[-1]
    steps = batch_param(shift, waveforms, "shift", torch.int64)
    if waveforms.shape[0] == 0:
        return steps, 0
    if mode == "roll":
        half = length // 2
        steps = (steps + half).remainder(length) - half
        reach = half if max_shift is None else min(int(max_shift), half)
    else:
        steps = steps.clamp(-length, length)
        reach = min(length, int(steps.abs().max()) if max_shift is None else int(max_shift))
    return steps.clamp(-reach, reach), reach


def _shift_torch(waveforms: Tensor, steps: Tensor, reach: int, mode: ShiftMode) -> Tensor:
    """:func:`time_shift` in torch: one window per row of the input extended by ``reach`` samples
    at both ends, read as a strided view (the reference of the compiled kernel)."""
    batch, channels, length = waveforms.shape
    rows = waveforms.reshape(batch * channels, length)
    extended = rows.new_empty(batch * channels, length + 2 * reach)
    extended[:, reach : reach + length] = rows
    if mode == "roll":
        extended[:, :reach] = rows[:, length - reach :]
        extended[:, reach + length :] = rows[:, :reach]
    else:  # only the margins are written with zeros (a full pad would fill the middle too)
        extended[:, :reach] = 0.0
        extended[:, reach + length :] = 0.0
    windows = extended.unfold(1, length, 1)  # (B * C, 2 * reach + 1, T), a view
    start = (reach - steps).repeat_interleave(channels)
    return windows[torch.arange(batch * channels, device=waveforms.device), start].view(batch, channels, length)


def _audio_library(waveforms: Tensor) -> ctypes.CDLL | None:
    """The compiled waveform kernels when they can take ``waveforms`` (a non-empty CPU batch
    that needs no gradient), else ``None`` (the torch code runs)."""
    if waveforms.device.type != "cpu" or waveforms.requires_grad or waveforms.numel() == 0:
        return None
    return library("audio")


def _shift_compiled(compiled: ctypes.CDLL, waveforms: Tensor, steps: Tensor, mode: ShiftMode) -> Tensor:
    """:func:`time_shift` by ``augbench/native/audio.c``: each row copied once, at its offset."""
    waveforms = waveforms.contiguous()
    batch, channels, length = waveforms.shape
    steps = steps.contiguous()
    out = torch.empty_like(waveforms)
    compiled.audio_shift(
        waveforms.data_ptr(), waveforms.element_size(), batch, channels, length, steps.data_ptr(), int(mode == "roll"),
        out.data_ptr(), thread_count(out.numel() * out.element_size()),
    )
    return out


def change_speed(waveforms: Tensor, factor: BatchParam) -> Tensor:
    """Play each sample ``factor`` times faster (resampling: tempo and pitch both change).

    Output sample ``t`` reads the input at ``t * factor`` by linear interpolation; the output
    keeps ``T`` samples: the first ``T`` of the resampled signal, whose natural length is
    ``T / factor``. A faster sample (``factor > 1``) ends early and is zero-padded at the end;
    a slower one (``factor < 1``) loses its last ``T (1 - factor)`` samples. Simplified: no
    anti-alias low-pass before speeding up, so content above ``sample_rate / (2 factor)``
    folds back (for factors up to 1.1 that is the top 9 % of the band, where speech has little
    energy); the linear interpolation itself attenuates the top of the band slightly.

    Args:
        waveforms: ``(B, C, T)`` float.
        factor: speed factor > 0, a number or ``(B,)`` (values <= 0 give no meaningful
            result); 1 is the identity (e.g. 0.9, 1.0, 1.1 as in Kaldi's speed perturbation).

    Shape:
        ``(B, C, T)`` -> same shape and dtype.

    >>> change_speed(torch.arange(8.).view(1, 1, 8), 2.0)
    tensor([[[0., 2., 4., 6., 0., 0., 0., 0.]]])
    """
    waveforms = _check(waveforms, "change_speed")
    if not isinstance(factor, Tensor) and not factor > 0:
        raise InputValueError(f"change_speed: factor={factor!r} must be > 0 (1 = unchanged)")
    work = _work(waveforms)
    rate = batch_param(factor, waveforms, "factor", work.dtype)
    return _read_at_rate(work, rate, waveforms.shape[-1]).to(waveforms.dtype)


def _read_at_rate(signal: Tensor, rate: Tensor, length: int) -> Tensor:
    """``signal`` ``(B, C, L)`` read at ``t * rate[b]`` for ``t < length``, linear, 0 past its end."""
    size = signal.shape[-1]
    steps = torch.arange(length, device=signal.device)
    # t * rate = t + t * (rate - 1): the small second term keeps the fraction precise for long inputs
    offset = steps.to(signal.dtype)[None, :] * (rate[:, None] - 1.0)
    whole = torch.floor(offset)
    fraction = (offset - whole)[:, None, :]
    left = (whole.long() + steps[None, :]).clamp_(0, size)
    padded = nnf.pad(signal, (0, 1))  # index L reads 0: past the end is silence
    start = _gather_time(padded, left)
    end = _gather_time(padded, (left + 1).clamp_(max=size))
    return torch.lerp(start, end, fraction)


def _principal(angle: Tensor) -> Tensor:
    """``angle`` wrapped to ``[-pi, pi)``."""
    return torch.remainder(angle + math.pi, 2.0 * math.pi) - math.pi


def _gather_frames(values: Tensor, index: Tensor) -> Tensor:
    """``values[n, k, index[n, m]]`` for ``(N, K, F)`` values and an ``(N, M)`` frame index."""
    return torch.gather(values, 2, index[:, None, :].expand(-1, values.shape[1], -1))


def _stretch(spectrum: Tensor, rate: Tensor, frames: int, hop_length: int, n_fft: int) -> Tensor:
    """Phase-vocoder time stretch: ``frames`` output frames, frame ``m`` at input frame ``m / rate``.

    ``spectrum`` ``(N, K, F)`` complex, ``rate`` ``(N,)`` (> 1 lengthens). Magnitudes are
    interpolated linearly between input frames; each bin's phase advances by its instantaneous
    frequency at the input position (the standard phase vocoder, no phase locking); output
    frames past the input's last frame are silent.
    """
    bins, count = spectrum.shape[1], spectrum.shape[2]
    magnitude, phase = spectrum.abs(), spectrum.angle()
    real = magnitude.dtype
    expected = (2.0 * math.pi * hop_length / n_fft) * torch.arange(bins, device=spectrum.device, dtype=real)[None, :, None]
    advance = _principal(torch.diff(phase, dim=-1, append=phase[..., -1:]) - expected) + expected  # (N, K, F)
    position = torch.arange(frames, device=spectrum.device, dtype=real)[None, :] / rate[:, None]  # (N, M)
    low = torch.floor(position).clamp_(max=count - 1)
    weight = (position - low).clamp_(max=1.0)[:, None, :]
    low_index = low.long()
    high_index = (low_index + 1).clamp_(max=count - 1)
    stretched = torch.lerp(_gather_frames(magnitude, low_index), _gather_frames(magnitude, high_index), weight)
    stretched = stretched.masked_fill_((position > count - 1)[:, None, :], 0.0)
    steps = _principal(_gather_frames(advance, low_index))
    new_phase = torch.cumsum(torch.cat([phase[..., :1], steps[..., :-1]], dim=-1), dim=-1)
    return torch.polar(stretched, new_phase)


def pitch_shift(waveforms: Tensor, semitones: BatchParam, n_fft: int = 512, hop_length: int = 128) -> Tensor:
    """Shift each sample's pitch by ``semitones`` at the same duration (phase vocoder + resampling).

    With ``r = 2 ** (semitones / 12)``: a phase-vocoder time stretch by ``r`` (STFT with a Hann
    window, each bin's phase advanced by its instantaneous frequency, magnitudes interpolated
    between frames), then reading the stretched signal at ``t * r`` (linear interpolation),
    which restores the duration and multiplies every frequency by ``r``; before that read, a
    zero-phase low-pass at ``1 / r`` of Nyquist (order 8, FFT domain) keeps shifts up from
    aliasing. Simplified: no phase locking, so transients smear, noisy sounds turn a little
    "phasey" and the level drops somewhat where a partial's bins lose their phase coherence
    (a steady tone about 1 dB for shifts of a few semitones, white noise up to 5 dB, as with
    librosa's phase vocoder); formants move with the pitch (no envelope preservation).
    Samples with ``semitones == 0`` are returned unchanged.

    Args:
        waveforms: ``(B, C, T)`` float.
        semitones: a number or ``(B,)``; +12 is one octave up.
        n_fft: STFT size in samples (frequency resolution ``sample_rate / n_fft``), >= 4.
        hop_length: STFT hop in samples, at most ``n_fft // 2``.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.

    Reference:
        Laroche and Dolson, "Improved phase vocoder time-scale modification of audio",
        IEEE Trans. Speech and Audio Processing 1999 (the phase vocoder; no peak locking here).
    """
    waveforms = _check(waveforms, "pitch_shift")
    if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 4:
        raise InputValueError(f"pitch_shift: n_fft={n_fft!r} must be a whole number >= 4")
    if isinstance(hop_length, bool) or not isinstance(hop_length, int) or not 1 <= hop_length <= n_fft // 2:
        raise InputValueError(f"pitch_shift: hop_length={hop_length!r} must be in [1, n_fft // 2 = {n_fft // 2}]")
    work = _work(waveforms)
    batch, channels, length = waveforms.shape
    steps = batch_param(semitones, waveforms, "semitones", work.dtype)
    if batch == 0:
        return waveforms.clone()
    flat = work.reshape(batch * channels, length)
    window = torch.hann_window(n_fft, dtype=work.dtype, device=waveforms.device)
    # zero (not reflection) padding at the ends: a reflected first frame has bin phases unlike
    # the rest, and the stretch would carry that mismatch through the whole sample
    spectrum = torch.stft(flat, n_fft, hop_length, window=window, center=True, pad_mode="constant", return_complex=True)
    rate = torch.pow(2.0, steps / 12.0).repeat_interleave(channels)  # (N,)
    frames = math.ceil(spectrum.shape[-1] * float(rate.max())) + 1  # one host sync: the stretched size
    stretched = torch.istft(_stretch(spectrum, rate, frames, hop_length, n_fft), n_fft, hop_length, window=window,
                            center=True, length=(frames - 1) * hop_length)[:, None, :]
    stretched = band_pass(stretched, 0.0, 1.0 / rate, 2.0, order=8)  # cutoff >= Nyquist (rate <= 1): unchanged
    out = _read_at_rate(stretched, rate, length)[:, 0]
    out = torch.where((steps == 0).repeat_interleave(channels)[:, None], flat, out)
    return out.reshape(batch, channels, length).to(waveforms.dtype)


def color_noise(white: Tensor, exponent: BatchParam) -> Tensor:
    """Shape white noise to a power spectrum ``~ 1 / f ** exponent`` (0 white, 1 pink, 2 brown).

    The real FFT of ``white`` over time is multiplied by ``f ** (-exponent / 2)`` (``f`` in FFT
    bins; the DC bin is set to 0, so coloured noise has zero mean) and transformed back; the
    result is not rescaled (:func:`add_noise` sets the level). Exponent 0 returns ``white``.

    Args:
        white: ``(B, C, T)`` float noise.
        exponent: a number or ``(B,)``, >= 0.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.
    """
    white = _check(white, "color_noise")
    if (not isinstance(exponent, Tensor) and float(exponent) == 0.0) or white.shape[0] == 0:
        return white.clone()
    work = _work(white)
    power = _per_sample(exponent, white, "exponent")
    length = white.shape[-1]
    frequency = torch.arange(length // 2 + 1, device=white.device, dtype=work.dtype)
    response = frequency.clamp(min=1.0).pow(-power / 2.0)  # (B, 1, K)
    response = response.masked_fill((frequency == 0).view(1, 1, -1), 0.0)
    shaped = torch.fft.irfft(torch.fft.rfft(work, dim=-1) * response, n=length, dim=-1)
    return torch.where(power == 0, work, shaped).to(white.dtype)


def add_noise(waveforms: Tensor, noise: Tensor, snr_db: BatchParam) -> Tensor:
    """Add ``noise`` scaled so that each sample's signal-to-noise ratio is ``snr_db``.

    The powers are means of squares over each sample's channels and time,
    ``P_x = mean(x^2)``, ``P_n = mean(n^2)``, and the noise is scaled by
    ``sqrt(P_x / (P_n 10^(snr_db / 10)))``, so ``10 log10(P_x / P_scaled_noise) = snr_db``
    exactly (up to float rounding). Zero-padding counts in ``P_x``, so a short utterance padded
    to ``T`` gets noise relative to its average power over ``T``. A silent sample (``P_x = 0``)
    gets no noise: silence has no level to set an SNR against.

    Args:
        waveforms: ``(B, C, T)`` float.
        noise: ``(B, C, T)`` float, any level (e.g. standard normal, or :func:`color_noise`).
        snr_db: target SNR in dB, a number or ``(B,)``; larger is cleaner.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.
    """
    work, noise, scale = _noise_scale(waveforms, noise, snr_db, "add_noise")
    return torch.addcmul(work, noise, scale).to(waveforms.dtype)


def _noise_scale(waveforms: Tensor, noise: Tensor, snr_db: BatchParam, who: str) -> tuple[Tensor, Tensor, Tensor]:
    """The waveforms and the noise in the compute dtype, and the ``(B, 1, 1)`` noise scale of :func:`add_noise`."""
    waveforms = _check(waveforms, who)
    noise = _check(noise, who)
    if noise.shape != waveforms.shape:
        raise InputValueError(
            f"{who}: noise has shape {tuple(noise.shape)}, the waveforms {tuple(waveforms.shape)}; pass one noise per sample"
        )
    work = _work(waveforms)
    noise = noise.to(work.dtype)
    count = waveforms.shape[1] * waveforms.shape[2]
    signal_power = torch.linalg.vector_norm(work, dim=(1, 2), keepdim=True).square_().div_(count)
    noise_power = torch.linalg.vector_norm(noise, dim=(1, 2), keepdim=True).square_().div_(count)
    noise_power = noise_power.clamp_(min=torch.finfo(work.dtype).tiny)
    ratio = torch.pow(10.0, _per_sample(snr_db, waveforms, "snr_db") / 10.0)
    return work, noise, torch.sqrt(signal_power / (noise_power * ratio))


def add_noise_and_shift(
    waveforms: Tensor, noise: Tensor, snr_db: BatchParam, shift: BatchParam, mode: ShiftMode = "zero",
    max_shift: int | None = None,
) -> Tensor:
    """:func:`add_noise`, then :func:`time_shift`, in one pass over the batch where it can.

    Exactly ``time_shift(add_noise(waveforms, noise, snr_db), shift, mode, max_shift)`` (the same
    values, bit for bit). On the CPU, a float32 batch that needs no gradient runs through the
    compiled kernel of :mod:`augbench.native`, which writes each shifted row of the noisy batch
    once (the two powers are torch's reductions, as in :func:`add_noise`); elsewhere the two
    kernels run in turn.

    Args:
        waveforms: ``(B, C, T)`` float.
        noise: ``(B, C, T)`` float, any level.
        snr_db: target SNR in dB, a number or ``(B,)``.
        shift: whole samples, a number or ``(B,)`` (see :func:`time_shift`).
        mode: ``"zero"`` or ``"roll"``.
        max_shift: a bound on ``|shift|``, or ``None`` (read from ``shift``).

    Shape:
        ``(B, C, T)`` -> same shape and dtype.
    """
    who = "add_noise_and_shift"
    work, noise, scale = _noise_scale(waveforms, noise, snr_db, who)
    steps, reach = _shift_steps(waveforms, shift, mode, max_shift, who)
    plain = waveforms.dtype == torch.float32 and not (noise.requires_grad or scale.requires_grad)
    compiled = _audio_library(waveforms) if plain else None
    fused = None if compiled is None else _addcmul_rounds_once()
    if fused is None:
        return _shift(torch.addcmul(work, noise, scale).to(waveforms.dtype), steps, reach, mode)
    work, noise = work.contiguous(), noise.contiguous()
    batch, channels, length = work.shape
    scale, steps = scale.reshape(batch).contiguous(), steps.contiguous()
    out = torch.empty_like(work)
    compiled.audio_noise_shift(
        work.data_ptr(), noise.data_ptr(), scale.data_ptr(), int(fused), batch, channels, length, steps.data_ptr(),
        int(mode == "roll"), out.data_ptr(), thread_count(out.numel() * out.element_size()),
    )
    return out


@lru_cache(maxsize=None)
def _addcmul_rounds_once() -> bool | None:
    """Whether torch's CPU ``addcmul`` of float32 rounds ``x + n * s`` once (a fused multiply-add,
    as on CPUs with FMA units) or twice; ``None`` if it does neither everywhere (the compiled
    noise kernel is then not used).

    Asked of torch on inputs where the two roundings differ, in the layout :func:`add_noise` uses
    (rows of ``T`` with a per-sample scale), with rows long enough for the vector loop and a tail."""
    factor = 1.0 + 2.0**-12  # factor * factor = 1 + 2^-11 + 2^-24: rounding it first drops the 2^-24
    noise = torch.full((2, 1, 77), factor)
    x = torch.full((2, 1, 77), -1.0)
    got = torch.addcmul(x, noise, torch.full((2, 1, 1), factor))
    if bool((got == 2.0**-11 + 2.0**-24).all()):
        return True
    if bool((got == 2.0**-11).all()):
        return False
    return None


def band_pass(
    waveforms: Tensor, low_hz: BatchParam, high_hz: BatchParam, sample_rate: float, order: int = 2
) -> Tensor:
    """Zero-phase Butterworth-shaped band-pass (or low-pass, high-pass) filter in the FFT domain.

    The real FFT of each sample is multiplied by ``|H(f)| = L(f) H(f)`` with the Butterworth
    magnitudes ``L(f) = 1 / sqrt(1 + (f / high_hz)^(2 order))`` and
    ``H(f) = 1 / sqrt(1 + (low_hz / f)^(2 order))`` (-3 dB at each cutoff), and transformed
    back. A ``high_hz`` at or above Nyquist (``sample_rate / 2``) means no low-pass and a
    ``low_hz`` of 0 (or less) no high-pass; a sample with neither is returned unchanged, so
    ``band_pass(x, 0, sample_rate / 2, sr)`` is the identity. Simplified: the magnitude response of a Butterworth filter without its phase
    (zero-phase, as ``filtfilt`` with half the order), and the FFT makes the filtering
    circular, so the first and last few milliseconds (the impulse response's length, longer
    for low cutoffs) leak into each other.

    Args:
        waveforms: ``(B, C, T)`` float.
        low_hz, high_hz: cutoffs in Hz, numbers or ``(B,)``; ``low_hz < high_hz`` for a band.
        sample_rate: of the waveforms, in Hz.
        order: slope of each edge, ``6 order`` dB per octave.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.
    """
    waveforms = _check(waveforms, "band_pass")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not sample_rate > 0:
        raise InputValueError(f"band_pass: sample_rate={sample_rate!r} must be a number > 0 (Hz)")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise InputValueError(f"band_pass: order={order!r} must be a whole number >= 1")
    if waveforms.shape[0] == 0:
        return waveforms.clone()
    work = _work(waveforms)
    nyquist = sample_rate / 2.0
    length = waveforms.shape[-1]
    frequency = torch.fft.rfftfreq(length, d=1.0 / sample_rate, device=waveforms.device).to(work.dtype)[None, :]
    high = batch_param(high_hz, waveforms, "high_hz", work.dtype)[:, None]
    low = batch_param(low_hz, waveforms, "low_hz", work.dtype)[:, None]
    low_pass = torch.rsqrt(1.0 + (frequency / high.clamp(min=1e-6)).pow(2 * order))
    low_pass = torch.where(high >= nyquist, 1.0, low_pass)
    high_pass = torch.rsqrt(1.0 + (low.clamp(min=0.0) / frequency.clamp(min=1e-6)).pow(2 * order))
    high_pass = torch.where(low <= 0, 1.0, high_pass)
    response = (low_pass * high_pass)[:, None, :]  # (B, 1, K)
    filtered = torch.fft.irfft(torch.fft.rfft(work, dim=-1) * response, n=length, dim=-1)
    unfiltered = ((high >= nyquist) & (low <= 0))[:, :, None]  # exactly the input, not an FFT round trip
    return torch.where(unfiltered, work, filtered).to(waveforms.dtype)


def time_mask(waveforms: Tensor, start: Tensor, width: Tensor, value: float = 0.0) -> Tensor:
    """Set ``width`` samples from ``start`` to ``value`` (silence by default), per mask.

    Args:
        waveforms: ``(B, C, T)`` float.
        start, width: ``(B,)`` or ``(B, M)`` int64 samples, ``M`` masks per sample (width 0: no
            mask; masks may overlap and are cut at the end).
        value: the fill.

    Shape:
        ``(B, C, T)`` -> same shape and dtype.

    >>> time_mask(torch.ones(1, 1, 5), torch.tensor([1]), torch.tensor([2]))
    tensor([[[1., 0., 0., 1., 1.]]])
    """
    waveforms = _check(waveforms, "time_mask")
    masked = segment_mask(waveforms.shape[0], waveforms.shape[-1], start, width, "time_mask")
    return waveforms.masked_fill(masked[:, None, :], value)


def segment_mask(batch: int, length: int, start: Tensor, width: Tensor, who: str) -> Tensor:
    """``(B, length)`` bool, True inside any of the ``[start, start + width)`` segments.

    ``start``/``width`` are ``(B,)`` or ``(B, M)`` integer tensors (shared by the waveform and
    spectrogram masks)."""
    if not isinstance(start, Tensor) or not isinstance(width, Tensor) or start.shape != width.shape:
        raise InputValueError(f"{who}: start and width must be tensors of the same shape (B,) or (B, M)")
    if start.ndim == 1:
        start, width = start[:, None], width[:, None]
    if start.ndim != 2 or start.shape[0] != batch:
        raise InputValueError(f"{who}: start has shape {tuple(start.shape)}, expected ({batch},) or ({batch}, M)")
    steps = torch.arange(length, device=start.device)[None, None, :]
    inside = (steps >= start[:, :, None]) & (steps < (start + width)[:, :, None])
    return inside.any(dim=1)
