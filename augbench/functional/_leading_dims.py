"""Unbatched images and extra leading dims for every kernel: the ``@leading_dims`` decorator.

Kernels are written for one ``(B, C, H, W)`` batch. Decorated, a kernel also takes what
torchvision's kernels take: an unbatched ``(C, H, W)`` image or any number of leading dims
``(..., C, H, W)`` (e.g. ``(T, B, C, H, W)`` clips). The input is viewed as a batch of
``N = prod(...)`` images, the kernel runs once on it, and its ``(N, C', H', W')`` result gets the
leading dims back, so output shapes follow torchvision (``rgb_to_grayscale`` of ``(3, H, W)`` is
``(1, H, W)``). A 4-D batch goes straight to the kernel: one ``isinstance`` and one ``ndim``
check.

Per-sample parameters with other inputs than ``(B, C, H, W)``: a number or 0-d tensor applies to
every image; a tensor with one value per image is shaped like the leading dims, ``(T, B)`` for
``(T, B, C, H, W)`` images, and an unbatched image takes a number or a 0-d tensor. Parameters
with trailing dims (warp matrices ``(..., 2, 3)``, noise ``(..., C, H, W)``) follow the same rule
for the dims before their own; a tensor with only its own dims (noise ``(1, H, W)``) is shared by
every image, as it is for a 4-D batch. Any other shape is one :class:`InputValueError` naming
the expected one. Other tensor arguments (fills, erase values) reach the kernel unchanged and
broadcast against the ``(N, C, H, W)`` batch.

The image argument is called ``inpt`` in the published signature, as in torchvision.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["leading_dims"]

K = TypeVar("K", bound=Callable[..., Tensor])


def leading_dims(*per_sample: str, **per_sample_with_dims: int) -> Callable[[K], K]:
    """Decorate a ``(B, C, H, W)`` kernel so that it takes ``(C, H, W)`` and ``(..., C, H, W)`` too.

    Args:
        *per_sample: names of the kernel's per-sample scalar parameters (a number or ``(B,)``
            tensor for a 4-D batch); a list or tuple of them (e.g. ``translate``) is mapped item
            by item.
        **per_sample_with_dims: per-sample parameters with trailing dims, name -> their number
            (``matrix=2`` for ``(B, 2, 3)`` matrices).

    Raises:
        TypeError: at decoration, a name that is not a parameter of the kernel.
    """
    trailing = {**dict.fromkeys(per_sample, 0), **per_sample_with_dims}

    def decorate(kernel: K) -> K:
        signature = inspect.signature(kernel)
        unknown = sorted(set(trailing) - set(signature.parameters))
        if unknown:
            raise TypeError(f"leading_dims: {kernel.__name__} has no parameter {unknown[0]!r}")
        first, *rest = signature.parameters.values()

        @functools.wraps(kernel)
        def wrapper(inpt: Tensor, *args: Any, **kwargs: Any) -> Tensor:
            if isinstance(inpt, Tensor) and inpt.ndim == 4:
                return kernel(inpt, *args, **kwargs)
            return _call_flattened(kernel, signature, trailing, inpt, args, kwargs)

        public = signature.replace(parameters=[first.replace(name="inpt"), *rest])
        wrapper.__signature__ = public  # type: ignore[attr-defined]
        return cast(K, wrapper)

    return decorate


def _call_flattened(
    kernel: Callable[..., Tensor],
    signature: inspect.Signature,
    trailing: dict[str, int],
    inpt: object,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Tensor:
    """Run ``kernel`` on ``inpt`` viewed as ``(N, C, H, W)`` and give the result the leading dims back."""
    who = kernel.__name__
    if not isinstance(inpt, Tensor):
        raise InputTypeError(
            f"{who}: expected an image tensor (..., C, H, W), got {type(inpt).__name__}; "
            "convert with torch.as_tensor(...)"
        )
    if inpt.ndim < 3:
        fix = "add the channel axis with x[None]" if inpt.ndim == 2 else "reshape it to (C, H, W)"
        raise InputValueError(f"{who}: expected images of shape (..., C, H, W), got {tuple(inpt.shape)}; {fix}")
    leading = tuple(inpt.shape[:-3])
    images = inpt.reshape(math.prod(leading), *inpt.shape[-3:])
    if trailing:
        try:
            bound = signature.bind(images, *args, **kwargs)
        except TypeError:
            return kernel(images, *args, **kwargs)  # Python's own message for a wrong call
        for name in trailing.keys() & bound.arguments.keys():
            bound.arguments[name] = _per_image(bound.arguments[name], leading, trailing[name], who, name, inpt)
        result = kernel(*bound.args, **bound.kwargs)
    else:
        result = kernel(images, *args, **kwargs)
    return result.reshape(*leading, *result.shape[1:])


def _per_image(value: Any, leading: tuple[int, ...], dims: int, who: str, name: str, inpt: Tensor) -> Any:
    """A per-sample argument for the flattened batch: ``leading + own dims`` -> ``(N,) + own dims``."""
    if isinstance(value, (list, tuple)):
        return type(value)(_per_image(item, leading, dims, who, name, inpt) for item in value)
    if not isinstance(value, Tensor):
        return value
    if value.ndim == len(leading) + dims and tuple(value.shape[: len(leading)]) == leading:
        return value.reshape(math.prod(leading), *value.shape[len(leading) :])
    if value.ndim <= dims:
        return value
    shape = ", ".join(map(str, leading))
    if dims == 0:
        expected = (
            f"a number, a 0-d tensor or one value per image, shape ({shape})"
            if leading
            else "a number or a 0-d tensor for an unbatched (C, H, W) image"
        )
    else:
        expected = (
            f"one per image, shape ({shape}, ...), or one shared by all with at most {dims} dims"
            if leading
            else f"at most {dims} dims for an unbatched (C, H, W) image"
        )
    raise InputValueError(
        f"{who}: {name} has shape {tuple(value.shape)} for images of shape {tuple(inpt.shape)}; pass {expected}"
    )
