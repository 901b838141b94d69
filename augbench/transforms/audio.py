"""Audio transforms: waveforms ``(B, C, T)`` (``Audio*``) and spectrograms ``(B, C, F, T)`` (``Spec*``).

One draw per sample, drawn in ``sample`` and applied by the batched kernels of
:mod:`augbench.functional.audio` and :mod:`augbench.functional.spectrogram`, so draws replay,
keyed draws depend on a sample's key alone, and ``p`` / ``same_on_batch`` come from the base
class. Amounts that depend on the input size are fractions of it (a shift of 0.1 is a tenth of
``T``; a cutoff of 0.5 is half the Nyquist frequency, 2 kHz at 8 kHz), so the transforms need
no sample rate and work at any ``T``; spectrogram mask widths are in bins and frames, as in the
SpecAugment paper.

Silence is valid audio: a sample that is all zeros (e.g. padding) passes through every op
(noise at an SNR adds nothing to it). Short utterances zero-padded to a common ``T`` are
transformed as a whole, padding included (a shift moves the padding, noise covers it).

**Policy ops.** The waveform ops are registered for ``ModalityRandAugment("audio")``, the
SpecAugment ops for ``ModalityRandAugment("spectrogram")``, each with its strength at level
0 -> 1 (``augbench list ops --modality audio``); level 0 is the identity. Polarity inversion
is not a policy op: a magnitude front-end (log-mel) cannot see it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Union

import torch
from torch import Tensor

import augbench.functional.audio as FA
import augbench.functional.spectrogram as FS
from augbench.distributions import AnyGenerator, rand, standard_normal
from augbench.errors import InputValueError
from augbench.policies.modal import register_op
from augbench.random import Params, log_uniform, randint, uniform
from augbench.transforms.base import APPLY, Transform

__all__ = [
    "AudioGain",
    "AudioPolarityInversion",
    "AudioTimeShift",
    "AudioSpeed",
    "AudioPitchShift",
    "AudioNoise",
    "AudioLowPass",
    "AudioBandPass",
    "AudioTimeMask",
    "SpecFrequencyMask",
    "SpecTimeMask",
    "SpecTimeWarp",
]

Range = Union[float, Sequence[float]]
"""A number ``v`` (meaning ``(v, v)``, or ``(-v, v)`` for symmetric amounts) or ``(min, max)``."""
Fill = Union[float, Literal["mean"]]

_NYQUIST_RATE = 2.0
"""The sample rate at which the Nyquist frequency is 1: the filters' fractions go to the kernel in it."""


# -- argument checks ------------------------------------------------------------------------------


