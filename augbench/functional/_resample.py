"""Separable resampling with per-sample windows: the core of resize and crop.

For each sample ``b`` and output position ``i`` along one axis, the filter reads a few input
positions ``taps[b, i, k]`` with weights ``weights[b, i, k]`` (rows sum to 1). Bilinear upsampling needs
two taps; antialiased downsampling widens the triangle filter to the scale factor (as PIL and
torch's ``antialias=True`` do). Taps outside the crop window are dropped and the remaining
weights renormalised, which is exactly "crop, then resize with edge clamping".

:func:`resample` runs a batch through both axes: rows first, by two row gathers and one
``lerp`` when the row filter has two taps (bilinear without downsampling, the common case), else
by one batched matrix product with a dense ``(B, out, in)`` matrix per sample; then columns by one
batched product with the channels and rows folded into the matrix rows, so the images keep their
``(B, C, H, W)`` layout throughout. A per-sample horizontal mirror is free: it reverses the order
of the output columns, i.e. of the column taps (``mirror=``). Large temporaries live in reused
per-thread buffers on the CPU (:class:`_Workspace`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import torch
from torch import Tensor


def _positions(out_size: int, mirror: Tensor | None, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Output pixel indices, ``(1, out)``, or ``(B, out)`` running right to left where ``mirror``."""
    positions = torch.arange(out_size, device=device, dtype=dtype)[None, :]
    if mirror is None:
        return positions
    return torch.where(mirror.to(device)[:, None], positions.flip(1), positions)


