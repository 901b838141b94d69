"""CutMix (Yun et al., 2019): paste a box of the partner image, weight labels by the box area."""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from augbench.distributions import beta
from augbench.mix.base import MIXERS, Mixer, check_alpha, gather_samples, uniform_index
from augbench.native import library, thread_count
from augbench.random import Params

__all__ = ["CutMix", "centred_box", "paste_box"]


def centred_box(lam: Tensor, centre_row: Tensor, centre_col: Tensor, height: int, width: int) -> dict[str, Tensor]:
    """The CutMix box of side ratio ``sqrt(1 - lam)`` around a centre, clipped to the image.

    The unclipped box is ``floor(height * sqrt(1 - lam))`` rows by
    ``floor(width * sqrt(1 - lam))`` columns (rows from the height, columns from the width,
    so non-square images get boxes of their own aspect), its top-left corner at
    ``centre - size // 2``; clipping to the image makes boxes near the border smaller.

    Args:
        lam: ``(n,)`` drawn weights in [0, 1].
        centre_row: ``(n,)`` int64 centre rows in ``[0, height)``.
        centre_col: ``(n,)`` int64 centre columns in ``[0, width)``.
        height: image height in pixels.
        width: image width in pixels.

    Returns:
        ``top``, ``left``, ``height``, ``width``: ``(n,)`` int64 tensors, the clipped box
        (possibly empty), on the device of ``centre_row``.
    """
    device = centre_row.device
    ratio = torch.sqrt(1.0 - lam.to(device, torch.float64))
    # rows and columns in one pass: row 0 follows the height, row 1 the width
    sizes = torch.tensor([[height], [width]], device=device)
    cuts = torch.floor(sizes * ratio).long()
    start = torch.stack([centre_row, centre_col]) - cuts // 2
    zero = sizes.new_zeros(())
    end = torch.clamp(start + cuts, min=zero, max=sizes)
    start = torch.clamp(start, min=zero, max=sizes)
    top, left = start
    bottom, right = end
    return {"top": top, "left": left, "height": bottom - top, "width": right - left}


