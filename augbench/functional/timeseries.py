"""Time-series kernels: a ``(B, C, L)`` float batch plus per-sample parameters -> a batch.

Conventions shared by every kernel here:

* **Pure**: no randomness; the random numbers (noise, knots, positions) come in as arguments,
  one row per sample, so a draw can be replayed. No Python loop over the samples.
* **Per-sample parameters** are ``(B,)`` tensors (or ``(B, C)``, ``(B, C, K)`` where stated);
  a plain number means the same value for every sample.
* **Positions and sizes are fractions** of each sample's valid length (a window start in
  [0, 1] of the room left, a kept fraction in (0, 1]), so one draw fits series of any length.
* **Amplitudes** (jitter, drift) are in units of each channel's standard deviation over the
  sample's valid steps, so one setting fits z-normalised UCR series and raw sensor units alike
  (for z-normalised series it equals the absolute value used in the literature).
* **Padding**: ``lengths`` (``(B,)`` int64, optional) gives each sample's valid length; steps
  ``t >= lengths[b]`` are padding, copied unchanged and never read as signal (a warp resamples
  the valid part only). ``None`` means all ``L`` steps are signal. :func:`valid_lengths` finds the
  lengths of series padded at the end with a constant (augbench's UCR/UEA loader pads unequal
  lengths with 0.0).
* float32 arithmetic (float64 stays float64); the result has the input's dtype and shape.

References: Um et al., "Data augmentation of wearable sensor data for Parkinson's disease
monitoring using convolutional neural networks", ICMI 2017 (jitter, scaling, magnitude and time
warp, permutation); Le Guennec, Malinowski and Tavenard, "Data augmentation for time series
classification using convolutional neural networks", ECML/PKDD workshop 2016 (window slice and
window warp); Iwana and Uchida, "An empirical survey of data augmentation for time series
classification with neural networks", PLOS ONE 2021 (their default strengths).
"""

from __future__ import annotations

import functools
import math
from typing import Literal, Union

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = [
    "valid_lengths",
    "resample",
    "spline_basis",
    "smooth_curve",
    "align_lengths",
    "jitter",
    "scale",
    "magnitude_warp",
    "time_warp",
    "window_slice",
    "window_warp",
    "permute_segments",
    "negate",
    "time_mask",
    "frequency_mask",
    "drift",
]

PerSample = Union[float, Tensor]
"""A number for every sample, or a ``(B,)`` tensor with one value per sample."""

_EPS = 1e-12


# -- checks and small helpers ---------------------------------------------------------------------


def _check_series(series: object, who: str) -> Tensor:
    """``series`` if it is a ``(B, C, L)`` floating tensor with ``L >= 1``, else one line."""
    if not isinstance(series, Tensor):
        raise InputTypeError(f"{who}: expected a (B, C, L) float tensor, got {type(series).__name__}")
    if series.ndim != 3 or series.shape[1] == 0 or series.shape[2] == 0:
        raise InputValueError(f"{who}: time series batches are (B, C, L) with C, L >= 1, got shape {tuple(series.shape)}")
    if not series.is_floating_point():
        raise InputTypeError(f"{who}: time series must be floating point, got {series.dtype}; use .float()")
    return series


def _dtype(series: Tensor) -> torch.dtype:
    return torch.float64 if series.dtype == torch.float64 else torch.float32


def _per_sample(value: PerSample, series: Tensor, name: str, who: str, trailing: tuple[int, ...] = ()) -> Tensor:
    """``value`` as a float tensor of shape ``(B, *trailing)`` on the series' device."""
    shape = (series.shape[0], *trailing)
    dtype = _dtype(series)
    if not isinstance(value, Tensor):
        return torch.full(shape, float(value), dtype=dtype, device=series.device)
    if value.ndim == 0:
        return value.to(series.device, dtype).expand(shape)
    if tuple(value.shape) != shape:
        raise InputValueError(
            f"{who}: {name} has shape {tuple(value.shape)}, expected {shape} (one row per sample) or a number"
        )
    return value.to(series.device, dtype)