def linear_taps(
    start: Tensor,
    length: Tensor,
    out_size: int,
    in_size: int,
    antialias: bool,
    dtype: torch.dtype,
    mirror: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Taps and weights of triangle-filter resampling of ``[start, start + length)`` to ``out_size``.

    Args:
        start: ``(B,)`` first input pixel of each window (pixel units, may be fractional).
        length: ``(B,)`` window length in pixels, > 0.
        out_size: number of output pixels along the axis.
        in_size: number of input pixels along the axis.
        antialias: widen the filter when downsampling.
        dtype: floating dtype of the weights.
        mirror: optional ``(B,)`` bool; those samples get their output pixels in reverse order
            (a flip of the result along this axis).

    Returns:
        ``taps`` int64 ``(B, out_size, K)`` clamped into ``[0, in_size)`` and ``weights``
        ``(B, out_size, K)`` in ``dtype``, zero for dropped taps, rows summing to 1.
    """
    start = start.to(dtype)
    length = length.to(dtype)
    scale = length / out_size  # input pixels per output pixel, (B,)
    # The triangle's half-width in input pixels: 1, or the scale when antialiasing a window that
    # is downsampled (found with one host sync, only when the image is larger than the output).
    support: Tensor | float = 1.0
    if antialias and in_size > out_size:
        widened = scale.clamp(min=1.0)
        max_support = float(widened.max())
        support = widened[:, None] if max_support > 1.0 else 1.0
    num_taps = max(2, math.ceil(2 * (max_support if isinstance(support, Tensor) else 1.0)))

    positions = _positions(out_size, mirror, start.device, dtype)
    centres = start[:, None] + (positions + 0.5) * scale[:, None]  # (B, out)
    first = torch.floor(centres - 0.5 - support) + 1  # (B, out)
    offsets = torch.arange(num_taps, device=start.device, dtype=dtype)
    taps = first[..., None] + offsets  # (B, out, K), float
    distance = (taps + 0.5 - centres[..., None]).abs_()
    weights = (1 - (distance / support[..., None] if isinstance(support, Tensor) else distance)).clamp_(min=0)
    low = torch.clamp(torch.floor(start), min=0)[:, None, None]
    high = torch.clamp(torch.ceil(start + length), max=in_size)[:, None, None]
    weights = weights * ((taps >= low) & (taps < high))
    # Two taps: one addition, the same number as a sum over the last axis gives, without the
    # cost of a reduction kernel.
    total = weights[..., :1] + weights[..., 1:] if num_taps == 2 else weights.sum(-1, keepdim=True)
    weights = weights / total.clamp_(min=torch.finfo(dtype).tiny)
    taps = taps.clamp_(0, in_size - 1).long()
    return taps, weights


def nearest_taps(start: Tensor, length: Tensor, out_size: int, in_size: int, mirror: Tensor | None = None) -> Tensor:
    """Input index of each output pixel for nearest resampling, int64 ``(B, out_size)``.

    Each output pixel takes the input pixel that contains its centre (torch's
    ``nearest-exact`` convention), clamped into the window and the image; ``mirror`` as in
    :func:`linear_taps`.
    """
    dtype = torch.float64 if start.dtype == torch.float64 else torch.float32
    start = start.to(dtype)
    length = length.to(dtype)
    positions = _positions(out_size, mirror, start.device, dtype)
    centres = start[:, None] + (positions + 0.5) * (length / out_size)[:, None]
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
        ``(B, C, H_out, W_out)``: two batched matrix products with the channels folded into
        the matrix rows (see :func:`resample`).
    """
    batch, channels, _, width = images.shape
    folded = _matmul_rows(images.to(rows.dtype), rows, None).view(batch, -1, width)
    return folded.bmm(cols.transpose(1, 2)).view(batch, channels, -1, cols.shape[1])


def resample(
    images: Tensor, rows: tuple[Tensor, Tensor], cols: tuple[Tensor, Tensor], dtype: torch.dtype, *, temporary: bool = False
) -> Tensor:
    """Resample rows then columns of a batch with per-sample separable filters.

    Args:
        images: ``(B, C, H, W)`` of any real dtype.
        rows: ``(taps, weights)`` of the row filter, ``(B, H_out, K)`` as from :func:`linear_taps`.
        cols: ``(taps, weights)`` of the column filter, ``(B, W_out, K)``.
        dtype: floating dtype to compute in.
        temporary: the caller consumes the result at once (e.g. rounds it to uint8), so it may
            live in a reused buffer (see :class:`_Workspace`) that the next call overwrites.

    Returns:
        ``(B, C, H_out, W_out)`` in ``dtype``, contiguous.
    """
    workspace = _workspace_for(images, rows[1], cols[1])
    batch, channels, height, width = images.shape
    if rows[0].shape[-1] == 2:
        resampled_rows = _lerp_rows(images, *rows, dtype, workspace)
    else:
        values = _as_dtype(images, dtype, workspace, "values")
        resampled_rows = _matmul_rows(values, _matrix(*rows, height, workspace, "row_matrix"), workspace)
    col_matrix = _matrix(*cols, width, workspace, "col_matrix")
    folded = resampled_rows.view(batch, -1, width)
    out = _out(workspace if temporary else None, "result", (batch, folded.shape[1], col_matrix.shape[1]), dtype)
    return torch.bmm(folded, col_matrix.transpose(1, 2), **out).view(batch, channels, -1, col_matrix.shape[1])


class _Workspace(threading.local):
    """Reused per-thread CPU buffers for the large temporaries of :func:`resample`.

    glibc returns freed blocks of more than a few MB to the kernel, so a fresh temporary costs a
    page fault per 4 KiB written. For RandomResizedCrop(32) on a 512 x 3 x 32 x 32 uint8 batch the
    temporaries caused ~6,000 faults per call, two thirds of its time on a 2-core VM (22 ms ->
    7.6 ms with them avoided). A buffer per role grows to the largest request and stays alive
    (1.5-6 MB each for such batches); requests above ``MAX_BYTES`` are allocated as usual.
    """

    MAX_BYTES = 32 * 2**20

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, torch.dtype], Tensor] = {}

    def empty(self, name: str, shape: Sequence[int], dtype: torch.dtype) -> Tensor:
        """An uninitialised CPU tensor of ``shape`` that stays valid until ``name`` is asked for again."""
        numel = math.prod(shape)
        if numel * dtype.itemsize > self.MAX_BYTES:
            return torch.empty(tuple(shape), dtype=dtype)
        buffer = self.buffers.get((name, dtype))
        if buffer is None or buffer.numel() < numel:
            buffer = self.buffers[name, dtype] = torch.empty(numel, dtype=dtype)
        return buffer[:numel].view(tuple(shape))


_WORKSPACE = _Workspace()


