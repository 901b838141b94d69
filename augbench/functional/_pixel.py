"""Helpers shared by the intensity kernels: value scale, parameter checks and PIL's blend.

Parameters are checked here so that each kernel raises one-line
:class:`~augbench.errors.InputValueError` messages. Python numbers are always checked; ``(B,)``
tensors are checked when they live on the CPU (one fused reduction) and passed through
unchecked on accelerators, so that no kernel forces a host sync on the device fast path (the
transforms that sample them validate their ranges at construction).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.functional._utils import BatchParam, batch_param, compute_dtype
from augbench.native import library, thread_count


def image_max(images: Tensor, who: str) -> float:
    """The value of white: 255.0 for uint8, 1.0 for floating images.

    Raises:
        InputTypeError: a dtype other than uint8 or floating.
    """
    if images.dtype == torch.uint8:
        return 255.0
    if images.is_floating_point():
        return 1.0
    raise InputTypeError(
        f"{who}: images must be uint8 (0-255) or floating (0-1), got {images.dtype}; convert with x.float() / 255"
    )


def check_channels(images: Tensor, who: str, allowed: tuple[int, ...]) -> None:
    """Raise unless the channel count is one of ``allowed`` (1 = grey, 3 = RGB)."""
    channels = images.shape[1]
    if channels not in allowed:
        names = " or ".join(f"{count} ({'grey' if count == 1 else 'RGB'})" for count in allowed)
        raise InputValueError(
            f"{who}: needs {names} channels, got {channels}; for RGBA drop the alpha channel with x[..., :3, :, :]"
        )


def checked_param(
    value: BatchParam,
    images: Tensor,
    name: str,
    who: str,
    low: float = -math.inf,
    high: float = math.inf,
    integral: bool = False,
    open_low: bool = False,
) -> Tensor:
    """A scalar or ``(B,)`` parameter as a ``(B,)`` tensor in the images' compute dtype, range-checked.

    Args:
        value: a number or a ``(B,)``/0-d tensor.
        images: the batch the parameter applies to (gives B, device and dtype).
        name: the parameter's name, used in the message.
        who: the calling op, used in the message.
        low, high: inclusive bounds (values must also be finite).
        integral: values must be whole numbers.
        open_low: exclude ``low`` itself (values must be > ``low``).

    Raises:
        InputValueError: NaN or inf, a value outside the bounds, a fractional value where
            ``integral``, or a tensor of the wrong shape.
    """
    if isinstance(value, Tensor):
        if value.device.type == "cpu" and value.numel() > 0 and not _in_range(value, low, high, integral, open_low):
            as_float = value.double()
            below = as_float <= low if open_low else as_float < low
            bad = ~as_float.isfinite() | below | (as_float > high)
            if integral:
                bad |= as_float != as_float.round()
            if bool(bad.any()):
                offender = float(as_float[bad][0])
                where = " (one sample's value)"
                raise InputValueError(_range_message(who, name, offender, low, high, integral, open_low, where))
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InputValueError(f"{who}: {name}={value!r} must be a number or a (B,) tensor")
    elif (
        not math.isfinite(value)
        or not low <= value <= high
        or (open_low and value == low)
        or (integral and value != int(value))
    ):
        raise InputValueError(_range_message(who, name, value, low, high, integral, open_low, ""))
    return batch_param(value, images, name, compute_dtype(images))


def _in_range(value: Tensor, low: float, high: float, integral: bool, open_low: bool) -> bool:
    """Fast check of a CPU tensor: finite, within the bounds (and whole, if ``integral``).

    One min/max reduction and two Python numbers instead of an elementwise mask; ``False``
    sends the caller to the slow path that finds the offending value for the message.
    """
    as_float = value.double()
    smallest, largest = (float(extreme) for extreme in torch.aminmax(as_float))
    if not (math.isfinite(smallest) and math.isfinite(largest)):
        return False  # also NaN, which aminmax propagates
    if smallest < low or (open_low and smallest <= low) or largest > high:
        return False
    return not integral or bool(torch.equal(as_float, as_float.round()))


def _range_message(
    who: str, name: str, value: float, low: float, high: float, integral: bool, open_low: bool, where: str
) -> str:
    kind = "a finite whole number" if integral else "a finite number"
    if math.isinf(low) and math.isinf(high):
        bounds = ""
    elif math.isinf(high):
        bounds = f" {'>' if open_low else '>='} {low:g}"
    elif math.isinf(low):
        bounds = f" <= {high:g}"
    else:
        bounds = f" in {'(' if open_low else '['}{low:g}, {high:g}]"
    return f"{who}: {name}={value!r}{where} must be {kind}{bounds}"


def per_sample(param: Tensor) -> Tensor:
    """A ``(B,)`` parameter shaped ``(B, 1, 1, 1)`` to broadcast over ``(B, C, H, W)``."""
    return param.view(-1, 1, 1, 1)


def blend(images: Tensor, degenerate: Tensor, factor: Tensor) -> Tensor:
    """``degenerate + factor * (images - degenerate)``, clipped to the image range.

    The uint8 result is truncated towards zero, as Pillow's ``Image.blend`` (the core of every
    ``ImageEnhance`` class) does: the arithmetic runs in float32 like Pillow's C code, so uint8
    results are bit-exact. Floating images blend in their own dtype and are clipped to [0, 1].

    Args:
        images: ``(B, C, H, W)`` uint8 or floating.
        degenerate: the image the factor interpolates from (factor 0), broadcastable to ``images``,
            in the images' scale.
        factor: ``(B,)``; 1 returns ``images``, 0 returns ``degenerate``, > 1 extrapolates.
    """
    if images.dtype == torch.uint8:
        # In place on one float32 copy: base + factor * (x - base), the same float32 operations.
        base = degenerate.to(torch.float32)
        mixed = images.to(torch.float32).sub_(base).mul_(per_sample(factor.to(torch.float32))).add_(base)
        return to_uint8(mixed.clamp_(0.0, 255.0))
    base = degenerate.to(images.dtype)
    return (base + per_sample(factor.to(images.dtype)) * (images - base)).clamp_(0.0, 1.0)


def blend_lut(images: Tensor, degenerate: Tensor, factor: Tensor) -> Tensor:
    """:func:`blend` of uint8 ``images`` with a per-sample grey level ``degenerate`` ``(B,)``.

    With one degenerate value per sample the blend is a function of the pixel value alone, so
    each sample gets a 256-entry table computed with :func:`blend`'s float32 arithmetic (the
    same values, bit for bit), applied with one gather. On the CPU the compiled ``blend_uint8``
    of ``augbench/native/color.c`` computes the same float32 expression per pixel instead.
    """
    compiled = library("color") if images.device.type == "cpu" and images.numel() > 0 else None
    if compiled is not None:
        images = images.contiguous()
        out = torch.empty_like(images)
        base, factors = (value.to(torch.float32).contiguous() for value in (degenerate, factor))
        compiled.blend_uint8(
            images.data_ptr(), images.shape[0], images.shape[1], images[0, 0].numel(), base.data_ptr(),
            factors.data_ptr(), out.data_ptr(), thread_count(images.numel()),
        )
        return out
    levels = torch.arange(256, dtype=torch.float32, device=images.device)
    base = degenerate.to(torch.float32)[:, None]
    table = to_uint8((levels - base).mul_(factor.to(torch.float32)[:, None]).add_(base).clamp_(0.0, 255.0))
    return table.gather(1, images.flatten(1).long()).view_as(images)


def to_uint8(values: Tensor) -> Tensor:
    """Floating ``values`` already in [0, 255] to uint8, truncating like ``.to(torch.uint8)``.

    Through int16: the same values, several times faster on the CPU than the direct cast.
    """
    return values.to(torch.int16).to(torch.uint8)


def to_levels(images: Tensor) -> Tensor:
    """Floating images in [0, 1] as uint8 levels, as torchvision's ``to_dtype(torch.uint8, scale=True)``.

    ``floor(255.999 x)``: every multiple of 1 / 255 keeps its own level, and the top level
    covers ``[255 / 255.999, 1]`` instead of only ``x == 1``.
    """
    return to_uint8(images * _LEVEL_SCALE)


_LEVEL_SCALE = 255.999
