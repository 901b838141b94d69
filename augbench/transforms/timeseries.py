"""Time-series transforms ``(B, C, L)`` float, one draw per sample, and their policy ops.

Every transform here draws its parameters in :meth:`~augbench.transforms.base.Transform.sample`
as fractions and unit draws (window start in [0, 1], kept fraction, standard normal knots), and
its ``apply`` turns them into steps of each sample's valid length with a batched kernel of
:mod:`augbench.functional.timeseries`. So a draw can be replayed, keyed draws depend on a
sample's key alone, and padded series of unequal lengths are handled without a loop.

**Padding.** ``pad_value`` (default 0.0, what augbench's UCR/UEA loader pads unequal-length
series with) marks trailing padding: the steps after the last one at which some channel differs
from it. Each op acts on the valid steps only (a warp resamples the valid part within itself,
noise and drift stop at its end) and leaves the padding as it is; a sample that is all padding
is refused with one line. ``pad_value=None`` treats every step as signal. Level ops (scaling,
sign flip) on zero padding give the same result either way.

**Policy ops.** Each op is registered for ``ModalityRandAugment("timeseries")`` with its
strength at level 0 -> 1 (``augbench list ops --modality timeseries``); level 0 is the identity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Union

import torch
from torch import Tensor

import augbench.functional.timeseries as F
from augbench.distributions import AnyGenerator, normal, rand
from augbench.errors import InputValueError
from augbench.policies.modal import register_op
from augbench.random import Params, log_uniform, randint, uniform
from augbench.transforms.base import Transform

__all__ = [
    "SeriesJitter",
    "SeriesScaling",
    "SeriesMagnitudeWarp",
    "SeriesTimeWarp",
    "SeriesWindowSlice",
    "SeriesWindowWarp",
    "SeriesPermutation",
    "SeriesSignFlip",
    "SeriesTimeMask",
    "SeriesFrequencyMask",
    "SeriesDrift",
]

SeriesShape = tuple[int, int]
"""``(channels, length)`` of the series in a batch."""
Fraction = Union[float, Sequence[float]]
"""A fraction, or a ``(min, max)`` range drawn uniformly per sample."""


# -- argument checks ------------------------------------------------------------------------------


def _number(who: str, name: str, value: object, *, low: float = 0.0, high: float = math.inf, above: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` when ``above``), else one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > low if above else value >= low) or value > high:
        bound = f"({low:g}, {high:g}]" if above else f"[{low:g}, {high:g}]"
        raise InputValueError(f"{who}: {name}={value!r} must be a finite number in {bound}")
    return float(value)


def _range(who: str, name: str, value: object, *, low: float, high: float, above: bool = False) -> tuple[float, float]:
    """A number ``v`` as ``(v, v)`` or a ``(min, max)`` pair, both within bounds, min <= max."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise InputValueError(f"{who}: {name}={value!r} must be a number or (min, max)")
    first, second = (_number(who, name, v, low=low, high=high, above=above) for v in pair)
    if first > second:
        raise InputValueError(f"{who}: {name}={value!r} has min > max; pass ({second:g}, {first:g})")
    return first, second


