"""Separable resampling with per-sample windows: the core of resize and crop.

For each sample ``b`` and output position ``i`` along one axis, the filter reads a few input
positions ``taps[b, i, k]`` with weights ``weights[b, i, k]`` (rows sum to 1). Bilinear upsampling needs
two taps; antialiased downsampling widens the filter to the scale factor (as PIL and torch's
``antialias=True`` do). Taps outside the crop window are dropped and the remaining weights
renormalised, which is exactly "crop, then resize with edge clamping".

Two arithmetics:

* floating images: :func:`filter_taps` weights in the images' float dtype and :func:`resample`,
  rows first, by two row gathers and one ``lerp`` when the row filter has two taps (bilinear
  without downsampling, the common case), else by one batched matrix product with a dense
  ``(B, out, in)`` matrix per sample; then columns by one batched product with the channels and
  rows folded into the matrix rows, so the images keep their ``(B, C, H, W)`` layout throughout.
  Large temporaries live in reused per-thread buffers on the CPU (:class:`_Workspace`).
* uint8 images: Pillow's own fixed-point arithmetic, bit for bit (:func:`fixed_point_taps`,
  :func:`resample_fixed`): coefficients computed in float64 exactly as Pillow's
  ``precompute_coeffs`` does and rounded to 22-bit integers, one int32 pass per axis that rounds
  to uint8 (``(sum + 2**21) >> 22``, clipped), in the order Pillow 13 picks.

A per-sample horizontal mirror is free in both: it reverses the order of the output columns,
i.e. of the column taps (``mirror=``).
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.native import library, thread_count


def is_channels_last(images: Tensor) -> bool:
    """Whether a ``(B, C, H, W)`` batch is stored channels-last (NHWC memory) and not also NCHW-contiguous."""
    return images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()


def check_geometry_batch(images: object, who: str) -> Tensor:
    """The metadata checks of a geometric kernel's input: a ``(B, C, H, W)`` tensor, ``B`` may be 0.

    Raises:
        InputTypeError: not a tensor.
        InputValueError: not 4-D, or images with no channel, row or column.
    """
    if not isinstance(images, Tensor):
        raise InputTypeError(f"{who}: expected a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.ndim != 4 or 0 in images.shape[1:]:
        raise InputValueError(f"{who}: expected images (B, C, H, W) with C, H, W >= 1, got shape {tuple(images.shape)}")
    return images


def _positions(out_size: int, mirror: Tensor | None, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Output pixel indices, ``(1, out)``, or ``(B, out)`` running right to left where ``mirror``."""
    positions = torch.arange(out_size, device=device, dtype=dtype)[None, :]
    if mirror is None:
        return positions
    return torch.where(mirror.to(device)[:, None], positions.flip(1), positions)