def _number(who: str, name: str, value: object, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite float in ``[low, high]``, else one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise InputValueError(f"{who}: {name}={value!r} must be a finite number in [{low:g}, {high:g}]")
    return float(value)


def _range(
    who: str, name: str, value: object, low: float = -math.inf, high: float = math.inf, symmetric: bool = False
) -> tuple[float, float]:
    """``(min, max)`` from a pair, or from a number ``v``: ``(-v, v)`` if ``symmetric`` else ``(v, v)``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if symmetric and not value >= 0:
            raise InputValueError(f"{who}: {name}={value!r} must be >= 0 (it means the range (-{name}, {name}))")
        pair = (-value, value) if symmetric else (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise InputValueError(f"{who}: {name}={value!r} must be a number or (min, max)")
    first, second = (_number(who, name, v, low, high) for v in pair)
    if first > second:
        raise InputValueError(f"{who}: {name}={value!r} has min > max; pass ({second:g}, {first:g})")
    return first, second


def _count(who: str, name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputValueError(f"{who}: {name}={value!r} must be a whole number >= {low}")
    return value


def _fill(who: str, fill: object) -> Fill:
    if fill == "mean":
        return "mean"
    return _number(who, "fill", fill)


def _draw(bounds: tuple[float, float], n: int, generator: AnyGenerator, log: bool = False) -> Tensor:
    """``(n,)`` draws from U[bounds] (log-uniform if ``log``); a degenerate range gives its value.

    A degenerate range still consumes its draw, so keyed streams do not depend on the options."""
    low, high = bounds
    if low == high:
        return torch.full((n,), low).to(rand((n,), generator).device)
    return log_uniform(low, high, n, generator) if log else uniform(low, high, n, generator)


class _AudioTransform(Transform):
    """Shared by the waveform transforms: the modality and a ``repr`` from the constructor arguments."""

    modality = "audio"

    def extra_repr(self) -> str:
        skip = ("p", "same_on_batch")
        return ", ".join(f"{name}={value!r}" for name, value in self.config().items() if name not in skip)


# -- waveform ops ---------------------------------------------------------------------------------


class AudioGain(_AudioTransform):
    """Change the loudness of each sample by a gain drawn uniformly in dB.

    Args:
        gain_db: ``(min, max)`` amplitude gain in dB, or ``g`` for ``(-g, g)``; 0 is the identity.
        p: per-sample probability.
        same_on_batch: one gain for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.

    >>> x = torch.ones(4, 1, 8)
    >>> AudioGain(6.0)(x, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 8])
    """

    def __init__(self, gain_db: Range = (-6.0, 6.0), p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.gain_db = _range(type(self).__name__, "gain_db", gain_db, -120.0, 120.0, symmetric=True)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"gain_db": _draw(self.gain_db, n, generator)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.gain(inputs, params.gain_db)


class AudioPolarityInversion(_AudioTransform):
    """Flip the sign of the chosen samples (``-x``) with per-sample probability ``p``.

    Inaudible on its own and invisible to magnitude features (log-mel), it changes how the
    sample adds up with others (Mixup, noise).

    Args:
        p: per-sample probability of inverting (default 0.5).
        same_on_batch: invert all samples or none.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    def __init__(self, p: float = 0.5, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.invert_polarity(inputs)


class AudioTimeShift(_AudioTransform):
    """Shift each sample in time by a fraction of its length drawn uniformly.

    Args:
        shift: ``(min, max)`` shift as a fraction of ``T`` in [-1, 1] (positive: later), or
            ``s`` for ``(-s, s)``; rounded to whole samples.
        mode: ``"zero"`` (what leaves the window is dropped, the gap is silence) or ``"roll"``
            (circular).
        p: per-sample probability.
        same_on_batch: one shift for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    def __init__(
        self, shift: Range = (-0.2, 0.2), mode: FA.ShiftMode = "zero", p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.shift = _range(who, "shift", shift, -1.0, 1.0, symmetric=True)
        if mode not in ("zero", "roll"):
            raise InputValueError(f"{who}: mode={mode!r} must be 'zero' (pad with silence) or 'roll' (circular)")
        self.mode = mode

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"shift": torch.round(_draw(self.shift, n, generator) * shape[-1]).long()}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.time_shift(inputs, params.shift, self.mode, max_shift=self._reach(inputs.shape[-1]))

    def _reach(self, length: int) -> int:
        """The largest shift, in samples, of a draw for waveforms of ``length`` samples."""
        return math.ceil(max(abs(self.shift[0]), abs(self.shift[1])) * length)


class AudioSpeed(_AudioTransform):
    """Speed perturbation: resample each sample by a factor drawn uniformly (tempo and pitch change).

    The batch shape is kept: each output holds the first ``T`` samples of the resampled signal,
    zero-padded at the end when faster (factor > 1), cut at the end when slower (see
    :func:`augbench.functional.audio.change_speed`, linear interpolation, no anti-alias filter).

    Args:
        factor: ``(min, max)`` speed factor in [0.25, 4] (Kaldi's 3-way perturbation uses
            0.9, 1.0, 1.1); 1 is the identity.
        p: per-sample probability.
        same_on_batch: one factor for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.

    Reference:
        Ko et al., "Audio augmentation for speech recognition", Interspeech 2015.
    """

    def __init__(self, factor: Range = (0.9, 1.1), p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.factor = _range(type(self).__name__, "factor", factor, 0.25, 4.0)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"factor": _draw(self.factor, n, generator)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.change_speed(inputs, params.factor)


class AudioPitchShift(_AudioTransform):
    """Shift each sample's pitch by a number of semitones drawn uniformly, keeping its duration.

    A phase vocoder in the STFT domain (:func:`augbench.functional.audio.pitch_shift`: bins
    remapped by ``2 ** (semitones / 12)``, no phase locking, formants move with the pitch).
    Only the selected samples are computed when ``p < 1``.

    Args:
        semitones: ``(min, max)``, or ``s`` for ``(-s, s)``, within [-24, 24].
        n_fft: STFT size in samples, >= 4 (512 = 32 ms at 16 kHz).
        hop_length: STFT hop in samples, in [1, n_fft // 2].
        p: per-sample probability.
        same_on_batch: one shift for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    blend_skipped = False

    def __init__(
        self, semitones: Range = (-2.0, 2.0), n_fft: int = 512, hop_length: int = 128, p: float = 1.0, *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.semitones = _range(who, "semitones", semitones, -24.0, 24.0, symmetric=True)
        self.n_fft = _count(who, "n_fft", n_fft, 4)
        self.hop_length = _count(who, "hop_length", hop_length, 1)
        if self.hop_length > self.n_fft // 2:
            raise InputValueError(f"{who}: hop_length={hop_length} must be at most n_fft // 2 = {self.n_fft // 2}")

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"semitones": _draw(self.semitones, n, generator)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.pitch_shift(inputs, params.semitones, self.n_fft, self.hop_length)


class AudioNoise(_AudioTransform):
    """Add white, pink or brown Gaussian noise at a signal-to-noise ratio drawn per sample.

    The noise is drawn fresh per sample (standard normal, shaped to ``1 / f^a`` for pink
    ``a = 1`` and brown ``a = 2`` by :func:`augbench.functional.audio.color_noise`) and scaled
    so that the SNR over the whole sample is exactly the drawn one
    (:func:`augbench.functional.audio.add_noise`); silent samples stay silent.

    Args:
        snr_db: ``(min, max)`` SNR in dB, drawn uniformly (e.g. ``(10, 30)``); larger is cleaner.
        color: ``"white"``, ``"pink"`` or ``"brown"``.
        p: per-sample probability.
        same_on_batch: one SNR and one noise signal for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    blend_skipped = False  # with p < 1 only the chosen samples are shaped and added

    def __init__(
        self, snr_db: Range = (10.0, 30.0), color: str = "white", p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.snr_db = _range(who, "snr_db", snr_db, -60.0, 120.0)
        if color not in FA.NOISE_EXPONENTS:
            raise InputValueError(f"{who}: color={color!r} is unknown; choose from {', '.join(FA.NOISE_EXPONENTS)}")
        self.color = color

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"snr_db": _draw(self.snr_db, n, generator), "noise": standard_normal((n, *shape), generator)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.add_noise(inputs, self._noise(inputs, params), params.snr_db)

    def _noise(self, inputs: Tensor, params: Params) -> Tensor:
        """The drawn noise in the inputs' dtype, coloured."""
        noise = params.noise.to(inputs.dtype)
        if self.color != "white":
            noise = FA.color_noise(noise, FA.NOISE_EXPONENTS[self.color])
        return noise

    def _apply_fused(
        self, inputs: Tensor, params: Params, following: Transform, following_params: Params, target: str
    ) -> Tensor | None:
        """Noise then a following :class:`AudioTimeShift` in one pass
        (:func:`augbench.functional.audio.add_noise_and_shift`) when the noise applies to every
        sample; samples the shift skips get a shift of 0, the same values as the two in turn."""
        if type(following) is not AudioTimeShift:
            return None
        params = self._checked_params(inputs, params)
        shifts = following._checked_params(inputs, following_params)
        if APPLY in params:
            return None
        steps = torch.where(shifts[APPLY], shifts.shift, 0) if APPLY in shifts else shifts.shift
        return FA.add_noise_and_shift(
            inputs, self._noise(inputs, params), params.snr_db, steps, following.mode,
            max_shift=following._reach(inputs.shape[-1]),
        )


class AudioLowPass(_AudioTransform):
    """Low-pass filter each sample with a cutoff drawn log-uniformly (Butterworth magnitude, zero phase).

    Args:
        cutoff: ``(min, max)`` -3 dB cutoff as a fraction of the Nyquist frequency, in
            (0, 1]; 1 leaves the sample unchanged (at 8 kHz, 0.25 is 1 kHz).
        order: edge slope, ``6 order`` dB per octave.
        p: per-sample probability.
        same_on_batch: one cutoff for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype (see
        :func:`augbench.functional.audio.band_pass` for the FFT-domain simplification).
    """

    def __init__(
        self, cutoff: Range = (0.25, 0.75), order: int = 2, p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.cutoff = _range(who, "cutoff", cutoff, 1e-4, 1.0)
        self.order = _count(who, "order", order, 1)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"cutoff": _draw(self.cutoff, n, generator, log=True)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.band_pass(inputs, 0.0, params.cutoff, _NYQUIST_RATE, self.order)


class AudioBandPass(_AudioTransform):
    """Band-pass filter each sample around a centre drawn log-uniformly, with a drawn width in octaves.

    The band runs from ``centre / 2^(w/2)`` to ``centre * 2^(w/2)``; an upper edge at or above
    Nyquist drops the low-pass side.

    Args:
        center: ``(min, max)`` centre frequency as a fraction of Nyquist, in (0, 1].
        bandwidth: ``(min, max)`` width in octaves, > 0.
        order: edge slope, ``6 order`` dB per octave.
        p: per-sample probability.
        same_on_batch: one band for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    def __init__(
        self, center: Range = (0.05, 0.5), bandwidth: Range = (2.0, 4.0), order: int = 2, p: float = 1.0, *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.center = _range(who, "center", center, 1e-4, 1.0)
        self.bandwidth = _range(who, "bandwidth", bandwidth, 1e-3, 20.0)
        self.order = _count(who, "order", order, 1)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"center": _draw(self.center, n, generator, log=True), "bandwidth": _draw(self.bandwidth, n, generator)}

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        half = torch.pow(2.0, params.bandwidth / 2.0)
        return FA.band_pass(inputs, params.center / half, params.center * half, _NYQUIST_RATE, self.order)


class AudioTimeMask(_AudioTransform):
    """Silence ``num_masks`` segments per sample, each of a width drawn uniformly (a fraction of ``T``).

    Args:
        width: ``(min, max)`` segment width as a fraction of ``T`` in [0, 1], or ``w`` for
            ``(w, w)``; 0 is the identity. Segments start uniformly where they fit.
        num_masks: segments per sample (they may overlap).
        p: per-sample probability.
        same_on_batch: the same segments for the whole batch.

    Shape:
        ``(B, C, T)`` float -> same shape and dtype.
    """

    def __init__(
        self, width: Range = (0.0, 0.1), num_masks: int = 1, p: float = 1.0, *, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.width = _range(who, "width", width, 0.0, 1.0)
        self.num_masks = _count(who, "num_masks", num_masks, 1)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return _segments(n, shape[-1], self.num_masks, self.width, generator)

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FA.time_mask(inputs, params.start, params.width)


def _segments(n: int, size: int, count: int, width: tuple[float, float], generator: AnyGenerator) -> dict[str, Tensor]:
    """``(n, count)`` int64 starts and widths of segments of ``round(U[width] * size)`` steps that fit in ``size``."""
    low, high = width
    widths = torch.round((low + (high - low) * rand((n, count), generator)) * size).long().clamp_(0, size)
    return {"start": randint(size - widths + 1, generator), "width": widths}


# -- spectrogram ops ------------------------------------------------------------------------------


class _SpecMask(Transform):
    """SpecAugment masking along one axis: widths ~ U{0..W}, ``W = min(max_width, floor(max_fraction * size))``."""

    modality = "spectrogram"
    axis = -1

    def __init__(
        self, max_width: int | None, num_masks: int, max_fraction: float, fill: Fill, p: float, same_on_batch: bool
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.max_width = None if max_width is None else _count(who, "max_width", max_width, 0)
        self.num_masks = _count(who, "num_masks", num_masks, 1)
        self.max_fraction = _number(who, "max_fraction", max_fraction, 0.0, 1.0)
        self.fill = _fill(who, fill)

    def widest(self, size: int) -> int:
        """The largest mask width on an axis of ``size`` bins or frames (never more than ``size``)."""
        cap = math.floor(self.max_fraction * size + 1e-9)
        return min(size, cap) if self.max_width is None else min(size, cap, self.max_width)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        size = shape[self.axis]
        widest = self.widest(size)
        widths = (rand((n, self.num_masks), generator) * (widest + 1)).long().clamp_(max=widest)
        return {"start": randint(size - widths + 1, generator), "width": widths}

    def fill_value(self, inputs: Tensor) -> Tensor | float:
        """The fill: a number, or each sample's mean over all its bins and frames."""
        return inputs.mean(dim=(1, 2, 3)) if self.fill == "mean" else self.fill

    def extra_repr(self) -> str:
        skip = ("p", "same_on_batch")
        return ", ".join(f"{name}={value!r}" for name, value in self.config().items() if name not in skip)


class SpecFrequencyMask(_SpecMask):
    """SpecAugment frequency masking: ``num_masks`` bands of ``f ~ U{0..W}`` bins per sample.

    Each band starts uniformly where it fits (``f0 ~ U{0..F - f}``), as in the paper; ``W`` is
    ``max_width`` capped at ``floor(max_fraction * F)`` and at ``F``, so a band never exceeds
    the spectrogram. LibriSpeech's policies use ``F = 15`` or ``27`` of 80 mel bins, 1-2 masks.

    Args:
        max_width: the paper's ``F``, in bins (``None``: only ``max_fraction`` caps).
        num_masks: the paper's ``m_F``.
        max_fraction: cap of a band's width as a fraction of the bins, in [0, 1].
        fill: ``"mean"`` (each sample's mean: the paper's zero after normalisation) or a number.
        p: per-sample probability.
        same_on_batch: the same bands for the whole batch.

    Shape:
        ``(B, C, F, T)`` float -> same shape and dtype.

    Reference:
        Park et al., "SpecAugment", Interspeech 2019.
    """

    axis = -2

    def __init__(
        self, max_width: int | None = 8, num_masks: int = 1, max_fraction: float = 1.0, fill: Fill = "mean",
        p: float = 1.0, *, same_on_batch: bool = False,
    ) -> None:
        super().__init__(max_width, num_masks, max_fraction, fill, p, same_on_batch)

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FS.mask_frequency(inputs, params.start, params.width, self.fill_value(inputs))


class SpecTimeMask(_SpecMask):
    """SpecAugment time masking: ``num_masks`` spans of ``t ~ U{0..W}`` frames per sample.

    ``W`` is ``max_width`` capped at ``floor(max_fraction * T)`` (the paper's ``p``) and at
    ``T``; each span starts uniformly where it fits. LibriSpeech's policies: ``T = 100``
    frames, ``p = 1.0`` or ``0.2``.

    Args:
        max_width: the paper's ``T``, in frames (``None``: only ``max_fraction`` caps).
        num_masks: the paper's ``m_T``.
        max_fraction: the paper's ``p``, in [0, 1].
        fill: ``"mean"`` or a number.
        p: per-sample probability (not the paper's ``p``).
        same_on_batch: the same spans for the whole batch.

    Shape:
        ``(B, C, F, T)`` float -> same shape and dtype.
    """

    axis = -1

    def __init__(
        self, max_width: int | None = 10, num_masks: int = 1, max_fraction: float = 1.0, fill: Fill = "mean",
        p: float = 1.0, *, same_on_batch: bool = False,
    ) -> None:
        super().__init__(max_width, num_masks, max_fraction, fill, p, same_on_batch)

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FS.mask_time(inputs, params.start, params.width, self.fill_value(inputs))


class SpecTimeWarp(Transform):
    """SpecAugment time warping: a frame in ``[W, T - 1 - W]`` moves by ``w ~ U[-W, W]`` frames.

    Piecewise linear (:func:`augbench.functional.spectrogram.time_warp`); ``W`` is capped at
    ``(T - 3) / 2`` so both pieces keep at least one frame.

    Args:
        max_warp: the paper's ``W``, in frames, >= 0 (LibriSpeech: 80 of ~1,500 frames).
        p: per-sample probability.
        same_on_batch: one warp for the whole batch.

    Shape:
        ``(B, C, F, T)`` float -> same shape and dtype.
    """

    modality = "spectrogram"

    def __init__(self, max_warp: float = 5.0, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.max_warp = _number(type(self).__name__, "max_warp", max_warp, 0.0)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        frames = shape[-1]
        warp = max(0.0, min(self.max_warp, (frames - 3) / 2))
        return {
            "center": uniform(warp, frames - 1 - warp, n, generator),
            "warp": uniform(-warp, warp, n, generator),
        }

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        return FS.time_warp(inputs, params.center, params.warp)

    def extra_repr(self) -> str:
        return f"max_warp={self.max_warp!r}"


# -- policy ops -----------------------------------------------------------------------------------


@register_op("audio", "Gain", "gain +-0 -> +-12 dB")
def _gain_op(level: float) -> Transform:
    return AudioGain(12.0 * level)


@register_op("audio", "TimeShift", "shift +-0 -> +-25 % of the length, zero fill")
def _time_shift_op(level: float) -> Transform:
    return AudioTimeShift(0.25 * level)


@register_op("audio", "Speed", "speed factor 1 -> 0.85..1.15")
def _speed_op(level: float) -> Transform:
    return AudioSpeed((1.0 - 0.15 * level, 1.0 + 0.15 * level))


@register_op("audio", "PitchShift", "pitch +-0 -> +-4 semitones")
def _pitch_shift_op(level: float) -> Transform:
    return AudioPitchShift(4.0 * level)


@register_op("audio", "Noise", "white noise, SNR from 5 - 20 log10(level) dB (+inf -> 5 dB) to 20 dB above it")
def _noise_op(level: float) -> Transform:
    if level <= 0.0:
        return AudioNoise(p=0.0)
    snr = 5.0 - 20.0 * math.log10(level)
    return AudioNoise((snr, snr + 20.0))


@register_op("audio", "LowPass", "cutoff 1 -> 0.125..1 of Nyquist (log-uniform)")
def _low_pass_op(level: float) -> Transform:
    return AudioLowPass((2.0 ** (-3.0 * level), 1.0))


@register_op("audio", "TimeMask", "silenced span 0 -> 0..15 % of the length")
def _time_mask_op(level: float) -> Transform:
    return AudioTimeMask((0.0, 0.15 * level))


@register_op("spectrogram", "FrequencyMask", "masked band 0 -> 0..30 % of the bins")
def _frequency_mask_op(level: float) -> Transform:
    return SpecFrequencyMask(max_width=None, max_fraction=0.3 * level)


@register_op("spectrogram", "TimeMask", "masked span 0 -> 0..20 % of the frames")
def _spec_time_mask_op(level: float) -> Transform:
    return SpecTimeMask(max_width=None, max_fraction=0.2 * level)


@register_op("spectrogram", "TimeWarp", "warp 0 -> +-10 frames")
def _time_warp_op(level: float) -> Transform:
    return SpecTimeWarp(10.0 * level)
