"""Geometric kernels on ``(B, C, H, W)`` batches: flips, crops and resizes.

Names, signatures and semantics follow ``torchvision.transforms.v2.functional``; every box
parameter may be a Python number (same for all samples) or a ``(B,)`` tensor (one value per
sample), and a whole batch is processed by a few batched gathers. uint8 images are resampled in
Pillow's own fixed-point arithmetic (compiled on the CPU, :mod:`augbench.native`), so they equal
``PIL.Image.resize`` bit for bit (see :func:`resized_crop` for the one exception, large images on
a CPU without a C compiler). The one loop over samples is ``resized_crop`` of large floating
images on the CPU (60 px or more; uint8 from 72 px without the compiled passes), which calls
torch's native resize kernel per sample because that is faster there (see ``_use_native_loop``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Union

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._resample import (
    check_geometry_batch,
    filter_taps,
    fixed_point_taps,
    gather_cols,
    gather_rows,
    is_channels_last,
    nearest_taps,
    resample,
    resample_fixed,
)
from augbench.functional._utils import BatchParam, Scalar, batch_param, compute_dtype, fill_tensor, restore_dtype
from augbench.functional.interpolation import InterpolationArg, InterpolationMode, interpolation_name
from augbench.native import library

__all__ = ["hflip", "vflip", "crop", "resized_crop", "resize", "Interpolation", "PaddingMode"]

Interpolation = InterpolationArg
PaddingMode = Literal["constant", "edge", "reflect", "symmetric"]
Size = Union[int, Sequence[int]]

_RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic")


@leading_dims()
def hflip(images: Tensor) -> Tensor:
    """Mirror left-right. ``(B, C, H, W)`` any dtype -> same shape and dtype."""
    return images.flip(-1)


@leading_dims()
def vflip(images: Tensor) -> Tensor:
    """Mirror top-bottom. ``(B, C, H, W)`` any dtype -> same shape and dtype."""
    return images.flip(-2)


def _pair(size: Size, name: str) -> tuple[int, int]:
    """``(height, width)`` from ``(h, w)``; an error naming the fix for anything else."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s >= 1 for s in pair):
        raise InputValueError(f"{name}={size!r} must be (height, width) of positive ints; e.g. {name}=[32, 32]")
    return pair  # type: ignore[return-value]


