"""Bad input raises an augbench error with one line naming the problem and the fix.

(An empty batch is valid input and comes back empty: ``tests/test_empty_batches.py``.)

Every case goes through the public transforms (call, sample, apply) and, where a kernel takes
the input directly, through ``augbench.functional``. The error must be an ``AugbenchError``
(a ``ValueError``/``TypeError`` subclass), so it was raised on purpose before torch ran.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import augbench.functional as F
from augbench import (
    AugbenchError,
    Compose,
    HorizontalFlip,
    InputTypeError,
    InputValueError,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Transform,
    VerticalFlip,
)


def _raises(expected: type[Exception], call: Callable[[], object], *keywords: str) -> str:
    """Run ``call``, require an AugbenchError of type ``expected`` with a one-line message holding ``keywords``."""
    with pytest.raises(Exception) as error:
        call()
    assert isinstance(error.value, AugbenchError), f"{type(error.value).__name__} is not an augbench error: {error.value}"
    assert isinstance(error.value, expected), f"expected {expected.__name__}, got {type(error.value).__name__}"
    message = str(error.value)
    assert message and "\n" not in message, f"expected one line, got {message!r}"
    for keyword in keywords:
        assert keyword.lower() in message.lower(), f"{keyword!r} not in {message!r}"
    return message


TRANSFORMS: dict[str, Callable[[], Transform]] = {
    "HorizontalFlip": HorizontalFlip,
    "VerticalFlip": lambda: VerticalFlip(p=0.7),
    "RandomResizedCrop": lambda: RandomResizedCrop(12),
    "RandomCrop": lambda: RandomCrop(12, padding=2),
    "RandomAffine": lambda: RandomAffine(20, p=0.9),
    "RandomErasing": RandomErasing,
    "Compose": lambda: Compose([RandomCrop(14), HorizontalFlip()]),
}
ALL = pytest.mark.parametrize("name", list(TRANSFORMS))


def _good(batch: int = 2, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    images = torch.randint(0, 256, (batch, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images if dtype == torch.uint8 else images.to(dtype) / 255


def _with(value: float) -> torch.Tensor:
    images = _good(dtype=torch.float32)
    images[1, 2, 3, 4] = value
    return images


# name: (bad batch, exception type, words the message must contain)
BAD_IMAGES: dict[str, tuple[Callable[[], object], type[Exception], tuple[str, ...]]] = {
    "numpy-array": (lambda: _good().numpy(), InputTypeError, ("torch.Tensor",)),
    "nested-list": (lambda: _good().tolist(), InputTypeError, ("torch.Tensor",)),
    "ndim-3": (lambda: _good()[0], InputValueError, ("4-D", "unsqueeze")),
    "ndim-2": (lambda: _good()[0, 0], InputValueError, ("4-D",)),
    "ndim-5": (lambda: _good()[None], InputValueError, ("4-D",)),
    "zero-height": (lambda: _good()[:, :, :0], InputValueError, ("zero size",)),
    "five-channels": (lambda: torch.zeros(2, 5, 16, 16, dtype=torch.uint8), InputValueError, ("channels",)),
    "zero-channels": (lambda: torch.zeros(2, 0, 16, 16, dtype=torch.uint8), InputValueError, ("channels",)),
    "channels-last": (lambda: _good().permute(0, 2, 3, 1), InputValueError, ("channels", "permute")),
    "int32": (lambda: _good().int(), InputTypeError, ("uint8", "int32")),
    "int64": (lambda: _good().long(), InputTypeError, ("uint8",)),
    "bool": (lambda: _good() > 128, InputTypeError, ("uint8",)),
    "int8": (lambda: _good().to(torch.int8), InputTypeError, ("uint8",)),
    "complex": (lambda: _good(dtype=torch.float32).to(torch.complex64), InputTypeError, ("uint8",)),
    "nan": (lambda: _with(float("nan")), InputValueError, ("NaN",)),
    "nan-float16": (lambda: _with(float("nan")).half(), InputValueError, ("NaN",)),
    "plus-inf": (lambda: _with(float("inf")), InputValueError, ("inf",)),
    "minus-inf": (lambda: _with(float("-inf")), InputValueError, ("inf",)),
    "float-0-255": (lambda: _good().float(), InputValueError, ("[0, 1]",)),
    "float-above-1": (lambda: _with(1.0001), InputValueError, ("[0, 1]",)),
    "float-normalised": (lambda: (_good(dtype=torch.float32) - 0.5) / 0.25, InputValueError, ("[0, 1]",)),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
@ALL
def test_bad_images_raise_one_line_errors(name: str, case: str) -> None:
    make, expected, keywords = BAD_IMAGES[case]
    transform = TRANSFORMS[name]()
    images = make()
    good_params = transform.sample(_good(), generator=torch.Generator().manual_seed(0))
    entries = {
        "call": lambda: transform(images, generator=torch.Generator()),
        "sample": lambda: transform.sample(images, generator=torch.Generator()),
        "apply": lambda: transform.apply(images, good_params),
    }
    for entry, call in entries.items():
        message = _raises(expected, call, *keywords)
        assert name in message, f"{entry}: the message does not name {name}"


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64, torch.float16])
@ALL
def test_valid_edges_are_accepted(name: str, dtype: torch.dtype) -> None:
    images = _good(1, dtype)
    if dtype.is_floating_point:
        images[0, 0, 0, :2] = torch.tensor([0.0, 1.0], dtype=dtype)  # both ends of [0, 1] are fine
    for channels in (1, 4):
        grey_or_rgba = images[:, :1].expand(1, channels, 16, 16).contiguous()
        assert TRANSFORMS[name]()(grey_or_rgba, generator=torch.Generator()).dtype == dtype


# -- masks and targets ---------------------------------------------------------------------------


@ALL
def test_bad_masks_and_targets(name: str) -> None:
    transform = TRANSFORMS[name]()
    params = transform.sample(_good(), generator=torch.Generator())
    mask = torch.zeros(2, 1, 16, 16, dtype=torch.int64)
    _raises(InputTypeError, lambda: transform.apply(mask.float(), params, target="mask"), "mask", "long")
    _raises(InputValueError, lambda: transform.apply(mask[:, 0], params, target="mask"), "4-D")
    _raises(InputValueError, lambda: transform.apply(mask[:0], params, target="mask"), "drawn for a batch of 2")
    _raises(InputValueError, lambda: transform.apply(mask, params, target="boxes"), "target", "mask")


# -- mismatched params ---------------------------------------------------------------------------


@ALL
def test_params_for_another_batch_size(name: str) -> None:
    transform = TRANSFORMS[name]()
    params = transform.sample(_good(4), generator=torch.Generator())
    _raises(InputValueError, lambda: transform.apply(_good(2), params), "params", "4", "2")
    mask = torch.zeros(3, 1, 16, 16, dtype=torch.int64)
    _raises(InputValueError, lambda: transform.apply(mask, params, target="mask"), "params")


@ALL
def test_params_that_are_not_params(name: str) -> None:
    transform = TRANSFORMS[name]()
    as_dict = dict(transform.sample(_good(), generator=torch.Generator()))
    _raises(ValueError, lambda: transform.apply(_good(), as_dict), "Params", "sample")  # type: ignore[arg-type]
    _raises(ValueError, lambda: transform.apply(_good(), None), "Params")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("drawn_by", "applied_by"),
    [
        (lambda: HorizontalFlip(), lambda: RandomAffine(10)),
        (lambda: RandomAffine(10), lambda: RandomCrop(8)),
        (lambda: RandomCrop(8), lambda: RandomErasing()),
        (lambda: Compose([HorizontalFlip()]), lambda: Compose([RandomCrop(8)])),
        (lambda: Compose([HorizontalFlip()]), lambda: Compose([HorizontalFlip(), VerticalFlip()])),
    ],
    ids=["flip->affine", "affine->crop", "crop->erasing", "compose-flip->compose-crop", "compose-one->compose-two"],
)
def test_params_drawn_by_another_transform(drawn_by, applied_by) -> None:
    params = drawn_by().sample(_good(), generator=torch.Generator())
    _raises(ValueError, lambda: applied_by().apply(_good(), params), "params")


def test_bad_generator() -> None:
    _raises(InputTypeError, lambda: HorizontalFlip()(_good(), generator=0), "torch.Generator")  # type: ignore[arg-type]
    _raises(InputTypeError, lambda: RandomAffine(5).sample(_good(), generator=np.random.default_rng(0)), "torch.Generator")  # type: ignore[arg-type]


# -- constructor arguments -----------------------------------------------------------------------

BAD_CONSTRUCTORS: dict[str, tuple[Callable[[], object], tuple[str, ...]]] = {
    "flip-p-above-1": (lambda: HorizontalFlip(p=1.5), ("p=1.5", "[0, 1]")),
    "flip-p-negative": (lambda: VerticalFlip(p=-0.1), ("p=",)),
    "flip-p-string": (lambda: HorizontalFlip(p="0.5"), ("p=",)),  # type: ignore[arg-type]
    "flip-p-nan": (lambda: HorizontalFlip(p=float("nan")), ("p=",)),
    "erasing-p": (lambda: RandomErasing(p=2), ("p=",)),
    "affine-p": (lambda: RandomAffine(10, p=-1), ("p=",)),
    "rrc-size-zero": (lambda: RandomResizedCrop(0), ("size",)),
    "rrc-size-float": (lambda: RandomResizedCrop(8.5), ("size",)),  # type: ignore[arg-type]
    "rrc-size-three": (lambda: RandomResizedCrop((8, 8, 3)), ("size",)),  # type: ignore[arg-type]
    "rrc-scale-reversed": (lambda: RandomResizedCrop(8, scale=(0.9, 0.1)), ("scale", "(0.1, 0.9)")),
    "rrc-scale-above-1": (lambda: RandomResizedCrop(8, scale=(0.5, 1.5)), ("scale",)),
    "rrc-scale-zero": (lambda: RandomResizedCrop(8, scale=(0.0, 0.0)), ("scale",)),
    "rrc-scale-nan": (lambda: RandomResizedCrop(8, scale=(float("nan"), 1.0)), ("scale",)),
    "rrc-ratio-zero": (lambda: RandomResizedCrop(8, ratio=(0.0, 1.0)), ("ratio",)),
    "rrc-ratio-reversed": (lambda: RandomResizedCrop(8, ratio=(2.0, 0.5)), ("ratio",)),
    "rrc-interpolation": (lambda: RandomResizedCrop(8, interpolation="lanczos"), ("interpolation", "bilinear")),  # type: ignore[arg-type]
    "crop-size-negative": (lambda: RandomCrop(-3), ("size",)),
    "crop-padding-negative": (lambda: RandomCrop(8, padding=-1), ("padding",)),
    "crop-padding-three": (lambda: RandomCrop(8, padding=(1, 2, 3)), ("padding",)),
    "crop-padding-mode": (lambda: RandomCrop(8, padding_mode="wrap"), ("padding_mode", "reflect")),  # type: ignore[arg-type]
    "crop-fill-above-1": (lambda: RandomCrop(8, fill=255), ("fill", "[0, 1]")),
    "affine-degrees-negative": (lambda: RandomAffine(-5), ("degrees",)),
    "affine-degrees-reversed": (lambda: RandomAffine((10, -10)), ("degrees", "(-10.0, 10.0)")),
    "affine-degrees-nan": (lambda: RandomAffine(float("nan")), ("degrees",)),
    "affine-degrees-three": (lambda: RandomAffine((1, 2, 3)), ("degrees",)),  # type: ignore[arg-type]
    "affine-translate-above-1": (lambda: RandomAffine(0, translate=(1.5, 0.0)), ("translate",)),
    "affine-translate-negative": (lambda: RandomAffine(0, translate=(-0.1, 0.1)), ("translate",)),
    "affine-scale-zero": (lambda: RandomAffine(0, scale=(0.0, 1.0)), ("scale",)),
    "affine-scale-reversed": (lambda: RandomAffine(0, scale=(1.2, 0.8)), ("scale",)),
    "affine-shear-five": (lambda: RandomAffine(0, shear=(1, 2, 3, 4, 5)), ("shear",)),
    "affine-shear-negative": (lambda: RandomAffine(0, shear=-3), ("shear",)),
    "affine-interpolation": (lambda: RandomAffine(0, interpolation="area"), ("interpolation",)),  # type: ignore[arg-type]
    "affine-fill-above-1": (lambda: RandomAffine(0, fill=(0.5, 2.0)), ("fill",)),
    "affine-center-one-value": (lambda: RandomAffine(0, center=(1.0,)), ("center",)),
    "affine-center-string": (lambda: RandomAffine(0, center="middle"), ("center",)),  # type: ignore[arg-type]
    "erasing-scale-reversed": (lambda: RandomErasing(scale=(0.4, 0.1)), ("scale",)),
    "erasing-ratio-zero": (lambda: RandomErasing(ratio=(0.0, 3.0)), ("ratio",)),
    "erasing-value-unknown": (lambda: RandomErasing(value="noise"), ("value", "random")),  # type: ignore[arg-type]
    "erasing-value-255": (lambda: RandomErasing(value=255), ("[0, 1]",)),
    "compose-not-a-transform": (lambda: Compose([HorizontalFlip(), lambda x: x]), ("item 1", "Transform")),  # type: ignore[list-item]
}


@pytest.mark.parametrize("case", list(BAD_CONSTRUCTORS))
def test_bad_constructor_arguments(case: str) -> None:
    build, keywords = BAD_CONSTRUCTORS[case]
    _raises(ValueError, build, *keywords)


def test_crop_larger_than_the_padded_image() -> None:
    _raises(InputValueError, lambda: RandomCrop(20, padding=1)(_good(), generator=torch.Generator()), "pad_if_needed")


def test_per_channel_values_for_another_channel_count() -> None:
    grey = _good()[:, :1]
    _raises(InputValueError, lambda: RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(grey, generator=torch.Generator()), "fill", "channel")
    _raises(InputValueError, lambda: RandomAffine(30, fill=(0.1, 0.2))(_good(), generator=torch.Generator()), "fill", "channel")


# -- functional level -------------------------------------------------------------------------------

KERNELS: dict[str, Callable[[torch.Tensor], object]] = {
    "crop": lambda x: F.crop(x, 0, 0, 4, 4),
    "resized_crop": lambda x: F.resized_crop(x, 0, 0, 8, 8, 5),
    "resize": lambda x: F.resize(x, 5),
    "affine": lambda x: F.affine(x, 10.0, (0.0, 0.0), 1.0, (0.0, 0.0)),
    "rotate": lambda x: F.rotate(x, 10.0),
    "erase": lambda x: F.erase(x, 0, 0, 2, 2, 0),
}
KERNEL_NAMES = pytest.mark.parametrize("kernel", list(KERNELS))


@KERNEL_NAMES
def test_kernels_take_unbatched_images_and_refuse_fewer_than_3_dims(kernel: str) -> None:
    single = KERNELS[kernel](_good()[0])  # (C, H, W) as in torchvision
    assert isinstance(single, torch.Tensor) and torch.equal(single, KERNELS[kernel](_good()[:1])[0])
    _raises(InputValueError, lambda: KERNELS[kernel](_good()[0, 0]), "(..., C, H, W)", "x[None]")


@KERNEL_NAMES
def test_kernels_return_an_empty_batch_for_an_empty_batch(kernel: str) -> None:
    empty = KERNELS[kernel](_good()[:0])
    assert isinstance(empty, torch.Tensor) and empty.shape[0] == 0


def test_kernels_reject_per_sample_params_of_the_wrong_length() -> None:
    images, three = _good(2), torch.zeros(3)
    _raises(InputValueError, lambda: F.crop(images, three.long(), 0, 4, 4), "top", "one value per sample")
    _raises(InputValueError, lambda: F.resized_crop(images, 0, 0, torch.full((3,), 4.0), 8, 5), "height")
    _raises(InputValueError, lambda: F.resized_crop(images, torch.zeros(2, 1), 0, 8, 8, 5), "top")
    _raises(InputValueError, lambda: F.affine(images, three, (0.0, 0.0), 1.0, (0.0, 0.0)), "angle")
    _raises(InputValueError, lambda: F.affine(images, 0.0, (three, 0.0), 1.0, (0.0, 0.0)), "translate")
    _raises(InputValueError, lambda: F.rotate(images, three), "angle")
    _raises(InputValueError, lambda: F.erase(images, 0, 0, three.long(), 2, 0), "height")


def test_kernels_reject_bad_options() -> None:
    images = _good()
    _raises(InputValueError, lambda: F.crop(images, 0, 0, 4, 4, padding_mode="wrap"), "padding_mode")  # type: ignore[arg-type]
    _raises(InputValueError, lambda: F.crop(images, 0, 0, 0, 4), "size")
    _raises(InputValueError, lambda: F.crop(images, -1, 0, 4, 4, fill=[1, 2]), "fill")
    _raises(InputValueError, lambda: F.resized_crop(images, 0, 0, 8, 8, 5, interpolation="cubic"), "interpolation")  # type: ignore[arg-type]
    _raises(InputValueError, lambda: F.resized_crop(images, 0, 0, 8, 8, (4, 4, 4)), "size")
    _raises(InputValueError, lambda: F.affine(images, 0.0, (0.0, 0.0, 0.0), 1.0, (0.0, 0.0)), "translate")  # type: ignore[arg-type]
    _raises(InputValueError, lambda: F.affine(images, 0.0, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation="area"), "interpolation")  # type: ignore[arg-type]
    _raises(InputValueError, lambda: F.rotate(images, 10.0, fill=[1, 2]), "fill")
    _raises(InputValueError, lambda: F.erase(images, 0, 0, 2, 2, [1, 2]), "fill")


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_affine_rejects_a_scale_that_is_not_positive(scale: float) -> None:
    _raises(InputValueError, lambda: F.affine(_good(), 0.0, (0.0, 0.0), scale, (0.0, 0.0)), "scale")


def test_resized_crop_rejects_an_empty_box() -> None:
    # the docstring asks for a box size > 0; a zero-height box has nothing to resample
    _raises(InputValueError, lambda: F.resized_crop(_good(), 0, 0, 0, 8, 5), "height")
    _raises(InputValueError, lambda: F.resized_crop(_good(dtype=torch.float32), 0, 0, 8, torch.tensor([4.0, 0.0]), 5), "width")


def test_bilinear_kernels_reject_integer_images_other_than_uint8() -> None:
    # documented: bilinear takes uint8 or floating images; other integer dtypes need "nearest"
    images = _good().long()
    _raises(ValueError, lambda: F.resized_crop(images, 0, 0, 8, 8, 5), "nearest")
    _raises(ValueError, lambda: F.affine(images, 10.0, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation="bilinear"), "nearest")
    _raises(ValueError, lambda: F.rotate(images, 10.0, interpolation="bilinear"), "nearest")