def _count(who: str, name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputValueError(f"{who}: {name}={value!r} must be a whole number >= {low}")
    return value


def _pad_value(who: str, value: object) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise InputValueError(f"{who}: pad_value={value!r} must be a finite number (the padding constant) or None (no padding)")
    return float(value)


def _normal(shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Standard normal draws: ``torch.randn`` on a ``torch.Generator`` (three times faster than
    Box-Muller on the CPU), :func:`augbench.distributions.normal` on a keyed generator."""
    if isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=generator.device)
    return normal(shape, generator)


def _uniform_in(bounds: tuple[float, float], n: int, generator: AnyGenerator) -> Tensor:
    """``(n,)`` draws from U[bounds]; a degenerate range gives exactly that value."""
    low, high = bounds
    if low == high:
        return torch.full((n,), low, device=generator.device)
    return uniform(low, high, n, generator)


# -- the base -------------------------------------------------------------------------------------


class _SeriesTransform(Transform):
    """Shared by the time-series transforms: the modality, ``pad_value`` and the valid lengths.

    Subclasses implement ``make_params`` and :meth:`transform_series`; their constructor
    arguments are kept under their own names (``repr`` and serialisation read them).
    """

    modality = "timeseries"

    def __init__(self, *, p: float, same_on_batch: bool, pad_value: float | None) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.pad_value = _pad_value(type(self).__name__, pad_value)

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        if self.is_identity():
            return inputs.clone()
        return self.transform_series(inputs, params, self.valid_lengths(inputs))

    def is_identity(self) -> bool:
        """Whether the options make every draw the identity (e.g. a policy op at level 0); the
        resampling ops then return the input exactly instead of up to float rounding."""
        return False

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        """Apply ``params`` to ``(B, C, L)`` series whose valid lengths are ``lengths`` (``None``: all ``L``)."""
        raise NotImplementedError

    def valid_lengths(self, series: Tensor) -> Tensor | None:
        """``(B,)`` valid lengths of ``series`` under ``pad_value``; ``None`` when no sample is padded.

        Raises:
            InputValueError: a sample that is all padding.
        """
        if self.pad_value is None or series.shape[0] == 0:
            return None
        if bool((series[:, :, -1] != self.pad_value).any(1).all()):  # no sample ends in padding: O(B C)
            return None
        lengths = F.valid_lengths(series, self.pad_value)
        if int(lengths.min()) == 0:
            sample = int((lengths == 0).nonzero()[0, 0])
            raise InputValueError(
                f"{type(self).__name__}: sample {sample} is all padding (every value equals pad_value={self.pad_value:g}); "
                "drop empty series from the batch, or pass pad_value=None if the values are signal"
            )
        return lengths

    def extra_repr(self) -> str:
        skip = ("p", "same_on_batch")
        return ", ".join(f"{name}={value!r}" for name, value in self.config().items() if name not in skip)


# -- value ops ------------------------------------------------------------------------------------


class SeriesJitter(_SeriesTransform):
    """Add Gaussian noise to every step (Um et al. 2017; Iwana and Uchida 2021: sigma 0.03).

    The noise of channel ``c`` has standard deviation ``sigma * std_c``, ``std_c`` that
    channel's standard deviation over the sample's valid steps (for z-normalised series,
    ``sigma`` itself). Fresh noise for every sample, channel and step.

    Args:
        sigma: noise level as a fraction of the channel standard deviation, >= 0.
        p: per-sample probability of adding noise.
        pad_value: trailing padding constant (see the module docstring), or ``None``.
        same_on_batch: one noise draw for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.

    >>> x = torch.randn(4, 2, 50, generator=torch.Generator().manual_seed(0))
    >>> SeriesJitter(0.05)(x, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([4, 2, 50])
    """

    def __init__(
        self, sigma: float = 0.03, p: float = 1.0, *, pad_value: float | None = 0.0, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        self.sigma = _number(type(self).__name__, "sigma", sigma)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"noise": _normal((n, *shape), generator)}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.jitter(series, params.noise, self.sigma, lengths)


class SeriesScaling(_SeriesTransform):
    """Multiply each channel by a random factor (Um et al. 2017; Iwana and Uchida: sigma 0.1).

    Factors are log-normal, ``exp(sigma * z)`` with ``z ~ N(0, 1)`` per sample and channel, so
    they stay positive (the papers draw ``N(1, sigma^2)``, the same for small ``sigma``).

    Args:
        sigma: spread of the log-factor, >= 0 (0: the identity).
        p: per-sample probability of scaling.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one set of factors for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    def __init__(
        self, sigma: float = 0.1, p: float = 1.0, *, pad_value: float | None = 0.0, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        self.sigma = _number(type(self).__name__, "sigma", sigma)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"factors": torch.exp(self.sigma * _normal((n, shape[0]), generator))}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.scale(series, params.factors, lengths)


class SeriesMagnitudeWarp(_SeriesTransform):
    """Multiply by a smooth random curve per channel (Um et al. 2017; Iwana and Uchida: 0.2, 4 knots).

    The curve passes through ``knots + 2`` evenly spread log-normal values ``exp(sigma * z)``
    (the ends included) over the sample's valid length, joined by a Catmull-Rom cubic spline
    (see :func:`augbench.functional.timeseries.smooth_curve`; the papers use a natural cubic
    spline through ``N(1, sigma^2)`` knots).

    Args:
        sigma: spread of the log-knots, >= 0 (0: the identity).
        knots: interior knots, >= 0 (0: a smooth ramp between the two end values).
        p: per-sample probability of warping.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one curve for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    def __init__(
        self, sigma: float = 0.2, knots: int = 4, p: float = 1.0, *, pad_value: float | None = 0.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        self.sigma = _number(who, "sigma", sigma)
        self.knots = _count(who, "knots", knots, 0)

    def is_identity(self) -> bool:
        return self.sigma == 0.0

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"knots": torch.exp(self.sigma * _normal((n, shape[0], self.knots + 2), generator))}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.magnitude_warp(series, params.knots, lengths)


class SeriesSignFlip(_SeriesTransform):
    """Negate the whole series (every channel) with probability ``p`` (Iwana and Uchida's flipping).

    Args:
        p: per-sample probability of negating (default 0.5: a random sign).
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one decision for the whole batch.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    def __init__(self, p: float = 0.5, *, pad_value: float | None = 0.0, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.negate(series, lengths)


class SeriesDrift(_SeriesTransform):
    """Add a smooth random drift per channel (tsaug's ``Drift``, in channel standard deviations).

    The drift follows a random walk through ``knots + 2`` evenly spread points (starting at 0,
    standard normal steps), joined by a Catmull-Rom spline and scaled so that its largest
    absolute value over the valid steps is ``a * std_c``, with ``a ~ U[0, max_drift]`` per
    sample and channel and ``std_c`` the channel's standard deviation (tsaug scales to an
    absolute maximum; 0.5 is its default).

    Args:
        max_drift: the largest peak drift, in channel standard deviations, >= 0.
        knots: interior points of the random walk, >= 0.
        p: per-sample probability of adding drift.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one drift for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    def __init__(
        self, max_drift: float = 0.5, knots: int = 4, p: float = 1.0, *, pad_value: float | None = 0.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        self.max_drift = _number(who, "max_drift", max_drift)
        self.knots = _count(who, "knots", knots, 0)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        channels = shape[0]
        steps = _normal((n, channels, self.knots + 1), generator)
        walk = torch.cat([torch.zeros_like(steps[..., :1]), steps.cumsum(-1)], -1)
        return {"knots": walk, "amplitude": self.max_drift * rand((n, channels), generator)}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.drift(series, params.knots, params.amplitude, lengths)


# -- time ops -------------------------------------------------------------------------------------


class SeriesTimeWarp(_SeriesTransform):
    """Smooth, monotone random distortion of time (Um et al. 2017; Iwana and Uchida: 0.2, 4 knots).

    The reading speed follows a Catmull-Rom curve through ``knots + 2`` log-normal speeds
    ``exp(sigma * z)``; its running sum, rescaled to the valid length, maps each output step to
    an input time, read by linear interpolation (:func:`augbench.functional.timeseries.time_warp`).
    The start and the end stay in place; one warp per sample, shared by its channels.

    Args:
        sigma: spread of the log-speeds, >= 0 (0: the identity).
        knots: interior knots, >= 0.
        p: per-sample probability of warping.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one warp for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    blend_skipped = False

    def __init__(
        self, sigma: float = 0.2, knots: int = 4, p: float = 1.0, *, pad_value: float | None = 0.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        self.sigma = _number(who, "sigma", sigma)
        self.knots = _count(who, "knots", knots, 0)

    def is_identity(self) -> bool:
        return self.sigma == 0.0

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"speeds": torch.exp(self.sigma * _normal((n, self.knots + 2), generator))}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.time_warp(series, params.speeds, lengths)


class SeriesWindowSlice(_SeriesTransform):
    """Crop a random window and stretch it back to the full length (Le Guennec et al. 2016).

    The window keeps a fraction ``size ~ U[size]`` of the sample's valid time span, placed
    uniformly; linear interpolation stretches it back (Iwana and Uchida: 0.9).

    Args:
        size: the kept fraction in (0, 1], a number or a ``(min, max)`` range (1: the identity).
        p: per-sample probability of slicing.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one window for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    blend_skipped = False

    def __init__(
        self, size: Fraction = 0.9, p: float = 1.0, *, pad_value: float | None = 0.0, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        self.size = _range(type(self).__name__, "size", size, low=0.0, high=1.0, above=True)

    def is_identity(self) -> bool:
        return self.size == (1.0, 1.0)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"start": rand((n,), generator), "size": _uniform_in(self.size, n, generator)}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.window_slice(series, params.start, params.size, lengths)


class SeriesWindowWarp(_SeriesTransform):
    """Speed up or slow down a random window (Le Guennec et al. 2016; Iwana and Uchida: 0.1, x0.5/x2).

    A window covering ``size`` of the valid time span, placed uniformly, is stretched by a
    factor drawn log-uniformly from ``scale`` (per sample; Iwana and Uchida pick 0.5 or 2), and
    the series is resampled back to its length.

    Args:
        size: the window's fraction of the time span in [0, 1], a number or ``(min, max)``.
        scale: ``(min, max)`` stretch factors, > 0 (``(1, 1)``: the identity).
        p: per-sample probability of warping.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one window and factor for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    blend_skipped = False

    def __init__(
        self, size: Fraction = 0.1, scale: Sequence[float] = (0.5, 2.0), p: float = 1.0, *,
        pad_value: float | None = 0.0, same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        self.size = _range(who, "size", size, low=0.0, high=1.0)
        if isinstance(scale, (int, float)):
            raise InputValueError(f"{who}: scale={scale!r} must be (min, max) stretch factors, e.g. (0.5, 2.0)")
        self.scale = _range(who, "scale", scale, low=0.0, high=math.inf, above=True)

    def is_identity(self) -> bool:
        return self.scale == (1.0, 1.0) or self.size == (0.0, 0.0)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        low, high = self.scale
        factor = torch.full((n,), low, device=generator.device) if low == high else log_uniform(low, high, n, generator)
        return {"start": rand((n,), generator), "size": _uniform_in(self.size, n, generator), "factor": factor}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.window_warp(series, params.start, params.size, params.factor, lengths)


class SeriesPermutation(_SeriesTransform):
    """Cut the series into segments and shuffle them (Um et al. 2017; Iwana and Uchida: up to 5).

    Each sample draws its number of segments uniformly from ``segments`` (inclusive) and a
    uniformly random order; the segments have (near) equal lengths over the valid steps. Whole
    steps move, so every channel keeps its multiset of values.

    Args:
        segments: ``(min, max)`` segment counts, or one count, >= 1 (1: the identity).
        p: per-sample probability of permuting.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one cut and order for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    blend_skipped = False

    def __init__(
        self, segments: int | Sequence[int] = (2, 5), p: float = 1.0, *, pad_value: float | None = 0.0,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        pair = (segments, segments) if isinstance(segments, int) else segments
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InputValueError(f"{who}: segments={segments!r} must be a whole number or (min, max)")
        low, high = (_count(who, "segments", value, 1) for value in pair)
        if low > high:
            raise InputValueError(f"{who}: segments={segments!r} has min > max; pass ({high}, {low})")
        self.segments = (low, high)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        low, high = self.segments
        count = low + randint(torch.full((n,), high - low + 1, device=generator.device), generator)
        order = rand((n, high), generator).argsort(-1)
        return {"order": order, "segments": count}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.permute_segments(series, params.order, params.segments, lengths)


class SeriesTimeMask(_SeriesTransform):
    """Blank out one random span of steps with the channel mean (or zero).

    Args:
        size: the span's fraction of the valid length in [0, 1], a number or ``(min, max)``
            drawn per sample (0: the identity).
        fill: ``"mean"``: each channel's mean over its valid steps; ``"zero"``: 0.
        p: per-sample probability of masking.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one span for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    def __init__(
        self, size: Fraction = (0.0, 0.2), fill: Literal["mean", "zero"] = "mean", p: float = 1.0, *,
        pad_value: float | None = 0.0, same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        who = type(self).__name__
        self.size = _range(who, "size", size, low=0.0, high=1.0)
        if fill not in ("mean", "zero"):
            raise InputValueError(f"{who}: fill={fill!r} must be 'mean' or 'zero'")
        self.fill = fill

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"start": rand((n,), generator), "size": _uniform_in(self.size, n, generator)}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.time_mask(series, params.start, params.size, self.fill, lengths)


class SeriesFrequencyMask(_SeriesTransform):
    """Remove one random frequency band (rFFT, zero the band, inverse rFFT); the mean is kept.

    The band covers a fraction ``size`` of the frequencies ``(0, 0.5]`` cycles per step, placed
    uniformly (see :func:`augbench.functional.timeseries.frequency_mask`).

    Args:
        size: the band's fraction of the frequency range in [0, 1], a number or ``(min, max)``
            drawn per sample (0: the identity).
        p: per-sample probability of masking.
        pad_value: trailing padding constant, or ``None``.
        same_on_batch: one band for every sample.

    Shape:
        ``(B, C, L)`` float -> same shape and dtype; padding unchanged.
    """

    blend_skipped = False

    def __init__(
        self, size: Fraction = (0.0, 0.2), p: float = 1.0, *, pad_value: float | None = 0.0, same_on_batch: bool = False
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, pad_value=pad_value)
        self.size = _range(type(self).__name__, "size", size, low=0.0, high=1.0)

    def make_params(self, n: int, shape: SeriesShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"start": rand((n,), generator), "size": _uniform_in(self.size, n, generator)}

    def transform_series(self, series: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return F.frequency_mask(series, params.start, params.size, lengths)


# -- policy ops (level 0 -> 1; level 0 is the identity) -------------------------------------------

_OP = "timeseries"


@register_op(_OP, "Jitter", "noise sigma 0 -> 0.1 channel std")
def _jitter_op(level: float) -> Transform:
    return SeriesJitter(sigma=0.1 * level)


@register_op(_OP, "Scaling", "log-factor sigma 0 -> 0.3")
def _scaling_op(level: float) -> Transform:
    return SeriesScaling(sigma=0.3 * level)


@register_op(_OP, "MagnitudeWarp", "log-knot sigma 0 -> 0.4, 4 knots")
def _magnitude_warp_op(level: float) -> Transform:
    return SeriesMagnitudeWarp(sigma=0.4 * level)


@register_op(_OP, "TimeWarp", "log-speed sigma 0 -> 0.4, 4 knots")
def _time_warp_op(level: float) -> Transform:
    return SeriesTimeWarp(sigma=0.4 * level)


@register_op(_OP, "WindowSlice", "kept fraction 1 -> 0.6")
def _window_slice_op(level: float) -> Transform:
    return SeriesWindowSlice(size=1.0 - 0.4 * level)


@register_op(_OP, "WindowWarp", "stretch of a 10 % window 1 -> x0.5..x2 (log-uniform)")
def _window_warp_op(level: float) -> Transform:
    return SeriesWindowWarp(size=0.1, scale=(1.0 / (1.0 + level), 1.0 + level))


@register_op(_OP, "Permutation", "segments 1 -> 5")
def _permutation_op(level: float) -> Transform:
    return SeriesPermutation(segments=1 + round(4 * level))


@register_op(_OP, "SignFlip", "negation probability 0 -> 0.5")
def _sign_flip_op(level: float) -> Transform:
    return SeriesSignFlip(p=0.5 * level)


@register_op(_OP, "TimeMask", "masked span 0 -> 30 % of the length")
def _time_mask_op(level: float) -> Transform:
    return SeriesTimeMask(size=0.3 * level)


@register_op(_OP, "FrequencyMask", "removed band 0 -> 30 % of the frequencies")
def _frequency_mask_op(level: float) -> Transform:
    return SeriesFrequencyMask(size=0.3 * level)


@register_op(_OP, "Drift", "max drift 0 -> 0.5 channel std")
def _drift_op(level: float) -> Transform:
    return SeriesDrift(max_drift=0.5 * level)
