"""Empty batches (B = 0) come back empty, of the right shape and dtype, from every registered entry.

Each section iterates a registry, so a new entry that breaks on empty input fails here:
every public kernel of ``augbench.functional`` (the ``kernel_calls`` table of
``tests/conftest.py``), every transform of ``TRANSFORMS``, every policy op of ``OPS`` and of
timm's op table, every policy-string element of ``ELEMENTS`` (built from its own example) and
every mixer of ``MIXERS``. The expected shape is the one the same call gives on one image, with
the batch dim 0.
"""

from __future__ import annotations

import inspect
import re

import pytest
import torch

import augbench.functional as F
from augbench import HorizontalFlip, RandomErasing
from augbench.mix import MIXERS
from augbench.policies import timm_ops
from augbench.policies.ops import OPS
from augbench.policies.strings import ELEMENTS, parse
from augbench.transforms.base import TRANSFORMS, Transform

PUBLIC_KERNELS = sorted(name for name in F.__all__ if inspect.isfunction(getattr(F, name)))
"""The public kernels (``InterpolationMode`` is a class, not a kernel)."""

SHAPE = (3, 32, 32)  # large enough for every element example (rrc32, crop32p4)
DTYPES = [torch.uint8, torch.float32]
IMAGE_TRANSFORMS = [name for name in TRANSFORMS.names() if TRANSFORMS.get(name).modality == "image"]
"""The image transforms (the other modalities' empty batches are tested with their ops)."""
NUM_CLASSES = 10

TRANSFORM_ARGS: dict[str, dict] = {
    "CenterCrop": {"size": 12},
    "Compose": {"transforms": [HorizontalFlip(), RandomErasing(p=1.0)]},
    "GaussianBlur": {"kernel_size": 3},
    "Normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
    "Pad": {"padding": 2},
    "RandomAffine": {"degrees": 20, "translate": (0.1, 0.1), "scale": (0.9, 1.1), "shear": 5},
    "RandomCrop": {"size": 12, "padding": 2},
    "RandomResizedCrop": {"size": 12},
    "Resize": {"size": 12},
}
"""Constructor arguments of the transforms that need some (the others are built with their defaults);
a new transform that needs arguments needs a row here."""


def _images(batch: int, dtype: torch.dtype, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    images = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images if dtype == torch.uint8 else images.to(dtype) / 255


def _assert_empty_like(result: torch.Tensor, one: torch.Tensor) -> None:
    assert result.shape == (0, *one.shape[1:]) and result.dtype == one.dtype and result.device == one.device


# -- kernels --------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_sample", [False, True], ids=["scalar", "per-sample"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(PUBLIC_KERNELS))
def test_kernel(kernel_calls, kernel_args, name, dtype, per_sample):
    assert name in kernel_calls, "add a row for the new kernel to KERNEL_CALLS in tests/conftest.py"
    call = kernel_calls[name]
    one = call(_images(1, dtype), kernel_args())
    _assert_empty_like(call(_images(0, dtype), kernel_args((0,) if per_sample else None)), one)


@pytest.mark.parametrize("name", sorted(set(PUBLIC_KERNELS) - {"inverse_affine_matrix"}))
def test_kernel_with_an_empty_leading_dim(kernel_calls, kernel_args, name):
    images = _images(0, torch.uint8).reshape(2, 0, *SHAPE)
    result = kernel_calls[name](images, kernel_args((2, 0)))
    one = kernel_calls[name](_images(1, torch.uint8), kernel_args())
    assert result.shape == (2, 0, *one.shape[1:]) and result.dtype == one.dtype


# -- transforms and policies ------------------------------------------------------------------------


def _build_transform(name: str, **options) -> Transform:
    return TRANSFORMS.build(name, **{**TRANSFORM_ARGS.get(name, {}), **options})


def _check_transform(transform: Transform, dtype: torch.dtype) -> None:
    one = transform(_images(1, dtype), generator=torch.Generator().manual_seed(0))
    empty = _images(0, dtype)
    results = [
        transform(empty, generator=torch.Generator().manual_seed(0)),
        transform.apply(empty, transform.sample(empty, generator=torch.Generator())),
    ]
    if not transform.same_on_batch:  # keyed draws are per sample
        results.append(transform(empty, keys=torch.zeros(0, dtype=torch.int64), seed=0))
    for result in results:
        _assert_empty_like(result, one)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", IMAGE_TRANSFORMS)
def test_transform(name, dtype):
    _check_transform(_build_transform(name), dtype)


@pytest.mark.parametrize("name", IMAGE_TRANSFORMS)
def test_transform_same_on_batch_and_masks(name):
    if "same_on_batch" in TRANSFORMS.options(name):
        _check_transform(_build_transform(name, same_on_batch=True), torch.uint8)
    transform = _build_transform(name)

    def replay_on_masks(batch: int) -> torch.Tensor:
        masks = torch.zeros(batch, 1, *SHAPE[1:], dtype=torch.int64)
        return transform.apply(masks, transform.sample(_images(batch, torch.uint8)), target="mask")

    try:
        one = replay_on_masks(1)
    except ValueError as refusal:  # e.g. AugMix blends pixel values: refused on masks at any batch size
        with pytest.raises(type(refusal), match=re.escape(str(refusal))):
            replay_on_masks(0)
        return
    _assert_empty_like(replay_on_masks(0), one)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ELEMENTS))
def test_policy_string_family(name, dtype):
    example = ELEMENTS[name].example.split()[0]
    assert parse(example).elements[0].name == name, f"the example of {name!r} ({example!r}) builds another element"
    _check_transform(parse(example).build(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPS))
def test_policy_op(name, dtype):
    empty = _images(0, dtype)
    _assert_empty_like(OPS[name](empty, torch.zeros(0), 0.0), empty)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(timm_ops.LEVELS))
def test_timm_policy_op(name, dtype):
    empty = _images(0, dtype)
    _assert_empty_like(timm_ops.kernel(name, "bilinear")(empty, torch.zeros(0), timm_ops.DEFAULT_FILL), empty)


# -- mixers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_sample", [True, False], ids=["per-sample", "batch-wide"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [name for name in MIXERS.names() if MIXERS.get(name).modality == "image"])
def test_mixer(name, dtype, per_sample):
    mixer = MIXERS.build(name, num_classes=NUM_CLASSES, per_sample=per_sample)
    images, labels = _images(0, dtype), torch.zeros(0, dtype=torch.int64)
    for result in (
        mixer(images, labels, generator=torch.Generator().manual_seed(0)),
        mixer.apply(images, labels, mixer.sample(images, labels, generator=torch.Generator())),
    ):
        assert result.inputs.shape == images.shape and result.inputs.dtype == dtype
        assert result.targets.shape == (0, NUM_CLASSES) and result.targets.dtype == torch.float32
        assert result.lam.shape == (0,) and result.lam.dtype == torch.float32
        assert result.index.shape == (0,) and result.index.dtype == torch.int64


def test_transmix_relabels_an_empty_batch():
    mixer = MIXERS.build("transmix", num_classes=NUM_CLASSES)
    images, labels = _images(0, torch.uint8), torch.zeros(0, dtype=torch.int64)
    params = mixer.sample(images, labels)
    result = mixer.relabel(mixer.apply(images, labels, params), labels, params, torch.rand(0, 2, 4, 4))
    assert result.targets.shape == (0, NUM_CLASSES) and result.lam.shape == (0,)