def smaller_edge_size(
    extent: tuple[float, float], size: int | Sequence[int] | None, max_size: int | None, who: str
) -> tuple[int, int]:
    """torchvision's output size of ``resize``: ``(h, w)`` as given, or the smaller edge scaled to ``size``.

    An int (or ``[int]``) ``size`` becomes the smaller edge and the longer one is
    ``int(size * long / short)``, capped at ``max_size`` (the smaller edge then shrinks to
    keep the aspect ratio); ``size=None`` makes the longer edge ``max_size``.

    Args:
        extent: ``(height, width)`` being resized, in pixels.
        size: ``(h, w)``, an int, a one-element sequence, or ``None``.
        max_size: cap of the longer edge, only with an int ``size`` or ``None``.
        who: the calling kernel, used in messages.
    """
    if size is not None and not isinstance(size, int):
        size = list(size)
        if len(size) == 2:
            if max_size is not None:
                raise InputValueError(f"{who}: max_size needs size=int (the smaller edge) or None, got size={size!r}")
            return _pair(size, "size")
        if len(size) != 1:
            raise InputValueError(f"{who}: size={size!r} must be an int, [int], (height, width) or None")
        size = size[0]
    if size is None and not (isinstance(max_size, int) and max_size >= 1):
        raise InputValueError(f"{who}: size=None needs max_size=int (the longer edge), got max_size={max_size!r}")
    if size is not None and not (isinstance(size, int) and size >= 1):
        raise InputValueError(f"{who}: size={size!r} must be a positive int, (height, width) or None")
    height, width = extent
    short, long = (width, height) if width <= height else (height, width)
    if size is None:
        new_short, new_long = int(max_size * short / long), max_size  # type: ignore[operator]
    else:
        new_short, new_long = size, int(size * long / short)
        if max_size is not None:
            if max_size <= size:
                raise InputValueError(f"{who}: max_size={max_size} must be larger than the smaller edge size={size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
    if min(new_short, new_long) < 1:
        raise InputValueError(f"{who}: size={size!r}, max_size={max_size!r} make an edge of 0 px for a {height}x{width} input")
    return (new_long, new_short) if width <= height else (new_short, new_long)


def _map_outside(index: Tensor, size: int, mode: PaddingMode) -> Tensor:
    """Map indices outside ``[0, size)`` back inside, as the padding mode would."""
    if mode in ("constant", "edge"):
        return index.clamp(0, size - 1)
    if mode == "reflect":  # ... 2 1 | 0 1 2 ... (edge pixel not repeated)
        period = max(2 * size - 2, 1)
        folded = index.remainder(period)
        return torch.where(folded >= size, period - folded, folded)
    period = 2 * size  # symmetric: ... 1 0 | 0 1 ... (edge pixel repeated)
    folded = index.remainder(period)
    return torch.where(folded >= size, period - 1 - folded, folded)


@leading_dims("top", "left")
def crop(
    images: Tensor,
    top: BatchParam,
    left: BatchParam,
    height: int,
    width: int,
    *,
    padding_mode: PaddingMode = "constant",
    fill: Scalar | Sequence[Scalar] = 0,
) -> Tensor:
    """Cut a ``height x width`` window at a per-sample position.

    Windows may reach outside the image; the outside is filled as ``padding_mode`` says
    (``"constant"`` writes ``fill``, as torchvision's ``crop`` does with zeros).

    Args:
        images: ``(B, C, H, W)`` batch of any dtype.
        top: row of the window's top-left corner, a number or ``(B,)`` integer tensor.
        left: column of the window's top-left corner, a number or ``(B,)`` integer tensor.
        height: window height in pixels, the same for every sample.
        width: window width in pixels.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.
        fill: value(s) outside the image for ``"constant"``, in the images' own scale.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, height, width)``, same dtype.
    """
    check_geometry_batch(images, "crop")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise InputValueError(
            f"padding_mode={padding_mode!r} is unknown; use 'constant', 'edge', 'reflect' or 'symmetric'"
        )
    height, width = _pair((height, width), "size")
    in_height, in_width = images.shape[-2:]
    rows = batch_param(top, images, "top", torch.int64)[:, None] + torch.arange(height, device=images.device)
    cols = batch_param(left, images, "left", torch.int64)[:, None] + torch.arange(width, device=images.device)
    result = gather_cols(gather_rows(images, _map_outside(rows, in_height, padding_mode)), _map_outside(cols, in_width, padding_mode))
    if padding_mode != "constant":
        return result
    inside = ((rows >= 0) & (rows < in_height))[:, None, :, None] & ((cols >= 0) & (cols < in_width))[:, None, None, :]
    return torch.where(inside, result, fill_tensor(fill, images, images.dtype))


@leading_dims("top", "left", "height", "width", "hflip")
def resized_crop(
    images: Tensor,
    top: BatchParam,
    left: BatchParam,
    height: BatchParam,
    width: BatchParam,
    size: Size,
    interpolation: Interpolation = InterpolationMode.BILINEAR,
    antialias: bool | None = True,
    *,
    hflip: Tensor | bool = False,
) -> Tensor:
    """Crop a per-sample box and resize it to ``size``, all samples in one batched call.

    torchvision's ``resized_crop`` (crop, then resize with edge clamping at the box border),
    with every box its own position and size (fractional boxes too: the box is cut from its
    enclosing whole pixels and resampled from its exact extent, as ``Image.resize(box=...)``).
    Conventions by interpolation:

    * ``"bilinear"``/``"bicubic"`` on uint8: Pillow's ``Image.crop(box).resize(size, filter)``
      bit for bit (22-bit fixed-point coefficients, rounding to uint8 between the horizontal
      and vertical pass, in the order Pillow 13 picks), at every size: on the CPU the passes
      run compiled (:mod:`augbench.native`). Without a C compiler, integer boxes of images of
      72 px or more on the CPU use torch's native kernel instead, which is faster than the torch
      passes there and differs from Pillow by one level on up to a few % of pixels (as
      torchvision's own tensor path does).
    * ``"bilinear"``/``"bicubic"`` on floating images: torch's ``interpolate`` (``antialias=True``:
      the antialiased kernels, i.e. Pillow's filters in floating point; bicubic is Keys' kernel
      with a = -0.5). Bicubic results are clamped to [0, 1] (torchvision leaves overshoots).
    * ``"bicubic"`` with ``antialias=False``: torch's ``upsample_bicubic2d`` (a = -0.75, border
      pixels repeated) for every dtype, uint8 computed in float32 and rounded once, as
      torchvision does (Pillow has no such filter).
    * ``"nearest"``/``"nearest-exact"``: the input pixel that contains each output pixel's
      centre (Pillow's NEAREST and torch's ``nearest-exact``; torchvision's tensor ``nearest``
      takes ``floor(i * scale)`` instead), exact for any dtype (use it for masks).

    Args:
        images: ``(B, C, H, W)``; uint8, floating, or any dtype with nearest; ``B`` may be 0.
        top, left: box corner in pixels, numbers or ``(B,)`` tensors.
        height, width: box size in pixels (> 0), numbers or ``(B,)`` tensors.
        size: output ``(height, width)``; an int (or ``[int]``) is the box's smaller edge,
            the longer one scaled to keep the aspect ratio (torchvision), which needs every
            sample's box to have the same size.
        interpolation: a name, :class:`~augbench.functional.InterpolationMode` (or
            torchvision's) or a Pillow constant: nearest, nearest-exact, bilinear, bicubic.
        antialias: stretch the filter by the scale when downsampling (bilinear and bicubic;
            Pillow always does); ``None`` means ``False``, as in torchvision.
        hflip: ``(B,)`` bool (or one bool for all): mirror those results left-right, exactly as
            :func:`hflip` afterwards would; folded into the column resampling, so it costs nothing.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])``, same dtype.
    """
    check_geometry_batch(images, "resized_crop")
    mode = interpolation_name(interpolation, "resized_crop", _RESIZE_MODES)
    if mode not in ("nearest", "nearest-exact") and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"resized_crop: {mode} resampling needs uint8 or floating images, got {images.dtype}; use 'nearest'")
    out_size = smaller_edge_size(_box_extent(height, width), size, None, "resized_crop") if _is_edge(size) else _pair(size, "size")
    if images.shape[0] == 0:
        return images.new_empty((0, images.shape[1], *out_size))
    box = _box_params(images, top, left, height, width)
    mirror = _mirror_param(hflip, images)
    if mode in ("nearest", "nearest-exact"):
        return _resized_crop_nearest(images, box, out_size, mirror)
    antialias = bool(antialias)
    torch_bicubic = mode == "bicubic" and not antialias  # torch's kernel, not Pillow's: floating point
    if images.dtype == torch.uint8 and not torch_bicubic and (_compiled_fixed(images) or not _use_native_loop(images, *box)):
        return _resized_crop_fixed(images, box, out_size, mode, antialias, mirror)
    box = [value.expand(images.shape[0]) for value in box]
    if _use_native_loop(images, *box):
        result = _resized_crop_native(images, *box, out_size, mode, antialias, mirror)
    else:
        result = _resized_crop_float(images, box, out_size, mode, antialias, mirror)
    return result.clamp_(0, 1) if mode == "bicubic" and images.is_floating_point() else result


