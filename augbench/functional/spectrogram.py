"""Spectrogram kernels (SpecAugment): ``(B, C, F, T)`` float batches with per-sample parameters.

Pure and batched like :mod:`augbench.functional.audio`; shape, dtype and device are kept.
``F`` is the frequency (mel) axis, ``T`` the time (frame) axis.
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.functional._utils import BatchParam, batch_param
from augbench.functional.audio import segment_mask

__all__ = ["mask_frequency", "mask_time", "time_warp"]


def _check(spectrograms: object, who: str) -> Tensor:
    """``spectrograms`` if it is a ``(B, C, F, T)`` floating tensor, else a one-line error."""
    if not isinstance(spectrograms, Tensor) or not spectrograms.is_floating_point():
        got = getattr(spectrograms, "dtype", type(spectrograms).__name__)
        raise InputTypeError(f"{who}: spectrograms must be a floating (B, C, F, T) tensor, got {got}; use .float()")
    if spectrograms.ndim != 4:
        raise InputValueError(f"{who}: spectrograms are (B, C, F, T), got shape {tuple(spectrograms.shape)}")
    return spectrograms


def _fill(spectrograms: Tensor, masked: Tensor, value: BatchParam) -> Tensor:
    """``spectrograms`` with ``value`` (a number or one per sample) where ``masked`` is True."""
    fill = batch_param(value, spectrograms, "value", spectrograms.dtype).view(-1, 1, 1, 1)
    return torch.where(masked, fill, spectrograms)


def mask_frequency(spectrograms: Tensor, start: Tensor, width: Tensor, value: BatchParam = 0.0) -> Tensor:
    """SpecAugment frequency masking: bins ``[start, start + width)`` of every frame set to ``value``.

    Args:
        spectrograms: ``(B, C, F, T)`` float.
        start, width: ``(B,)`` or ``(B, M)`` int64 bins, ``M`` masks per sample (width 0: none).
        value: the fill, a number or ``(B,)`` (e.g. each sample's mean).

    Shape:
        ``(B, C, F, T)`` -> same shape and dtype.

    Reference:
        Park et al., "SpecAugment: A Simple Data Augmentation Method for Automatic Speech
        Recognition", Interspeech 2019.
    """
    spectrograms = _check(spectrograms, "mask_frequency")
    batch, _, bins, _ = spectrograms.shape
    masked = segment_mask(batch, bins, start, width, "mask_frequency")
    return _fill(spectrograms, masked[:, None, :, None], value)


def mask_time(spectrograms: Tensor, start: Tensor, width: Tensor, value: BatchParam = 0.0) -> Tensor:
    """SpecAugment time masking: frames ``[start, start + width)`` of every bin set to ``value``.

    Args:
        spectrograms: ``(B, C, F, T)`` float.
        start, width: ``(B,)`` or ``(B, M)`` int64 frames, ``M`` masks per sample (width 0: none).
        value: the fill, a number or ``(B,)``.

    Shape:
        ``(B, C, F, T)`` -> same shape and dtype.
    """
    spectrograms = _check(spectrograms, "mask_time")
    batch, _, _, frames = spectrograms.shape
    masked = segment_mask(batch, frames, start, width, "mask_time")
    return _fill(spectrograms, masked[:, None, None, :], value)


def time_warp(spectrograms: Tensor, center: BatchParam, warp: BatchParam) -> Tensor:
    """SpecAugment time warping: frame ``center`` moves to ``center + warp``, the rest follows.

    A piecewise-linear warp of the time axis: the output's frames ``[0, center + warp]`` read
    the input's ``[0, center]`` and ``[center + warp, T - 1]`` read ``[center, T - 1]``, both
    linearly stretched, with linear interpolation between frames; the first and last frames
    stay where they are. Simplified from the paper, which warps with a sparse image warp
    (a smooth spline) along the spectrogram's centre line; the piecewise-linear map is the
    common implementation. The destination ``center + warp`` is clamped into
    ``[0.5, T - 1.5]`` (and ``center`` into ``[0.5, T - 1.5]``) so neither piece collapses;
    spectrograms of fewer than 3 frames are returned unchanged.

    Args:
        spectrograms: ``(B, C, F, T)`` float.
        center: frame (float) of the warp point, a number or ``(B,)``.
        warp: displacement in frames, a number or ``(B,)``; 0 is the identity.

    Shape:
        ``(B, C, F, T)`` -> same shape and dtype.
    """
    spectrograms = _check(spectrograms, "time_warp")
    batch, channels, bins, frames = spectrograms.shape
    if frames < 3 or batch == 0:
        return spectrograms.clone()
    work = spectrograms if spectrograms.dtype in (torch.float32, torch.float64) else spectrograms.float()
    last = float(frames - 1)
    anchor = batch_param(center, spectrograms, "center", work.dtype).clamp(0.5, last - 0.5)[:, None]
    target = (anchor + batch_param(warp, spectrograms, "warp", work.dtype)[:, None]).clamp(0.5, last - 0.5)
    steps = torch.arange(frames, device=spectrograms.device, dtype=work.dtype)[None, :]
    # written so that warp == 0 gives the frame positions exactly (both ratios are then 1)
    source = torch.where(
        steps <= target, steps * (anchor / target), last - (last - steps) * ((last - anchor) / (last - target))
    ).clamp_(0.0, last)  # (B, T)
    low = torch.floor(source)
    weight = (source - low).view(batch, 1, 1, frames)
    low_index = low.long()
    high_index = (low_index + 1).clamp_(max=frames - 1)
    expand = lambda index: index.view(batch, 1, 1, frames).expand(batch, channels, bins, frames)  # noqa: E731
    start = torch.gather(work, 3, expand(low_index))
    end = torch.gather(work, 3, expand(high_index))
    return torch.lerp(start, end, weight).to(spectrograms.dtype)