def _cubic(distance: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (Pillow's and torch's antialiased bicubic),
    evaluated in Pillow's operation order, on ``distance >= 0``."""
    near = (1.5 * distance - 2.5) * distance * distance + 1
    far = (((distance - 5) * distance + 8) * distance - 4) * -0.5
    return torch.where(distance < 1.0, near, torch.where(distance < 2.0, far, 0.0))


def _cubic_torch(distance: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.75, torch's ``upsample_bicubic2d`` (no antialias)."""
    near = (1.25 * distance - 2.25) * distance * distance + 1
    far = (((distance - 5) * distance + 8) * distance - 4) * -0.75
    return torch.where(distance < 1.0, near, torch.where(distance < 2.0, far, 0.0))


def _triangle(distance: Tensor) -> Tensor:
    """The bilinear (triangle) kernel on ``distance >= 0``."""
    return (1.0 - distance).clamp_(min=0.0)


KERNELS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {"bilinear": (_triangle, 1.0), "bicubic": (_cubic, 2.0)}
"""Filter kernel and its support (half-width in input pixels at scale 1) by interpolation name."""


def filter_taps(
    start: Tensor,
    length: Tensor,
    out_size: int,
    in_size: int,
    antialias: bool,
    dtype: torch.dtype,
    mirror: Tensor | None = None,
    kernel: str = "bilinear",
) -> tuple[Tensor, Tensor]:
    """Taps and weights of filtered resampling of ``[start, start + length)`` to ``out_size``.

    Args:
        start: ``(B,)`` first input pixel of each window (pixel units, may be fractional).
        length: ``(B,)`` window length in pixels, > 0.
        out_size: number of output pixels along the axis.
        in_size: number of input pixels along the axis.
        antialias: widen the filter when downsampling.
        dtype: floating dtype of the weights.
        mirror: optional ``(B,)`` bool; those samples get their output pixels in reverse order
            (a flip of the result along this axis).
        kernel: ``"bilinear"`` (triangle) or ``"bicubic"``: with ``antialias``, Keys' kernel
            with a = -0.5 (torch's and Pillow's antialiased bicubic); without, torch's
            ``upsample_bicubic2d``: a = -0.75, taps outside the window clamped onto its edge
            pixels rather than dropped.

    Returns:
        ``taps`` int64 ``(B, out_size, K)`` clamped into ``[0, in_size)`` and ``weights``
        ``(B, out_size, K)`` in ``dtype``, zero for dropped taps, rows summing to 1.
    """
    function, kernel_support = KERNELS[kernel]
    clamp_to_window = kernel == "bicubic" and not antialias
    if clamp_to_window:
        function = _cubic_torch
    start = start.to(dtype)
    length = length.to(dtype)
    scale = length / out_size  # input pixels per output pixel, (B,)
    # The filter is stretched by the scale when antialiasing a window that is downsampled
    # (found with one host sync, only when the image is larger than the output).
    stretch: Tensor | float = 1.0
    if antialias and in_size > out_size:
        widened = scale.clamp(min=1.0)
        max_stretch = float(widened.max())
        stretch = widened[:, None] if max_stretch > 1.0 else 1.0
    max_support = kernel_support * (max_stretch if isinstance(stretch, Tensor) else 1.0)
    num_taps = max(2 * int(kernel_support), math.ceil(2 * max_support))

    positions = _positions(out_size, mirror, start.device, dtype)
    centres = start[:, None] + (positions + 0.5) * scale[:, None]  # (B, out)
    first = torch.floor(centres - 0.5 - kernel_support * stretch) + 1  # (B, out)
    offsets = torch.arange(num_taps, device=start.device, dtype=dtype)
    taps = first[..., None] + offsets  # (B, out, K), float
    distance = (taps + 0.5 - centres[..., None]).abs_()
    weights = function(distance / stretch[..., None] if isinstance(stretch, Tensor) else distance)
    low = torch.clamp(torch.floor(start), min=0)[:, None, None]
    high = torch.clamp(torch.ceil(start + length), max=in_size)[:, None, None]
    if clamp_to_window:
        return torch.minimum(torch.maximum(taps, low), high - 1).long(), weights
    weights = weights * ((taps >= low) & (taps < high))
    # Two taps: one addition, the same number as a sum over the last axis gives, without the
    # cost of a reduction kernel.
    total = weights[..., :1] + weights[..., 1:] if num_taps == 2 else weights.sum(-1, keepdim=True)
    weights = weights / torch.where(total == 0, 1.0, total)
    taps = taps.clamp_(0, in_size - 1).long()
    return taps, weights


FIXED_POINT_BITS = 22
"""Fractional bits of Pillow's 8-bit resampling coefficients (``PRECISION_BITS`` = 32 - 8 - 2)."""


def _pillow_window(start: Tensor, length: Tensor, in_size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A crop box as Pillow sees it after ``crop`` to the enclosing whole-pixel window.

    Returns ``(offset, in0, in1, size)``: the window's first pixel and size (float64 whole
    numbers, ``(B,)``) and the box inside the window as C floats (float32), the way
    ``Image.resize(box=...)`` passes it on.
    """
    start = start.double()
    end = start + length.double()
    offset = torch.floor(start).clamp_(min=0)
    size = torch.ceil(end).clamp_(max=in_size) - offset
    return offset, (start - offset).float(), (end - offset).float(), size


def fixed_point_taps(
    start: Tensor,
    length: Tensor,
    out_size: int,
    in_size: int,
    kernel: str,
    antialias: bool,
    mirror: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Pillow's resampling filter of ``[start, start + length)`` to ``out_size``, in fixed point.

    Bit for bit what ``Image.crop(window).resize(..., box=...)`` uses along one axis: the
    window is the box's enclosing whole pixels (the box itself for whole-pixel boxes), the
    coefficients are computed in float64 in Pillow's operation order (``precompute_coeffs``)
    and rounded to 22-bit integers (``normalize_coeffs_8bpc``). ``antialias=False`` keeps the
    filter unstretched when downsampling (Pillow always stretches it).

    Args:
        start, length: ``(B,)`` box start and length in pixels (``length > 0``).
        out_size: number of output pixels along the axis.
        in_size: number of input pixels along the axis.
        kernel: ``"bilinear"`` or ``"bicubic"``.
        antialias: stretch the filter by the scale when downsampling.
        mirror: optional ``(B,)`` bool, as in :func:`filter_taps`.

    Returns:
        ``taps`` int64 ``(B, out_size, K)`` in ``[0, in_size)`` and ``coefficients`` int32
        ``(B, out_size, K)`` in units of ``2**-22``, zero beyond each pixel's last tap.
    """
    function, kernel_support = KERNELS[kernel]
    offset, in0, in1, window = _pillow_window(start, length, in_size)
    scale = (in1 - in0).double() / out_size
    stretch = scale.clamp(min=1.0) if antialias else torch.ones_like(scale)
    support = (kernel_support * stretch)[:, None]
    positions = _positions(out_size, mirror, scale.device, torch.float64)
    centre = in0.double()[:, None] + (positions + 0.5) * scale[:, None]  # (B, out)
    first = torch.floor(centre - support + 0.5).clamp_(min=0)
    count = torch.minimum(torch.floor(centre + support + 0.5), window[:, None]) - first
    taps = first[..., None] + torch.arange(max(int(count.max()), 1), dtype=torch.float64, device=scale.device)
    weights = function(((taps - centre[..., None]) + 0.5).abs_() * (1.0 / stretch)[:, None, None])
    weights = weights * (taps < (first + count)[..., None])
    total = weights[..., 0]
    for tap in range(1, weights.shape[-1]):  # in Pillow's order: float sums depend on it
        total = total + weights[..., tap]
    weights = (weights / torch.where(total == 0, 1.0, total)[..., None]).mul_(float(1 << FIXED_POINT_BITS))
    coefficients = torch.where(weights < 0, weights - 0.5, weights + 0.5).trunc_()
    taps = (taps + offset[:, None, None]).clamp_(max=in_size - 1)
    return taps.long(), coefficients.to(torch.int32)


def nearest_taps(start: Tensor, length: Tensor, out_size: int, in_size: int, mirror: Tensor | None = None) -> Tensor:
    """Input index of each output pixel for nearest resampling, int64 ``(B, out_size)``.

    Pillow's rule for ``Image.crop(window).resize(..., NEAREST)``: the pixel that contains
    each output pixel's centre, the centres accumulated one output pixel at a time in float64
    as Pillow does (torch's ``nearest-exact`` convention, up to those roundings); clamped into
    the window and the image; ``mirror`` as in :func:`filter_taps`.
    """
    offset, in0, in1, window = _pillow_window(start, length, in_size)
    step = (in1 - in0).double() / out_size
    index = pillow_positions(in0.double() + step * 0.5, step, out_size).clamp_(min=0)
    index = torch.minimum(index, window[:, None] - 1) + offset[:, None]
    if mirror is not None:
        index = torch.where(mirror.to(index.device)[:, None], index.flip(1), index)
    return index.clamp_(0, in_size - 1).long()


def pillow_fix(values: Tensor) -> Tensor:
    """Pillow's 16.16 fixed-point ``FIX(v) = floor(v * 65536 + 0.5)`` of float64 ``values``, as int64."""
    return torch.floor(values * 65536.0 + 0.5).long()


def pillow_positions(first: Tensor, step: Tensor, count: int) -> Tensor:
    """``floor`` of ``first, first + step, first + 2 step, ...`` summed one step at a time in float64.

    Pillow's ``ImagingScaleAffine`` accumulates source coordinates this way (``xo += a[0]``),
    so a coordinate that is a whole number in exact arithmetic lands on the side the rounded
    sums put it. The running sum is taken on the CPU, whose ``cumsum`` adds in order.

    Args:
        first: ``(B,)`` first coordinate.
        step: ``(B,)`` increment per position.
        count: number of positions.

    Returns:
        ``(B, count)`` float64 whole numbers (``floor`` of each sum), on the device of ``first``.
    """
    terms = step.double().cpu()[:, None].expand(-1, count).clone()
    terms[:, 0] = first.double().cpu()
    return terms.cumsum_(1).floor_().to(first.device)


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
        rows: ``(taps, weights)`` of the row filter, ``(B, H_out, K)`` as from :func:`filter_taps`.
        cols: ``(taps, weights)`` of the column filter, ``(B, W_out, K)``.
        dtype: floating dtype to compute in.
        temporary: the caller consumes the result at once (e.g. rounds it to a new uint8
            tensor), so it may live in a reused buffer (see :class:`_Workspace`) that the next
            call overwrites.

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


def resample_fixed(
    images: Tensor, rows: tuple[Tensor, Tensor], cols: tuple[Tensor, Tensor], vertical_first: bool, clip: bool
) -> Tensor:
    """Pillow's two 8-bit passes over a uint8 batch with per-sample fixed-point filters.

    Each pass sums ``pixel * coefficient`` in int32 (exact), adds ``2**21`` and shifts right by
    22, clipped to 0-255, as ``ImagingResampleHorizontal_8bpc``/``Vertical_8bpc`` do, so the
    second pass reads the first pass's rounded uint8 values. On the CPU the passes run compiled
    (``augbench/native/resample.c``, the same integers); in torch (other devices, or no compiler)
    the CPU batch is resampled in equal chunks of about ``_CHUNK_BYTES_PER_THREAD`` of int32
    temporaries per thread, which stay in the cache: ~30 % faster than whole-batch passes for
    512 x 3 x 32 x 32 (6.4 -> 4.5 ms on one core).

    Args:
        images: ``(B, C, H, W)`` uint8.
        rows: ``(taps, coefficients)`` of the row filter, ``(B, H_out, K)`` from
            :func:`fixed_point_taps` (a leading 1 instead of ``B``: one filter for all).
        cols: ``(taps, coefficients)`` of the column filter, ``(B, W_out, K)`` (or ``(1, ...)``).
        vertical_first: run the row (vertical) pass first, as Pillow 13 does when the height
            shrinks by more than twice what the width does.
        clip: clip the sums to 0-255 (needed only with negative coefficients, i.e. bicubic).

    Returns:
        ``(B, C, H_out, W_out)`` uint8, a new tensor (channels-last for a channels-last batch).
    """
    batch, channels, height, width = images.shape
    out_height, out_width = rows[0].shape[1], cols[0].shape[1]
    channels_last = is_channels_last(images)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    compiled = library("resample") if images.device.type == "cpu" and batch > 0 else None
    if compiled is not None:
        result = _resample_fixed_compiled(compiled, images.contiguous(memory_format=layout), rows, cols, vertical_first,
                                          channels_last)
        if result is not None:
            return result
    result = torch.empty((batch, channels, out_height, out_width), dtype=images.dtype, device=images.device, memory_format=layout)
    workspace = _workspace_for(images)
    sample_bytes = 4 * channels * max(height, out_height) * max(width, out_width)
    budget = _CHUNK_BYTES_PER_THREAD * torch.get_num_threads()
    chunks = 1 if workspace is None else -(-batch // max(1, budget // sample_bytes))
    chunk = -(-batch // max(chunks, 1))  # equal chunks: no small last one
    for start in range(0, batch, chunk):
        part = slice(start, start + chunk)
        filters = [tuple(t[part] if t.shape[0] > 1 else t for t in taps) for taps in (rows, cols)]
        _resample_fixed_chunk(images[part], *filters, vertical_first, clip, workspace, result[part])  # type: ignore[arg-type]
    return result


_CHUNK_BYTES_PER_THREAD = 2 * 2**20


def _resample_fixed_compiled(
    compiled: ctypes.CDLL,
    images: Tensor,
    rows: tuple[Tensor, Tensor],
    cols: tuple[Tensor, Tensor],
    vertical_first: bool,
    channels_last: bool,
) -> Tensor | None:
    """:func:`resample_fixed` by ``augbench/native/resample.c`` (the same integers, so the same
    bits; it always clips, which changes nothing where the torch passes need no clip) on a
    contiguous or ``channels_last`` batch, read and written in place (the result keeps that
    layout), the samples shared out over threads (:func:`augbench.native.thread_count`).
    ``None`` if it ran out of memory."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    batch, channels, height, width = images.shape
    row_taps, row_coefficients = (t.contiguous() for t in rows)
    col_taps, col_coefficients = (t.contiguous() for t in cols)
    out = torch.empty((batch, channels, row_taps.shape[1], col_taps.shape[1]), dtype=torch.uint8, memory_format=layout)
    status = compiled.resample_fixed_uint8(
        images.data_ptr(), batch, channels, height, width,
        row_taps.data_ptr(), row_coefficients.data_ptr(), *row_taps.shape,
        col_taps.data_ptr(), col_coefficients.data_ptr(), *col_taps.shape,
        int(vertical_first), int(channels_last), out.data_ptr(), thread_count(out.numel()),
    )
    return out if status == 0 else None


def _resample_fixed_chunk(
    images: Tensor,
    rows: tuple[Tensor, Tensor],
    cols: tuple[Tensor, Tensor],
    vertical_first: bool,
    clip: bool,
    workspace: _Workspace | None,
    out: Tensor,
) -> None:
    """:func:`resample_fixed` of one chunk, written into ``out``."""
    if vertical_first:
        between = _fixed_pass(images, *rows, clip, workspace, None, transposed=False)
        _fixed_pass(between, *cols, clip, workspace, out, transposed=True)
    else:
        between = _fixed_pass(images, *cols, clip, workspace, None, transposed=True)
        _fixed_pass(between, *rows, clip, workspace, out, transposed=False)


def _fixed_pass(
    images: Tensor,
    taps: Tensor,
    coefficients: Tensor,
    clip: bool,
    workspace: _Workspace | None,
    out: Tensor | None,
    transposed: bool,
) -> Tensor:
    """One fixed-point pass, uint8 in and out: along H (``(B, C, H, W) -> (B, C, H_out, W)``), or
    along W with ``transposed`` (``-> (B, C, H, W_out)``), as the H pass of the transposed images
    (gathers of whole rows, copies of contiguous memory, beat column gathers). The result goes
    to ``out``, or to the workspace buffer ``"between"`` (a new tensor without a workspace)."""
    if transposed:
        images = _copy(images.transpose(2, 3), workspace, "fixed_transposed")
    batch, channels, height, width = images.shape
    first_row = torch.arange(batch * channels, device=images.device).view(batch, channels, 1) * height
    flat = images.reshape(batch * channels * height, width)
    shape = (batch, channels, taps.shape[1], width)
    total: Tensor | None = None
    for tap in range(taps.shape[-1]):
        index = (first_row + taps[:, None, :, tap]).view(-1)
        selected = torch.index_select(flat, 0, index, **_out(workspace, "fixed_pixels", (index.shape[0], width), torch.uint8))
        pixels = _as_dtype(selected.view(shape), torch.int32, workspace, "fixed_term" if total is not None else "fixed_total")
        weight = coefficients[:, None, :, tap, None]
        total = pixels.mul_(weight) if total is None else total.addcmul_(pixels, weight)
    levels = total.add_(1 << (FIXED_POINT_BITS - 1)).bitwise_right_shift_(FIXED_POINT_BITS)  # type: ignore[union-attr]
    if clip:
        levels = levels.clamp_(0, 255)
    if transposed:
        levels = _copy(levels, workspace, "fixed_levels", torch.uint8).transpose(2, 3)
    if out is None:
        return _copy(levels, workspace, "between", torch.uint8)
    return out.copy_(levels)


def _copy(values: Tensor, workspace: _Workspace | None, name: str | None, dtype: torch.dtype | None = None) -> Tensor:
    """A contiguous copy of ``values`` (in ``dtype``), in the workspace buffer ``name`` when there
    is a workspace and a name, else a new tensor."""
    dtype = values.dtype if dtype is None else dtype
    if workspace is None or name is None:
        return values.to(dtype, memory_format=torch.contiguous_format, copy=True)
    return workspace.empty(name, values.shape, dtype).copy_(values)


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


def scratch(like: Tensor, name: str, shape: Sequence[int], dtype: torch.dtype) -> Tensor:
    """An uninitialised temporary for a computation on ``like``: a reused workspace buffer on the
    CPU (valid until ``name`` is asked for again, see :class:`_Workspace`), else a new tensor."""
    workspace = _workspace_for(like)
    if workspace is None:
        return torch.empty(tuple(shape), dtype=dtype, device=like.device)
    return workspace.empty(name, shape, dtype)


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
