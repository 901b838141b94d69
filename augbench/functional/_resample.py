"""Separable resampling with per-sample windows: the core of resize and crop.

For each sample ``b`` and output position ``i`` along one axis, the filter reads a few input
positions ``taps[b, i, k]`` with weights ``weights[b, i, k]`` (rows sum to 1). Bilinear upsampling needs
two taps; antialiased downsampling widens the triangle filter to the scale factor (as PIL and
torch's ``antialias=True`` do). Taps outside the crop window are dropped and the remaining
weights renormalised, which is exactly "crop, then resize with edge clamping". The taps become one dense
``(B, out, in)`` matrix per axis and a batch is resampled by two batched matrix products.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def linear_taps(
    start: Tensor, length: Tensor, out_size: int, in_size: int, antialias: bool, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Taps and weights of triangle-filter resampling of ``[start, start + length)`` to ``out_size``.

    Args:
        start: ``(B,)`` first input pixel of each window (pixel units, may be fractional).
        length: ``(B,)`` window length in pixels, > 0.
        out_size: number of output pixels along the axis.
        in_size: number of input pixels along the axis.
        antialias: widen the filter when downsampling.
        dtype: floating dtype of the weights.

    Returns:
        ``taps`` int64 ``(B, out_size, K)`` clamped into ``[0, in_size)`` and ``weights``
        ``(B, out_size, K)`` in ``dtype``, zero for dropped taps, rows summing to 1.
    """
    start = start.to(dtype)
    length = length.to(dtype)
    scale = length / out_size  # input pixels per output pixel, (B,)
    support = scale.clamp(min=1.0) if antialias else torch.ones_like(scale)
    # One host sync, only when some sample is downsampled with antialiasing.
    max_support = float(support.max()) if antialias and in_size > out_size else 1.0
    num_taps = max(2, math.ceil(2 * max_support))

    positions = torch.arange(out_size, device=start.device, dtype=dtype)
    centres = start[:, None] + (positions[None, :] + 0.5) * scale[:, None]  # (B, out)
    first = torch.floor(centres - 0.5 - support[:, None]) + 1  # (B, out)
    offsets = torch.arange(num_taps, device=start.device, dtype=dtype)
    taps = first[..., None] + offsets  # (B, out, K), float
    weights = (1 - (taps + 0.5 - centres[..., None]).abs() / support[:, None, None]).clamp_(min=0)
    low = torch.clamp(torch.floor(start), min=0)[:, None, None]
    high = torch.clamp(torch.ceil(start + length), max=in_size)[:, None, None]
    weights = weights * ((taps >= low) & (taps < high))
    weights = weights / weights.sum(-1, keepdim=True).clamp_(min=torch.finfo(dtype).tiny)
    taps = taps.clamp_(0, in_size - 1).long()
    return taps, weights


def nearest_taps(start: Tensor, length: Tensor, out_size: int, in_size: int) -> Tensor:
    """Input index of each output pixel for nearest resampling, int64 ``(B, out_size)``.

    Each output pixel takes the input pixel that contains its centre (torch's
    ``nearest-exact`` convention), clamped into the window and the image.
    """
    dtype = torch.float64 if start.dtype == torch.float64 else torch.float32
    start = start.to(dtype)
    length = length.to(dtype)
    positions = torch.arange(out_size, device=start.device, dtype=dtype)
    centres = start[:, None] + (positions[None, :] + 0.5) * (length / out_size)[:, None]
    index = torch.floor(centres)
    index = torch.minimum(index, torch.ceil(start + length)[:, None] - 1)
    return index.clamp_(0, in_size - 1).long()


def gather_rows(images: Tensor, index: Tensor) -> Tensor:
    """``images[b, c, index[b, i], w]`` for ``images (B, C, H, W)`` and ``index (B, I)`` -> ``(B, C, I, W)``."""
    batch, channels, _, width = images.shape
    expanded = index[:, None, :, None].expand(batch, channels, index.shape[1], width)
    return images.gather(2, expanded)


def gather_cols(images: Tensor, index: Tensor) -> Tensor:
    """``images[b, c, h, index[b, j]]`` for ``images (B, C, H, W)`` and ``index (B, J)`` -> ``(B, C, H, J)``."""
    batch, channels, height, _ = images.shape
    expanded = index[:, None, None, :].expand(batch, channels, height, index.shape[1])
    return images.gather(3, expanded)


def interpolation_matrix(taps: Tensor, weights: Tensor, in_size: int) -> Tensor:
    """Dense ``(B, out, in)`` resampling matrices from sparse ``taps``/``weights`` ``(B, out, K)``."""
    matrix = torch.zeros(*taps.shape[:2], in_size, dtype=weights.dtype, device=weights.device)
    return matrix.scatter_add_(2, taps, weights)


def resample_matmul(images: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``rows[b] @ images[b, c] @ cols[b].T`` for every sample and channel, in ``rows.dtype``.

    Args:
        images: ``(B, C, H, W)`` of any real dtype.
        rows: ``(B, H_out, H)`` row-resampling matrices.
        cols: ``(B, W_out, W)`` column-resampling matrices.

    Returns:
        ``(B, C, H_out, W_out)``: two batched matrix products, the first with the channels
        folded into the rows so it is a single ``bmm``.
    """
    batch, channels, height, width = images.shape
    folded = images.to(rows.dtype).reshape(batch, channels * height, width)
    resampled_cols = folded.bmm(cols.transpose(1, 2)).view(batch, channels, height, cols.shape[1])
    return rows[:, None] @ resampled_cols