def paste_box(images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """Copy each partner's box into the same place of the image; the weight is the kept area.

    Args:
        images: ``(B, C, H, W)`` of any dtype.
        partner_images: the partners, same shape and dtype.
        params: ``top``, ``left``, ``height``, ``width`` as ``(B,)`` int64, boxes inside the image.

    Returns:
        The mixed batch (same shape and dtype) and ``lam = 1 - box area / (H * W)``,
        ``(B,)`` float32.
    """
    return _paste_box_into(partner_images.clone(), images, params.to(images.device))


_SAME_SIZE_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_COPY_BOXES_FROM_BYTES = 128 * 1024
"""Per-image size from which single-threaded CPU batches are mixed by copying each box (a
Python loop over the batch) instead of masking the whole batch; below it the per-sample
overhead dominates. With several intra-op threads every box copy is a parallel region, and on
a busy machine each can wait milliseconds for a descheduled thread, so the masked path (a few
large operations) is used then."""


def _copy_boxes(images: Tensor, index: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """:func:`paste_box` with ``partner_images = images[index]``: a copy of the batch, then each
    partner's box copied into it (reads the partners' boxes only, no mask)."""
    mixed = images.clone()
    entries = (index, params.top, params.left, params.height, params.width)
    boxes = zip(*(entry.tolist() for entry in entries))
    for sample, (partner, top, left, height, width) in enumerate(boxes):
        if height > 0 and width > 0:
            box = (slice(None), slice(top, top + height), slice(left, left + width))
            mixed[sample][box] = images[partner][box]
    area = (params.height * params.width).to(torch.float32)
    return mixed, 1.0 - area / float(images.shape[-2] * images.shape[-1])


def _compiled_layout(images: Tensor) -> bool:
    """Whether ``mixing.c`` takes ``images``: a non-empty contiguous ``(B, C, H, W)`` CPU batch of
    1-, 2-, 4- or 8-byte elements (a channels-last batch keeps its layout on the torch path)."""
    return (
        images.device.type == "cpu" and images.ndim == 4 and images.numel() > 0 and images.is_contiguous()
        and images.element_size() in (1, 2, 4, 8) and not images.is_complex()
    )


def _paste_boxes_compiled(compiled: ctypes.CDLL, images: Tensor, index: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """:func:`paste_box` with ``partner_images = images[index]`` by ``augbench/native/mixing.c``:
    each sample copied, then its partner's box rows copied over it (the same elements)."""
    entries = [entry.to(torch.int64).contiguous() for entry in (index, params.top, params.left, params.height, params.width)]
    out = torch.empty_like(images)
    compiled.paste_boxes(
        images.data_ptr(), images.element_size(), *images.shape, *(entry.data_ptr() for entry in entries),
        out.data_ptr(), thread_count(images.numel() * images.element_size()),
    )
    area = (params.height * params.width).to(torch.float32)
    return out, 1.0 - area / float(images.shape[-2] * images.shape[-1])


def _paste_box_into(partner_images: Tensor, images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """:func:`paste_box` that overwrites ``partner_images`` with the result (and returns it).

    ``params`` must be on the images' device.

    Pixels are selected bitwise, ``x ^ ((p ^ x) & box)`` with ``box`` all ones inside the box,
    on the images' bits viewed as integers of the same size: an exact copy of either pixel for
    every dtype (floats included), several times faster than ``torch.where`` with a broadcast
    boolean mask.
    """
    height, width = images.shape[-2:]
    device = images.device
    top, left = params.top[:, None], params.left[:, None]
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    in_rows = (rows >= top) & (rows < top + params.height[:, None])  # (B, H)
    in_cols = (cols >= left) & (cols < left + params.width[:, None])  # (B, W)
    bits = _SAME_SIZE_INT.get(images.element_size())
    if bits is None or images.is_complex() or images.dtype == torch.bool:
        box = in_rows[:, None, :, None] & in_cols[:, None, None, :]
        mixed = partner_images.copy_(torch.where(box, partner_images, images))
    else:
        box = _box_mask_bits(in_rows, in_cols, bits)
        image_bits = images.view(bits)
        partner_images.view(bits).bitwise_xor_(image_bits).bitwise_and_(box).bitwise_xor_(image_bits)
        mixed = partner_images
    area = (params.height * params.width).to(torch.float32)
    lam = 1.0 - area / float(height * width)
    return mixed, lam


def _box_mask_bits(in_rows: Tensor, in_cols: Tensor, bits: torch.dtype) -> Tensor:
    """``(B, 1, H, W)`` of ``bits``: all ones where ``in_rows[b, h] & in_cols[b, w]``, else 0.

    Built by gathering whole rows from a table of the per-sample column masks (row 0: zeros),
    which beats a broadcast ``(B, H, 1) & (B, 1, W)`` for narrow images.
    """
    batch, height = in_rows.shape
    table = torch.cat([in_cols.new_zeros(1, in_cols.shape[1], dtype=bits), in_cols.to(bits).neg_()])
    which = in_rows * torch.arange(1, batch + 1, device=in_rows.device)[:, None]  # row of the table per (b, h)
    return table.index_select(0, which.view(-1)).view(batch, 1, height, -1)


@MIXERS.register("cutmix")
class CutMix(Mixer):
    """Replace a box of every image by the same box of its partner; ``lam`` = kept area fraction.

    ``lam ~ Beta(alpha, alpha)`` sets the box size (side ratio ``sqrt(1 - lam)`` along each
    axis); the box centre is uniform over all pixels, so boxes near the border are clipped and
    touch it, and the label weight is recomputed from the clipped box:
    ``lam = 1 - box area / (H * W)`` exactly (the drawn ``lam`` is not kept). Per-sample
    boxes are built as masks by broadcast comparisons and pasted bitwise for the whole batch.
    The reference implementation's application probability (``cutmix_prob``) is left to the
    training method.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0 (1 in the paper; OpenMixup uses 0.2 on CIFAR-100).
        per_sample: one box and partner per sample (default); ``False`` gives one box for the
            batch and a permutation of the batch, as in the reference code.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` of any supported dtype (no arithmetic on pixels), labels
        ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of the same shape and dtype,
        ``targets`` ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32 (multiples of
        ``1 / (H * W)``), ``index`` ``(B,)`` int64.

    Reference:
        Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
        Localizable Features", ICCV 2019.

    Example:
        >>> import torch
        >>> images = torch.zeros(4, 3, 8, 6, dtype=torch.uint8)
        >>> result = CutMix(10)(images, torch.arange(4), generator=torch.Generator().manual_seed(0))
        >>> result.lam.shape, result.targets.shape
        (torch.Size([4]), torch.Size([4, 10]))
    """

    def __init__(
        self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        n = partners.shape[0]
        lam = beta(self.alpha, self.alpha, (n,), generator)
        centre_row = uniform_index(height, n, generator)
        centre_col = uniform_index(width, n, generator)
        return centred_box(lam, centre_row, centre_col, height, width)

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        return paste_box(images, partner_images, params)

    def _mix_indexed(self, images: Tensor, index: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        if type(self).mix is not CutMix.mix:  # a subclass mixes its own way
            return super()._mix_indexed(images, index, params)
        compiled = library("mixing") if _compiled_layout(images) else None
        if compiled is not None:
            return _paste_boxes_compiled(compiled, images, index, params)
        if (
            images.device.type == "cpu"
            and torch.get_num_threads() == 1
            and images[0].numel() * images.element_size() >= _COPY_BOXES_FROM_BYTES
        ):
            return _copy_boxes(images, index, params)
        return _paste_box_into(gather_samples(images, index), images, params)
