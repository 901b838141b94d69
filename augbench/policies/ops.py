"""The op registry of the policies: named kernels, level -> argument maps, batched dispatch.

An op is a kernel taking the images and a ``(k,)`` argument. An augmentation *space* maps a
level in [0, 1] (the normalised magnitude) onto each op's argument, linearly from the value at
level 0 to the value at level 1, with a random sign for signed ops. In the RandAugment,
TrivialAugment and AutoAugment spaces the level-0 argument is the identity and severity rises
with the level, for every op; the AugMix space follows the AugMix reference instead (posterize
starts at 4 bits, enhance factors run 0.1 -> 1.9 unsigned).

Policies work on grey (1 channel) or RGB (3 channel) images; other channel counts are refused
up front rather than failing on the draws that pick a colour op.

Policies draw an op index, a level and a sign per sample; :func:`apply_ops` then runs one
batched kernel call per op present in the batch (samples grouped by op), never a loop over
samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

import augbench.functional as F
from augbench.checks import MASK
from augbench.errors import ConfigError, InputValueError
from augbench.transforms._args import Fill, fill_for

__all__ = ["OpRange", "Space", "OPS", "GEOMETRIC_OPS", "SPACES", "apply_ops", "apply_op_layers", "op_values"]

Kernel = Callable[[Tensor, Tensor, float], Tensor]
"""``(images (k, C, H, W), argument (k,), fill in [0, 1] units) -> images``."""


def _white(images: Tensor) -> float:
    return 255.0 if images.dtype == torch.uint8 else 1.0


def _fill(images: Tensor, fill: Fill) -> Fill:
    return fill_for(fill, images.dtype)  # a number or one per channel, x 255 for uint8


def _enhance(kernel: Callable[[Tensor, Tensor], Tensor]) -> Kernel:
    """PIL ImageEnhance ops take a factor; the argument is the offset from 1 (the identity)."""
    return lambda images, value, fill: kernel(images, 1.0 + value)


def _color(images: Tensor, value: Tensor, fill: float) -> Tensor:
    # PIL's Color on a grey image is the identity; saturation needs RGB.
    return images if images.shape[1] != 3 else F.adjust_saturation(images, 1.0 + value)


OPS: dict[str, Kernel] = {
    "Identity": lambda images, value, fill: images,
    "AutoContrast": lambda images, value, fill: F.autocontrast(images),
    "Equalize": lambda images, value, fill: F.equalize(images),
    "Invert": lambda images, value, fill: F.invert(images),
    "Rotate": lambda images, value, fill: F.rotate(images, value, fill=_fill(images, fill)),
    "ShearX": lambda images, value, fill: F.shear_x(images, value, fill=_fill(images, fill)),
    "ShearY": lambda images, value, fill: F.shear_y(images, value, fill=_fill(images, fill)),
    "TranslateX": lambda images, value, fill: F.translate_x(images, (value * images.shape[-1]).round(), fill=_fill(images, fill)),
    "TranslateY": lambda images, value, fill: F.translate_y(images, (value * images.shape[-2]).round(), fill=_fill(images, fill)),
    "Brightness": _enhance(F.adjust_brightness),
    "Color": _color,
    "Contrast": _enhance(F.adjust_contrast),
    "Sharpness": _enhance(F.adjust_sharpness),
    "Posterize": lambda images, value, fill: F.posterize(images, value.round()),
    "Solarize": lambda images, value, fill: F.solarize(images, value * _white(images)),
    "SolarizeAdd": lambda images, value, fill: F.solarize_add(images, (value * _white(images)).round() if images.dtype == torch.uint8 else value),
}
"""Op name -> kernel. Rotate in degrees (counter-clockwise), shear as tan(angle) about the
top-left corner (PIL's AutoAugment convention), translate as a fraction of the side, enhance
ops as the offset of PIL's factor from 1, posterize in bits kept, solarize thresholds and
solarize-add offsets as fractions of white."""

GEOMETRIC_OPS = frozenset({"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"})
"""Ops that move pixels; only these are replayed on masks."""


@dataclass(frozen=True)
class OpRange:
    """An op's argument at level 0 and level 1, and whether it gets a random sign."""

    at_zero: float = 0.0
    at_one: float = 0.0
    signed: bool = False

    def value(self, level: Tensor) -> Tensor:
        """The argument at ``level`` (any shape), before the sign."""
        return self.at_zero + (self.at_one - self.at_zero) * level


Space = dict[str, OpRange]

_NO_MAGNITUDE = OpRange()
_SOLARIZE = OpRange(256 / 255, 0.0)  # above white = identity ... 0 = invert everything


def _space(shear: float, translate: float, rotate: float, enhance: float, posterize_bits: float) -> Space:
    return {
        "Identity": _NO_MAGNITUDE,
        "ShearX": OpRange(0.0, shear, True),
        "ShearY": OpRange(0.0, shear, True),
        "TranslateX": OpRange(0.0, translate, True),
        "TranslateY": OpRange(0.0, translate, True),
        "Rotate": OpRange(0.0, rotate, True),
        "Brightness": OpRange(0.0, enhance, True),
        "Color": OpRange(0.0, enhance, True),
        "Contrast": OpRange(0.0, enhance, True),
        "Sharpness": OpRange(0.0, enhance, True),
        "Posterize": OpRange(8.0, posterize_bits),
        "Solarize": _SOLARIZE,
        "AutoContrast": _NO_MAGNITUDE,
        "Equalize": _NO_MAGNITUDE,
    }


SPACES: dict[str, Space] = {
    # RandAugment's 14 ops with torchvision's ranges (translate 150 px at 331 px = 45 % of the side).
    "standard": _space(shear=0.3, translate=150 / 331, rotate=30.0, enhance=0.9, posterize_bits=4.0),
    # TrivialAugment Wide (translate 32 px at 32 px = the full side).
    "wide": _space(shear=0.99, translate=1.0, rotate=135.0, enhance=0.99, posterize_bits=2.0),
}
SPACES["autoaugment"] = {**SPACES["standard"], "Invert": _NO_MAGNITUDE}


def check_space(name: str) -> Space:
    """The space called ``name``; unknown names list the valid ones."""
    if name not in SPACES:
        raise ConfigError(f"unknown augmentation space {name!r}; choose from {', '.join(SPACES)}")
    return SPACES[name]


def op_values(op_names: Sequence[str], space: Space, op_index: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    """Per-sample arguments: each sample's op range at its level, times its sign for signed ops.

    Args:
        op_names: the ops a policy chooses from; ``op_index`` indexes this list.
        space: level -> argument maps.
        op_index, level, sign: tensors of the same shape; sign is +1 or -1.
    """
    ranges = [space[name] for name in op_names]
    device = level.device
    at_zero = torch.tensor([r.at_zero for r in ranges], device=device)[op_index]
    at_one = torch.tensor([r.at_one for r in ranges], device=device)[op_index]
    signed = torch.tensor([r.signed for r in ranges], device=device)[op_index]
    values = at_zero + (at_one - at_zero) * level
    return torch.where(signed, values * sign, values)


def apply_ops(
    images: Tensor, op_names: Sequence[str], op_index: Tensor, values: Tensor, fill: Fill, target: str
) -> Tensor:
    """Apply op ``op_names[op_index[b]]`` with argument ``values[b]`` to each sample ``b``.

    Samples are grouped by op: one batched kernel call per op present, none per sample.
    Masks only take the geometric ops (nearest, fill 0); other ops leave them unchanged.

    Args:
        images: ``(B, C, H, W)``.
        op_names: the op list ``op_index`` refers to.
        op_index: ``(B,)`` int64; ``-1`` means "no op" for that sample.
        values: ``(B,)`` arguments.
        fill: fill of geometric ops in [0, 1] units, one number or one per channel.
        target: ``"image"`` or ``"mask"``.
    """
    return apply_op_layers(images, op_names, op_index[:, None], values[:, None], fill, target)


def apply_op_layers(
    images: Tensor,
    op_names: Sequence[str],
    op_index: Tensor,
    values: Tensor,
    fill: Fill,
    target: str,
    kernels: Mapping[str, Kernel] = OPS,
    geometric: frozenset[str] = GEOMETRIC_OPS,
) -> Tensor:
    """:func:`apply_ops` for ``L`` layers in a row: layer ``l`` applies ``op_index[:, l]``; any kernel table.

    The same result as ``L`` calls of :func:`apply_ops`, with less data movement: the samples
    are regrouped by each layer's op with one gather (a layer whose op is the same for the
    whole batch needs none) and put back in their order once at the end; each op's output
    overwrites its group's slice. ``index_copy_`` per op, the obvious alternative, is several
    times slower on the CPU than these dim-0 gathers and slice copies. One host sync per call
    (the op counts of all layers).

    Args:
        images: ``(B, C, H, W)``; never written to.
        op_names: the op list ``op_index`` refers to.
        op_index: ``(B, L)`` int64; ``-1`` means "no op" for that sample in that layer.
        values: ``(B, L)`` arguments, or ``(B, L, D)`` for kernels that read ``D`` numbers per sample.
        fill: fill of geometric ops in [0, 1] units, one number or one per channel.
        target: ``"image"`` or ``"mask"``.
        kernels: op name -> kernel (default :data:`OPS`); for masks, pass kernels that sample
            nearest.
        geometric: the names in ``op_names`` that move pixels (the only ones applied to masks).
    """
    if target != MASK and images.shape[1] not in (1, 3):
        raise InputValueError(
            f"policies need grey (1) or RGB (3) channels, got shape {tuple(images.shape)}; "
            "drop an alpha channel with x[:, :3]"
        )
    batch, layers = op_index.shape
    if batch == 0 or layers == 0:
        return images
    slots = len(op_names) + 1  # -1 (no op) counts in slot 0
    layer_offsets = torch.arange(layers, device=op_index.device) * slots
    all_counts = torch.bincount((op_index + 1 + layer_offsets).reshape(-1), minlength=layers * slots)
    all_counts = all_counts.view(layers, slots).tolist()  # the one host sync
    is_mask = target == MASK
    kernel_fill = 0.0 if is_mask else fill
    current = images
    order: Tensor | None = None  # current[j] is sample order[j]; None: the batch order
    position: Tensor | None = None  # position[b]: where sample b is in current
    buffers: list[Tensor] = []
    for layer in range(layers):
        counts = all_counts[layer]
        active = [op for op in range(len(op_names)) if counts[op + 1] and not (is_mask and op_names[op] not in geometric)]
        if not active:
            continue
        layer_values = values[:, layer] if order is None else values[:, layer].index_select(0, order)
        if counts[active[0] + 1] == batch:  # one op for the whole batch: no regrouping
            current = kernels[op_names[active[0]]](current, layer_values, kernel_fill)
            continue
        layer_order = torch.argsort(op_index[:, layer], stable=True)  # samples grouped by op
        source = layer_order if position is None else position.index_select(0, layer_order)
        grouped = _buffer(buffers, current)
        torch.index_select(current, 0, source, out=grouped)
        layer_values = values[:, layer].index_select(0, layer_order)
        order, position = layer_order, torch.argsort(layer_order)
        start = counts[0]
        for op in range(len(op_names)):
            count = counts[op + 1]
            if op in active:
                chunk = grouped.narrow(0, start, count)
                out = kernels[op_names[op]](chunk, layer_values.narrow(0, start, count), kernel_fill)
                if out is not chunk:
                    chunk.copy_(out)
            start += count
        current = grouped
    if position is None:
        return current
    result = _buffer(buffers, current)
    return torch.index_select(current, 0, position, out=result)


def _buffer(buffers: list[Tensor], busy: Tensor) -> Tensor:
    """A scratch batch like ``busy`` that is not ``busy`` itself: reused (at most two are made)."""
    busy_storage = busy.untyped_storage().data_ptr()
    for buffer in buffers:
        if buffer.untyped_storage().data_ptr() != busy_storage and buffer.shape == busy.shape and buffer.dtype == busy.dtype:
            return buffer
    buffer = torch.empty_like(busy, memory_format=torch.contiguous_format)
    buffers.append(buffer)
    return buffer