def _box_params(images: Tensor, top: BatchParam, left: BatchParam, height: BatchParam, width: BatchParam) -> list[Tensor]:
    """The box as four ``(B,)`` tensors, or ``(1,)`` tensors when all four are numbers (one filter
    then serves every sample); float64 for uint8 and float64 images, else the compute dtype."""
    dtype = torch.float64 if images.dtype in (torch.uint8, torch.float64) else compute_dtype(images)
    shared = not any(isinstance(value, Tensor) for value in (top, left, height, width))
    reference = images[:1] if shared else images
    box = [batch_param(top, reference, "top", dtype), batch_param(left, reference, "left", dtype)]
    return box + [_box_size(height, reference, "height", dtype), _box_size(width, reference, "width", dtype)]


def _is_edge(size: Size) -> bool:
    """Whether ``size`` asks for the smaller edge (an int or a one-element sequence)."""
    return isinstance(size, int) or (isinstance(size, Sequence) and len(size) == 1)


def _box_extent(height: BatchParam, width: BatchParam) -> tuple[float, float]:
    """The common ``(height, width)`` of every sample's box, for a smaller-edge ``size``."""
    extent = []
    for name, value in (("height", height), ("width", width)):
        values = value.unique() if isinstance(value, Tensor) else torch.tensor([float(value)])
        if bool((values <= 0).any()):
            raise InputValueError(f"resized_crop: {name} must be > 0 pixels, got {float(values.min())} for a sample")
        if values.numel() != 1:
            raise InputValueError(
                f"resized_crop: size=int resizes the box's smaller edge, but the boxes' {name}s differ; pass size=(height, width)"
            )
        extent.append(float(values))
    return extent[0], extent[1]