def _workspace_for(*tensors: Tensor) -> _Workspace | None:
    """The workspace, when the computation on ``tensors`` may use it: on the CPU, and with no
    tensor that autograd tracks (it would save reused buffers for the backward pass)."""
    tracked = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    return None if tracked or any(t.device.type != "cpu" for t in tensors) else _WORKSPACE


def _out(workspace: _Workspace | None, name: str, shape: Sequence[int], dtype: torch.dtype) -> dict[str, Tensor]:
    """``out=`` a workspace buffer, or no ``out`` (a fresh result) without a workspace."""
    return {} if workspace is None else {"out": workspace.empty(name, shape, dtype)}


def _as_dtype(values: Tensor, dtype: torch.dtype, workspace: _Workspace | None, name: str) -> Tensor:
    """``values`` converted to ``dtype`` (into a workspace buffer when there is one)."""
    if values.dtype == dtype:
        return values
    return values.to(dtype) if workspace is None else workspace.empty(name, values.shape, dtype).copy_(values)


def _matrix(taps: Tensor, weights: Tensor, in_size: int, workspace: _Workspace | None, name: str) -> Tensor:
    """:func:`interpolation_matrix`, built in a workspace buffer when there is one."""
    if workspace is None:
        return interpolation_matrix(taps, weights, in_size)
    matrix = workspace.empty(name, (*taps.shape[:2], in_size), weights.dtype).zero_()
    return matrix.scatter_add_(2, taps, weights)


def _lerp_rows(images: Tensor, taps: Tensor, weights: Tensor, dtype: torch.dtype, workspace: _Workspace | None) -> Tensor:
    """Two-tap row filter: gather both input rows of every output row (whole rows, so copies of
    contiguous memory, done before the conversion to ``dtype`` to move fewer bytes) and blend them
    with one ``lerp``; ``(B, C, H, W) -> (B, C, H_out, W)`` in ``dtype``."""
    batch, channels, height, width = images.shape
    first_row = torch.arange(batch * channels, device=images.device).view(batch, channels, 1) * height
    flat = images.reshape(batch * channels * height, width)
    index = (first_row[..., None] + taps[:, None]).view(-1, 2)  # (B * C * H_out, 2)
    shape = (index.shape[0], width)
    rows = []
    for tap, name in enumerate(("upper", "lower")):
        selected = torch.index_select(flat, 0, index[:, tap], **_out(workspace, name, shape, images.dtype))
        rows.append(_as_dtype(selected, dtype, workspace, name))
    upper, lower = rows
    blend = weights[:, None, :, 1:].expand(batch, channels, -1, 1).reshape(-1, 1)
    return upper.lerp_(lower, blend).view(batch, channels, -1, width)


def _matmul_rows(values: Tensor, rows: Tensor, workspace: _Workspace | None) -> Tensor:
    """``rows[b] @ values[b, c]`` as one ``bmm`` over ``B * C`` matrices; ``(B, C, H_out, W)``."""
    batch, channels, height, width = values.shape
    per_channel = rows[:, None].expand(batch, channels, -1, -1)
    if workspace is not None:
        per_channel = workspace.empty("row_matrices", per_channel.shape, rows.dtype).copy_(per_channel)
    out = _out(workspace, "rows", (batch * channels, rows.shape[1], width), values.dtype)
    flat = values.reshape(batch * channels, height, width)
    return torch.bmm(per_channel.reshape(batch * channels, -1, height), flat, **out).view(batch, channels, -1, width)


_ROUNDING_OFFSET = 1.5 * 2**23
"""Adding 1.5 * 2^23 to a float32 in [-2^22, 2^22] rounds it to an integer (half to even, as
``torch.round``) that then sits in the low bits of the float's mantissa."""


def round_to_uint8(values: Tensor) -> Tensor:
    """Round float32 ``values`` in [0, 255] to uint8 (half to even); overwrites ``values``.

    Equal to ``values.round().clamp(0, 255).to(torch.uint8)`` for the convex combinations of
    0-255 pixels that resampling produces, whose float error stays far below half a level. The
    float -> uint8 cast is slow on CPUs (~0.6 ns per element, unvectorised); the magic-number
    rounding leaves the integer in the low byte of each float32, and an int32 -> uint8 cast (which
    keeps the low byte) is vectorised.
    """
    return values.add_(_ROUNDING_OFFSET).view(torch.int32).to(torch.uint8)