def _check_lengths(lengths: object, series: Tensor, who: str) -> Tensor | None:
    """``lengths`` as ``(B,)`` int64 on the series' device (``None`` stays ``None``), else one line."""
    if lengths is None:
        return None
    batch, _, length = series.shape
    if not isinstance(lengths, Tensor) or tuple(lengths.shape) != (batch,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
        got = f"shape {tuple(lengths.shape)} {lengths.dtype}" if isinstance(lengths, Tensor) else type(lengths).__name__
        raise InputValueError(f"{who}: lengths must be a ({batch},) integer tensor of valid lengths, got {got}")
    return lengths.to(series.device, torch.int64)


def _lengths(lengths: Tensor | None, series: Tensor) -> Tensor:
    """The ``(B,)`` valid lengths as float (``L`` for every sample when ``None``)."""
    if lengths is None:
        return torch.full((series.shape[0],), float(series.shape[-1]), dtype=_dtype(series), device=series.device)
    return lengths.to(_dtype(series))


def _steps(series: Tensor) -> Tensor:
    """``[0, 1, ..., L - 1]`` as a ``(1, L)`` float row."""
    return torch.arange(series.shape[-1], dtype=_dtype(series), device=series.device)[None, :]


def _valid(lengths: Tensor | None, series: Tensor) -> Tensor | None:
    """``(B, 1, L)`` bool, True on the valid steps; ``None`` when every step is valid."""
    if lengths is None:
        return None
    steps = torch.arange(series.shape[-1], device=series.device)
    return (steps[None, :] < lengths.to(series.device)[:, None])[:, None, :]


def _keep_padding(result: Tensor, series: Tensor, lengths: Tensor | None) -> Tensor:
    """``result`` on the valid steps, ``series`` (the padding) elsewhere, in the series' dtype."""
    result = result.to(series.dtype)
    valid = _valid(lengths, series)
    return result if valid is None else torch.where(valid, result, series)


def _channel_std(series: Tensor, lengths: Tensor | None) -> Tensor:
    """``(B, C, 1)`` population standard deviation of each channel over its valid steps."""
    values = series.to(_dtype(series))
    valid = _valid(lengths, series)
    if valid is None:
        centred = values - values.mean(-1, keepdim=True)
        return torch.linalg.vector_norm(centred, dim=-1, keepdim=True).mul_(series.shape[-1] ** -0.5)
    count = valid.sum(-1, keepdim=True).clamp(min=1).to(values.dtype)
    mean = values.masked_fill(~valid, 0).sum(-1, keepdim=True) / count
    centred = (values - mean).masked_fill(~valid, 0)
    return (centred.square().sum(-1, keepdim=True) / count).sqrt()


def _channel_mean(series: Tensor, lengths: Tensor | None) -> Tensor:
    """``(B, C, 1)`` mean of each channel over its valid steps."""
    values = series.to(_dtype(series))
    valid = _valid(lengths, series)
    if valid is None:
        return values.mean(-1, keepdim=True)
    count = valid.sum(-1, keepdim=True).clamp(min=1).to(values.dtype)
    return values.masked_fill(~valid, 0).sum(-1, keepdim=True) / count


# -- building blocks ------------------------------------------------------------------------------


def valid_lengths(series: Tensor, pad_value: float = 0.0) -> Tensor:
    """The valid length of each series padded at the end with ``pad_value``.

    A step is padding when it lies after the last step at which some channel differs from
    ``pad_value``; a series that never differs from it has length 0.

    Args:
        series: ``(B, C, L)`` float.
        pad_value: the padding constant (augbench's UCR/UEA loader uses 0.0).

    Returns:
        ``(B,)`` int64 in ``[0, L]``.

    >>> valid_lengths(torch.tensor([[[1.0, 2.0, 0.0, 0.0]], [[0.0, 3.0, 0.0, 4.0]]])).tolist()
    [2, 4]
    """
    series = _check_series(series, "valid_lengths")
    signal = (series != pad_value).any(1)  # (B, L)
    length = series.shape[-1]
    last = length - signal.flip(-1).to(torch.uint8).argmax(-1)  # 1 + index of the last signal step
    return torch.where(signal.any(-1), last, torch.zeros_like(last))


def resample(series: Tensor, positions: Tensor) -> Tensor:
    """Read each series at fractional time ``positions`` by linear interpolation.

    One ``grid_sample`` call over the batch (the series as ``(B, C, 1, L)`` images, bilinear,
    corners aligned): three times faster on a CPU than two gathers and a lerp. The time
    coordinate goes through ``grid_sample``'s ``[-1, 1]`` scale, so an integer position reads
    its sample up to float32 rounding (about ``L * 6e-8`` steps).

    Args:
        series: ``(B, C, L)`` float.
        positions: ``(B, M)`` float time indices, clamped to ``[0, L - 1]``.

    Returns:
        ``(B, C, M)`` in the series' dtype.
    """
    series = _check_series(series, "resample")
    batch, channels, length = series.shape
    if positions.ndim != 2 or positions.shape[0] != batch:
        raise InputValueError(f"resample: positions must be (B, M) with B = {batch}, got {tuple(positions.shape)}")
    dtype = _dtype(series)
    if length == 1:
        return series.expand(batch, channels, positions.shape[1]).clone()
    where = positions.to(series.device, dtype).clamp(0, length - 1).mul_(2.0 / (length - 1)).sub_(1.0)
    # (B, 1, M, 2): x = time; y is ignored for an image of height 1, so the same values serve
    grid = where[:, None, :, None].expand(batch, 1, where.shape[1], 2)
    images = series.to(dtype)[:, :, None, :]
    read = torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return read[:, :, 0].to(series.dtype)


def spline_basis(count: int, lengths: Tensor | None, steps: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The Catmull-Rom weights of ``count`` evenly spread knots at ``t = 0 .. steps - 1``.

    ``curve = knots @ basis`` is :func:`smooth_curve`; each column has the 4 weights of the
    knots around that step (they sum to 1).

    Args:
        count: the number of knots ``K >= 2``.
        lengths: ``(B,)`` valid lengths ``n_b >= 1``, or ``None`` for ``steps`` for every sample.
        steps: the number of steps ``L``.

    Returns:
        ``(B, K, L)``, or ``(K, L)`` when ``lengths`` is ``None``.
    """
    if lengths is None:
        return _shared_basis(count, steps, dtype, device).clone()
    return _basis(count, lengths.to(device, dtype) - 1, steps)


@functools.lru_cache(maxsize=64)
def _shared_basis(count: int, steps: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """:func:`spline_basis` for ``steps`` valid steps, ``(K, L)``, built once per shape."""
    return _basis(count, torch.full((1,), float(steps - 1), dtype=dtype, device=device), steps)[0]


def _basis(count: int, span: Tensor, steps: int) -> Tensor:
    """``(B, K, L)`` Catmull-Rom weights for valid time spans ``span = n - 1`` (``(B,)`` float)."""
    dtype, device = span.dtype, span.device
    t = torch.arange(steps, dtype=dtype, device=device)[None, :]
    u = (t * ((count - 1) / span.clamp(min=1))[:, None]).clamp(max=count - 1)  # (B, L) in knot units
    segment = u.floor().clamp(max=count - 2)
    f = u - segment
    segment = segment.long()
    f2, f3 = f * f, f * f * f
    weights = 0.5 * torch.stack([-f3 + 2 * f2 - f, 3 * f3 - 5 * f2 + 2, -3 * f3 + 4 * f2 + f, f3 - f2], 1)
    index = torch.stack([(segment - 1).clamp(min=0), segment, segment + 1, (segment + 2).clamp(max=count - 1)], 1)
    return torch.zeros(u.shape[0], count, steps, dtype=dtype, device=device).scatter_add_(1, index, weights)


def smooth_curve(knots: Tensor, lengths: Tensor | None, steps: int) -> Tensor:
    """A smooth curve through ``K`` knots spread evenly over each sample's valid length.

    The curve is a Catmull-Rom cubic spline (C1, through every knot, end tangents from the
    repeated end knots), evaluated at ``t = 0 .. steps - 1`` with knot ``k`` at
    ``t = k (n_b - 1) / (K - 1)``; steps past the valid length ``n_b`` take the last knot's
    value. The reference implementations use scipy's natural cubic spline (C2); Catmull-Rom is
    local and is one matrix product with :func:`spline_basis` for a batch, and gives a visually
    identical smooth curve. Equal knots give that constant (up to float rounding).

    Args:
        knots: ``(B, ..., K)`` float, ``K >= 2``.
        lengths: ``(B,)`` valid lengths ``n_b >= 1`` (int or float), or ``None`` (all ``steps``).
        steps: the number of steps ``L`` to evaluate.

    Returns:
        ``(B, ..., steps)`` in the knots' dtype.
    """
    count = knots.shape[-1]
    if count < 2:
        raise InputValueError(f"smooth_curve: needs at least 2 knots, got {count}")
    if lengths is None:  # one basis for the batch, built once per shape
        basis = _shared_basis(count, steps, knots.dtype, knots.device)
        return (knots.reshape(-1, count) @ basis).reshape(*knots.shape[:-1], steps)
    basis = _basis(count, lengths.to(knots.device, knots.dtype) - 1, steps)
    flat = knots.reshape(knots.shape[0], math.prod(knots.shape[1:-1]), count)
    return torch.bmm(flat, basis).reshape(*knots.shape[:-1], steps)


def align_lengths(series: Tensor, lengths: Tensor, target_lengths: Tensor) -> Tensor:
    """Stretch each series' valid part to ``target_lengths[b]`` steps by linear interpolation.

    Used by the series mixers to line a partner up with the sample it is mixed into. Steps
    past the target length repeat the last valid value (callers mask them).

    Args:
        series: ``(B, C, L)`` float.
        lengths: ``(B,)`` valid lengths of ``series`` (>= 1).
        target_lengths: ``(B,)`` lengths to stretch to (>= 1, <= L).

    Returns:
        ``(B, C, L)`` in the series' dtype; a sample whose lengths agree comes back unchanged.
    """
    series = _check_series(series, "align_lengths")
    source = _lengths(_check_lengths(lengths, series, "align_lengths"), series)
    target = _lengths(_check_lengths(target_lengths, series, "align_lengths"), series)
    rate = (source - 1) / (target - 1).clamp(min=1)
    positions = torch.minimum(_steps(series) * rate[:, None], (source - 1)[:, None])
    return resample(series, positions)


# -- value ops ------------------------------------------------------------------------------------


def jitter(series: Tensor, noise: Tensor, sigma: PerSample, lengths: Tensor | None = None) -> Tensor:
    """Add Gaussian noise: ``x + sigma * std_c * noise`` on the valid steps (Um et al. 2017).

    Args:
        series: ``(B, C, L)`` float.
        noise: ``(B, C, L)`` standard normal numbers.
        sigma: noise standard deviation as a fraction of each channel's standard deviation
            (over its valid steps), ``(B,)`` or a number, >= 0.
        lengths: ``(B,)`` valid lengths, or ``None`` (all steps are signal).

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "jitter")
    lengths = _check_lengths(lengths, series, "jitter")
    if tuple(noise.shape) != tuple(series.shape):
        raise InputValueError(f"jitter: noise has shape {tuple(noise.shape)}, expected {tuple(series.shape)}")
    dtype = _dtype(series)
    amplitude = _per_sample(sigma, series, "sigma", "jitter")[:, None, None] * _channel_std(series, lengths)
    result = torch.addcmul(series.to(dtype), noise.to(series.device, dtype), amplitude)
    return _keep_padding(result, series, lengths)


def scale(series: Tensor, factors: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Multiply each channel by its own factor (Um et al. 2017's scaling).

    Args:
        series: ``(B, C, L)`` float.
        factors: ``(B, C)`` multipliers.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "scale")
    lengths = _check_lengths(lengths, series, "scale")
    factor = _per_sample(factors, series, "factors", "scale", (series.shape[1],))
    return _keep_padding(series.to(factor.dtype) * factor[:, :, None], series, lengths)


def magnitude_warp(series: Tensor, knots: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Multiply by a smooth random curve through per-channel knots (Um et al. 2017).

    Args:
        series: ``(B, C, L)`` float.
        knots: ``(B, C, K)`` curve values at ``K >= 2`` evenly spread times over each sample's
            valid length (see :func:`smooth_curve`); all ones is the identity (up to rounding).
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "magnitude_warp")
    lengths = _check_lengths(lengths, series, "magnitude_warp")
    batch, channels, length = series.shape
    if knots.ndim != 3 or tuple(knots.shape[:2]) != (batch, channels):
        raise InputValueError(f"magnitude_warp: knots must be (B, C, K) = ({batch}, {channels}, K), got {tuple(knots.shape)}")
    dtype = _dtype(series)
    curve = smooth_curve(knots.to(series.device, dtype), lengths, length)
    return _keep_padding(series.to(dtype) * curve, series, lengths)


def negate(series: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Flip the sign of every value: ``-x`` on the valid steps.

    Args:
        series: ``(B, C, L)`` float.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "negate")
    lengths = _check_lengths(lengths, series, "negate")
    return _keep_padding(series.neg(), series, lengths)


def drift(series: Tensor, knots: Tensor, amplitude: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Add a smooth drift: a curve through random-walk knots, scaled to a peak ``amplitude``.

    The curve (:func:`smooth_curve` through ``knots``) is divided by its largest absolute value
    over the valid steps and multiplied by ``amplitude * std_c``, so the drift of channel ``c``
    peaks at ``amplitude[b, c]`` channel standard deviations (tsaug's ``Drift`` scales its
    random walk to an absolute maximum instead).

    Args:
        series: ``(B, C, L)`` float.
        knots: ``(B, C, K)`` values of the random walk at ``K >= 2`` evenly spread times.
        amplitude: ``(B, C)`` peak drift in channel standard deviations, >= 0.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "drift")
    lengths = _check_lengths(lengths, series, "drift")
    batch, channels, length = series.shape
    if knots.ndim != 3 or tuple(knots.shape[:2]) != (batch, channels):
        raise InputValueError(f"drift: knots must be (B, C, K) = ({batch}, {channels}, K), got {tuple(knots.shape)}")
    dtype = _dtype(series)
    peak_drift = _per_sample(amplitude, series, "amplitude", "drift", (channels,))[:, :, None]
    curve = smooth_curve(knots.to(series.device, dtype), lengths, length)
    valid = _valid(lengths, series)
    shown = curve if valid is None else curve.masked_fill(~valid, 0)
    peak = torch.maximum(shown.amax(-1, keepdim=True), shown.amin(-1, keepdim=True).neg_())
    weight = peak_drift * _channel_std(series, lengths) / peak.clamp(min=_EPS)
    return _keep_padding(torch.addcmul(series.to(dtype), curve, weight), series, lengths)


# -- time ops -------------------------------------------------------------------------------------


def time_warp(series: Tensor, speeds: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Distort time smoothly and monotonically, then resample linearly (Um et al. 2017).

    The speed curve (:func:`smooth_curve` through the ``K`` positive ``speeds``) gives how fast
    the output reads through the input at each step; its running sum, rescaled to end at the
    last valid step, maps output step ``t`` to input time ``tau(t)`` (``tau(0) = 0``,
    ``tau(n - 1) = n - 1``, increasing), read by linear interpolation. All speeds equal is the
    identity (up to float rounding). One warp per sample, shared by its channels (they stay aligned); Iwana and
    Uchida's code warps each channel separately.

    Args:
        series: ``(B, C, L)`` float.
        speeds: ``(B, K)`` positive speeds at ``K >= 2`` evenly spread times.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; the valid part is resampled within itself, padding unchanged.
    """
    series = _check_series(series, "time_warp")
    lengths = _check_lengths(lengths, series, "time_warp")
    batch, _, length = series.shape
    if speeds.ndim != 2 or speeds.shape[0] != batch:
        raise InputValueError(f"time_warp: speeds must be (B, K) with B = {batch}, got {tuple(speeds.shape)}")
    dtype = _dtype(series)
    speed = smooth_curve(speeds.to(series.device, dtype).clamp(min=_EPS), lengths, length)
    if lengths is not None:  # no increment from the last valid step on
        steps = _steps(series)
        speed = torch.where(steps < (lengths - 1)[:, None], speed, torch.zeros_like(speed))
    # tau(t) = the sum of the first t increments, rescaled so that tau(n - 1) = n - 1
    before = torch.cat([torch.zeros_like(speed[:, :1]), speed[:, :-1].cumsum(-1)], -1)
    span = _lengths(lengths, series)[:, None] - 1
    positions = before.mul_(span / before[:, -1:].clamp(min=_EPS))
    if lengths is not None:
        positions = torch.where(steps < lengths[:, None], positions, steps)
    return _keep_padding(resample(series, positions), series, lengths)


def window_slice(series: Tensor, start: PerSample, size: PerSample, lengths: Tensor | None = None) -> Tensor:
    """Crop a window and stretch it back to the full length (Le Guennec et al. 2016).

    The window covers ``size`` of the valid time span ``[0, n - 1]`` and starts at
    ``start * (1 - size)`` of it; output step ``t`` reads input time
    ``window_start + t * size``, by linear interpolation (:func:`resample`). ``size = 1`` is
    the identity up to float rounding.

    Args:
        series: ``(B, C, L)`` float.
        start: ``(B,)`` in [0, 1], where the window sits in the room left.
        size: ``(B,)`` in (0, 1], the kept fraction of the time span.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "window_slice")
    lengths = _check_lengths(lengths, series, "window_slice")
    valid_length = _lengths(lengths, series)
    kept = _per_sample(size, series, "size", "window_slice").clamp(0, 1)
    where = _per_sample(start, series, "start", "window_slice").clamp(0, 1)
    span = valid_length - 1
    first = where * (span - kept * span)
    steps = _steps(series)
    positions = first[:, None] + steps * kept[:, None]
    positions = torch.where(steps < valid_length[:, None], positions, steps)
    return _keep_padding(resample(series, positions), series, lengths)


def window_warp(
    series: Tensor, start: PerSample, size: PerSample, factor: PerSample, lengths: Tensor | None = None
) -> Tensor:
    """Speed up or slow down one window, then resample the whole series back to its length.

    Le Guennec et al. 2016's window warping: a window covering ``size`` of the valid time span,
    starting at ``start * (1 - size)`` of it, is stretched by ``factor`` (2: twice as long,
    0.5: half as long) while the rest keeps its speed; the warped series is then read at
    ``n`` evenly spaced times (linear interpolation, :func:`resample`), so its length is
    unchanged. ``factor = 1`` is the identity up to float rounding.

    Args:
        series: ``(B, C, L)`` float.
        start: ``(B,)`` in [0, 1], where the window sits in the room left.
        size: ``(B,)`` in [0, 1], the window's fraction of the time span.
        factor: ``(B,)`` > 0, the window's stretch.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "window_warp")
    lengths = _check_lengths(lengths, series, "window_warp")
    valid_length = _lengths(lengths, series)
    span = valid_length - 1
    width = _per_sample(size, series, "size", "window_warp").clamp(0, 1) * span
    first = _per_sample(start, series, "start", "window_warp").clamp(0, 1) * (span - width)
    stretch = _per_sample(factor, series, "factor", "window_warp").clamp(min=_EPS)
    warped_span = span + width * (stretch - 1)
    steps = _steps(series)
    u = steps * (warped_span / span.clamp(min=1))[:, None]  # output times on the warped axis
    inside = (u - first[:, None]).clamp(min=0)
    inside = torch.minimum(inside, (width * stretch)[:, None])
    positions = u - inside * (1 - 1 / stretch)[:, None]
    positions = torch.where(steps < valid_length[:, None], positions, steps)
    return _keep_padding(resample(series, positions), series, lengths)


def permute_segments(series: Tensor, order: Tensor, segments: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Cut the valid part into equal segments and put them back in a new order (Um et al. 2017).

    Sample ``b`` is cut into ``segments[b]`` segments of (near) equal length, segment ``i``
    covering steps ``[floor(i n / k), floor((i + 1) n / k))``; the output concatenates them in
    the order ``order[b]``. Only whole steps move, so each channel keeps its multiset of values.

    Args:
        series: ``(B, C, L)`` float.
        order: ``(B, S)`` int64, a permutation of ``0 .. S - 1`` per row; entries
            ``>= segments[b]`` name empty segments and are skipped.
        segments: ``(B,)`` int64 in ``[1, S]``.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "permute_segments")
    lengths = _check_lengths(lengths, series, "permute_segments")
    batch, channels, length = series.shape
    if order.ndim != 2 or order.shape[0] != batch or order.is_floating_point():
        raise InputValueError(f"permute_segments: order must be a (B, S) integer permutation with B = {batch}, got {tuple(order.shape)}")
    count = order.shape[1]
    device = series.device
    order = order.to(device)
    pieces = segments.to(device).long()[:, None].clamp(1, count)
    total = _lengths(lengths, series).long()[:, None]
    cuts = torch.arange(count + 1, device=device)[None, :]
    bounds = torch.where(cuts <= pieces, cuts * total // pieces, total)  # (B, S + 1) segment edges
    starts, sizes = bounds[:, :-1], bounds[:, 1:] - bounds[:, :-1]
    placed_sizes = sizes.gather(1, order)
    placed_starts = placed_sizes.cumsum(1) - placed_sizes  # where each placed segment begins
    steps = torch.arange(length, device=device)[None, :].expand(batch, length)
    slot = (torch.searchsorted(placed_starts, steps.contiguous(), right=True) - 1).clamp(min=0)
    source = starts.gather(1, order.gather(1, slot)) + steps - placed_starts.gather(1, slot)
    source = torch.where(steps < total, source, steps)
    return series.gather(2, source[:, None, :].expand(batch, channels, length))


def time_mask(
    series: Tensor, start: PerSample, size: PerSample, fill: Literal["mean", "zero"] = "mean",
    lengths: Tensor | None = None,
) -> Tensor:
    """Replace one span of steps by each channel's mean (or by zero).

    The span has ``round(size * n)`` steps and starts at step ``floor(start * (n - m + 1))``
    (clipped), with ``n`` the valid length; ``size = 0`` is the identity.

    Args:
        series: ``(B, C, L)`` float.
        start: ``(B,)`` in [0, 1], where the span sits in the room left.
        size: ``(B,)`` in [0, 1], the span's fraction of the valid length.
        fill: ``"mean"`` (the channel's mean over its valid steps, so the span carries no
            information but keeps the level) or ``"zero"``.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "time_mask")
    lengths = _check_lengths(lengths, series, "time_mask")
    if fill not in ("mean", "zero"):
        raise InputValueError(f"time_mask: fill={fill!r} must be 'mean' or 'zero'")
    valid_length = _lengths(lengths, series)
    span = torch.round(_per_sample(size, series, "size", "time_mask").clamp(0, 1) * valid_length)
    first = torch.floor(_per_sample(start, series, "start", "time_mask").clamp(0, 1) * (valid_length - span + 1))
    first = torch.minimum(first, valid_length - span)
    steps = _steps(series)
    masked = ((steps >= first[:, None]) & (steps < (first + span)[:, None]))[:, None, :]
    value = _channel_mean(series, lengths) if fill == "mean" else torch.zeros((), dtype=_dtype(series), device=series.device)
    return torch.where(masked, value.to(series.dtype), series)


def frequency_mask(series: Tensor, start: PerSample, size: PerSample, lengths: Tensor | None = None) -> Tensor:
    """Remove one frequency band: rFFT over time, zero the band's bins, inverse rFFT.

    The band covers ``size`` of the frequencies ``(0, 0.5]`` cycles per step and starts at
    ``start * (1 - size)`` of that range; rFFT bin ``k`` (frequency ``k / L``) is zeroed when its
    frequency falls in the band. The mean (bin 0) is always kept. A sample whose band holds no
    bin comes back exactly unchanged. Padded samples are transformed with their padding set to
    zero (zero padding samples the same spectrum more finely, so the band means the same
    frequencies for every length) and their padding is restored afterwards.

    Args:
        series: ``(B, C, L)`` float.
        start: ``(B,)`` in [0, 1], where the band sits in the room left.
        size: ``(B,)`` in [0, 1], the band's fraction of the frequency range.
        lengths: ``(B,)`` valid lengths, or ``None``.

    Returns:
        ``(B, C, L)``, same dtype; padding unchanged.
    """
    series = _check_series(series, "frequency_mask")
    lengths = _check_lengths(lengths, series, "frequency_mask")
    if series.shape[0] == 0:
        return series.clone()
    length = series.shape[-1]
    dtype = _dtype(series)
    width = _per_sample(size, series, "size", "frequency_mask").clamp(0, 1) * 0.5
    low = _per_sample(start, series, "start", "frequency_mask").clamp(0, 1) * (0.5 - width)
    bins = torch.arange(length // 2 + 1, dtype=dtype, device=series.device)[None, :]
    frequency = bins / length
    band = (frequency >= low[:, None]) & (frequency < (low + width)[:, None]) & (bins > 0)  # (B, F)
    valid = _valid(lengths, series)
    values = series.to(dtype)
    if valid is not None:
        values = values.masked_fill(~valid, 0)
    spectrum = torch.fft.rfft(values, dim=-1)
    filtered = torch.fft.irfft(spectrum.masked_fill(band[:, None, :], 0), n=length, dim=-1)
    changed = band.any(-1)[:, None, None]
    return _keep_padding(torch.where(changed, filtered, values), series, lengths)