def _resized_crop_nearest(images: Tensor, box: list[Tensor], size: tuple[int, int], mirror: Tensor | None) -> Tensor:
    """Nearest resampling of each box: one row gather and one column gather, any dtype."""
    top, left, height, width = box
    rows = nearest_taps(top, height, size[0], images.shape[-2])
    cols = nearest_taps(left, width, size[1], images.shape[-1], mirror)
    return gather_cols(gather_rows(images, rows), cols)


def _resized_crop_fixed(
    images: Tensor, box: list[Tensor], size: tuple[int, int], mode: str, antialias: bool, mirror: Tensor | None
) -> Tensor:
    """Pillow's fixed-point resampling of each box (uint8), the two passes in Pillow 13's order.

    Pillow runs the vertical pass first when the image it resizes (here: the box's window)
    loses more than twice as many rows as columns; samples that differ in that are resampled
    in two groups.
    """
    top, left, height, width = box
    rows, cols = _fixed_filters(images, box, size, mode, antialias, mirror)
    lost_rows = _window(top, height, images.shape[-2]) - size[0]
    lost_cols = _window(left, width, images.shape[-1]) - size[1]
    vertical_first = (lost_rows > 0) & (lost_rows > 2 * lost_cols)
    clip = mode == "bicubic"
    if not bool(vertical_first.any()) or bool(vertical_first.all()):
        return resample_fixed(images, rows, cols, bool(vertical_first[0]), clip)
    layout = torch.channels_last if is_channels_last(images) else torch.contiguous_format
    result = torch.empty((images.shape[0], images.shape[1], *size), dtype=images.dtype, device=images.device, memory_format=layout)
    for first_pass_vertical in (True, False):
        index = (vertical_first == first_pass_vertical).nonzero()[:, 0]
        group_rows, group_cols = (tuple(t.index_select(0, index) for t in taps) for taps in (rows, cols))
        group = resample_fixed(images.index_select(0, index), group_rows, group_cols, first_pass_vertical, clip)  # type: ignore[arg-type]
        result[index] = group
    return result


def _fixed_filters(
    images: Tensor, box: list[Tensor], size: tuple[int, int], mode: str, antialias: bool, mirror: Tensor | None
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The row and column filters of :func:`fixed_point_taps`, computed in one call when both
    axes resample between the same sizes (square images to a square output: half the work)."""
    top, left, height, width = box
    in_height, in_width = images.shape[-2:]
    count = top.shape[0]
    if size[0] != size[1] or in_height != in_width or left.shape[0] != count or (mirror is not None and mirror.shape[0] != count):
        rows = fixed_point_taps(top, height, size[0], in_height, mode, antialias)
        return rows, fixed_point_taps(left, width, size[1], in_width, mode, antialias, mirror)
    both_mirror = None if mirror is None else torch.cat([torch.zeros_like(mirror), mirror])
    taps, coefficients = fixed_point_taps(torch.cat([top, left]), torch.cat([height, width]), size[0], in_height, mode, antialias, both_mirror)
    return (taps[:count], coefficients[:count]), (taps[count:], coefficients[count:])


def _window(start: Tensor, length: Tensor, in_size: int) -> Tensor:
    """``(B,)`` number of whole pixels that a box ``[start, start + length)`` touches inside the image."""
    return torch.ceil(start + length).clamp_(max=in_size) - torch.floor(start).clamp_(min=0)


def _resized_crop_float(
    images: Tensor, box: list[Tensor], size: tuple[int, int], mode: str, antialias: bool, mirror: Tensor | None
) -> Tensor:
    """Floating-point resampling of each box with torch's antialiased filters (rows, then columns)."""
    top, left, height, width = box
    dtype = compute_dtype(images)
    rows = filter_taps(top, height, size[0], images.shape[-2], antialias, dtype, kernel=mode)
    cols = filter_taps(left, width, size[1], images.shape[-1], antialias, dtype, mirror, mode)
    return restore_dtype(resample(images, rows, cols, dtype, temporary=not images.is_floating_point()), images.dtype)


def _box_size(value: BatchParam, images: Tensor, name: str, dtype: torch.dtype) -> Tensor:
    """A box height or width as a ``(B,)`` tensor, after checking it is > 0 (one host sync for tensors)."""
    size = batch_param(value, images, name, dtype)
    bad = ~(size > 0)
    if bool(bad.any()):
        raise InputValueError(f"resized_crop: {name} must be > 0 pixels, got {float(size[bad][0])} for a sample")
    return size


def _mirror_param(hflip: Tensor | bool, images: Tensor) -> Tensor | None:
    """``hflip`` as a ``(B,)`` bool tensor, or ``None`` when no sample is mirrored."""
    if isinstance(hflip, Tensor):
        if hflip.shape not in ((), (images.shape[0],)):
            raise InputValueError(
                f"hflip has shape {tuple(hflip.shape)}, expected () or ({images.shape[0]},); pass one bool per sample"
            )
        return hflip.to(images.device, torch.bool).expand(images.shape[0])
    return torch.ones(images.shape[0], dtype=torch.bool, device=images.device) if hflip else None


_NATIVE_LOOP_MIN_SIDE = 60
_NATIVE_LOOP_MIN_SIDE_UINT8 = 72


def _compiled_fixed(images: Tensor) -> bool:
    """Whether Pillow's fixed-point passes run compiled (``augbench/native/resample.c``) for
    these CPU images: then uint8 images of every size take them, exact to Pillow, since they are
    as fast as torch's native kernel on large images or faster (CPU time of one thread,
    RandomResizedCrop + flip, us per image compiled exact vs native loop: 96 px 56 vs 78,
    128 px 85 vs 113, 224 px 217 vs 277; the torch passes: 91, 156, 587)."""
    return images.device.type == "cpu" and library("resample") is not None


def _use_native_loop(images: Tensor, *box: Tensor) -> bool:
    """Whether a per-sample call of torch's native resize beats the batched path on this batch.

    The batched path (two-row gathers + one ``lerp`` for the rows, one ``bmm`` with dense
    per-sample matrices for the columns) costs O(side^3) per image; the native kernel costs
    O(side^2) plus ~15 us of call overhead per image and needs integer boxes. Measured on a
    2-core AMD EPYC VM (torch 2.14.1, uint8 RGB, RandomResizedCrop boxes with per-sample flips,
    CPU time of one thread, images/s batched vs native): 32 px 94k vs 37k, 40 px 57k vs 34k,
    48 px 41k vs 30k, 56 px 28k vs 26k, 64 px 21k vs 24k, 96 px 8.0k vs 14.8k, 128 px 3.9k vs
    9.8k; 224 px native 3.3k. Both paths use two threads (OpenMP for the batched ops, a thread
    pool for the native loop) about equally well (1.5x each), so on the CPU images of 60 px or
    more take the loop. uint8 images take Pillow's fixed-point arithmetic (row gathers for both
    passes, in cache-sized chunks), which beats the native kernel up to 64 px and loses from
    80 px (2 threads, RandomResizedCrop boxes, us per image native vs fixed: 48 px 28 vs 24,
    64 px 43 vs 28, 80 px 34 vs 39, 96 px 43 vs 55, 128 px 111 vs 212), so without the compiled
    passes (see ``_compiled_fixed``) they take the loop from 72 px. On a GPU the batched path is
    always used.
    """
    threshold = _NATIVE_LOOP_MIN_SIDE_UINT8 if images.dtype == torch.uint8 else _NATIVE_LOOP_MIN_SIDE
    if images.device.type != "cpu" or max(images.shape[-2:]) < threshold:
        return False
    return all(bool((value == value.round()).all()) for value in box)


def _resized_crop_native(
    images: Tensor,
    top: Tensor,
    left: Tensor,
    height: Tensor,
    width: Tensor,
    size: tuple[int, int],
    mode: str,
    antialias: bool,
    mirror: Tensor | None,
) -> Tensor:
    """Per-sample crop views resized by torch's native kernel (see ``_use_native_loop``).

    The kernel runs one image on one core, so the samples are shared out over
    ``torch.get_num_threads()`` threads (the calling thread and pool threads; torch releases the
    GIL inside the kernel). A channels-last batch stays channels-last: the kernel runs ~2.7x
    faster on it (73 vs 200 us per 224 px RGB image, no repacking of channel planes).
    """
    layout = torch.channels_last if is_channels_last(images) else torch.contiguous_format
    result = torch.empty(images.shape[:2] + size, dtype=images.dtype, device=images.device, memory_format=layout)
    boxes = torch.stack([top, left, height, width], 1).long().tolist()
    mirrored = [False] * len(boxes) if mirror is None else mirror.tolist()
    # Threads take the next sample as they become free, so a thread slowed down by another
    # process (or by larger crops) does less of the work.
    samples, lock = iter(range(len(boxes))), threading.Lock()

    def resize_samples() -> None:
        while True:
            with lock:
                index = next(samples, None)
            if index is None:
                return
            box_top, box_left, box_height, box_width = boxes[index]
            window = images[index : index + 1, :, box_top : box_top + box_height, box_left : box_left + box_width]
            resized = nnf.interpolate(window, size=size, mode=mode, antialias=antialias, align_corners=False)[0]
            result[index] = resized.flip(-1) if mirrored[index] else resized

    helpers = min(torch.get_num_threads(), len(boxes)) - 1
    futures = [_thread_pool(helpers).submit(resize_samples) for _ in range(helpers)]
    resize_samples()
    for future in futures:
        future.result()
    return result


_POOL: tuple[int, int, ThreadPoolExecutor] | None = None
"""(process id, size, pool) of the threads that help :func:`_resized_crop_native`."""
_POOL_LOCK = threading.Lock()


def _thread_pool(size: int) -> ThreadPoolExecutor:
    """A pool of at least ``size`` threads, created on first use and again in a forked child."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] < size:
            if _POOL is not None and _POOL[0] == os.getpid():
                _POOL[2].shutdown(wait=False)
            _POOL = (os.getpid(), size, ThreadPoolExecutor(size, thread_name_prefix="augbench-resize"))
        return _POOL[2]


@leading_dims()
def resize(
    images: Tensor,
    size: Size | None,
    interpolation: Interpolation = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Tensor:
    """Resize every image, torchvision's ``resize``: ``size=(h, w)``, or an int for the smaller edge.

    An int ``size`` (or ``[size]``) becomes the smaller edge and the longer one
    ``int(size * long / short)``; ``max_size`` caps the longer edge (the smaller one then
    shrinks to keep the aspect ratio), and ``size=None`` with ``max_size`` makes the longer
    edge ``max_size``. A batch already of the output size is returned as it is. Interpolation
    and antialias conventions (uint8 equals Pillow's ``Image.resize`` bit for bit) are those of
    :func:`resized_crop`.

    Args:
        images: ``(B, C, H, W)``; uint8, floating, or any dtype with nearest; ``B`` may be 0.
        size: ``(height, width)``, an int or ``[int]`` (smaller edge), or ``None`` (with ``max_size``).
        interpolation: nearest, nearest-exact, bilinear or bicubic, as a name,
            :class:`~augbench.functional.InterpolationMode` or Pillow constant.
        max_size: the longest the longer edge may be, or ``None``.
        antialias: low-pass when downsampling (bilinear, bicubic); ``None`` means ``False``.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H', W')``, same dtype.
    """
    check_geometry_batch(images, "resize")
    in_height, in_width = images.shape[-2:]
    out_size = smaller_edge_size((in_height, in_width), size, max_size, "resize")
    interpolation_name(interpolation, "resize", _RESIZE_MODES)
    if out_size == (in_height, in_width):
        return images
    return resized_crop(images, 0, 0, in_height, in_width, out_size, interpolation, antialias)
