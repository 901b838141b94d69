"""The contract every random transform keeps, checked over one table of all transforms.

Each row builds a transform from options: ``same_on_batch``, ``p`` (only where the transform
takes it) and ``nearest`` (nearest interpolation for images too, so that an image replay can
be compared pixel by pixel with a mask replay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

import augbench
from augbench import (
    AugMix,
    AutoAugment,
    Compose,
    GaussianBlur,
    GaussianNoise,
    HorizontalFlip,
    Params,
    RandAugment,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Transform,
    TrivialAugmentWide,
    VerticalFlip,
)
from augbench.transforms import RandomFieldAugment

GEOMETRIC_POLICY_OPS = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY")


@dataclass(frozen=True)
class Case:
    """A row of the table.

    Attributes:
        build: ``build(same_on_batch=..., p=..., nearest=...)`` -> Transform; ``p`` is None for the default.
        takes_p: the transform has a per-sample probability ``p``.
        geometric: masks follow the image geometry (False: masks pass through unchanged).
        erases: some image pixels are overwritten, so they carry no coordinates.
        fills: some output pixels come from outside the image (constant fill).
        saturates: results are clipped to the value range, so a replay on a shifted copy is
            compared on the pixels that stay inside it.
        min_distinct: fewest distinct rows expected among 16 transformed copies of one image.
        any_channels: takes any channel count (policies take grey or RGB only).
    """

    build: Callable[..., Transform]
    takes_p: bool = False
    geometric: bool = True
    erases: bool = False
    fills: bool = False
    saturates: bool = False
    min_distinct: int = 16
    any_channels: bool = True


def _p(p: float | None, default: float) -> float:
    return default if p is None else p


def _interp(nearest: bool, default: str) -> str:
    return "nearest" if nearest else default


CASES: dict[str, Case] = {
    "HorizontalFlip": Case(
        lambda same_on_batch=False, p=None, nearest=False: HorizontalFlip(p=_p(p, 0.5), same_on_batch=same_on_batch),
        takes_p=True, min_distinct=2,
    ),
    "VerticalFlip": Case(
        lambda same_on_batch=False, p=None, nearest=False: VerticalFlip(p=_p(p, 0.5), same_on_batch=same_on_batch),
        takes_p=True, min_distinct=2,
    ),
    "RandomResizedCrop-down": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomResizedCrop(
            (12, 10), interpolation=_interp(nearest, "bilinear"), same_on_batch=same_on_batch
        )
    ),
    "RandomResizedCrop-up-noaa": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomResizedCrop(
            36, scale=(0.2, 0.9), ratio=(0.5, 2.0), interpolation=_interp(nearest, "bilinear"), antialias=False,
            same_on_batch=same_on_batch,
        )
    ),
    "RandomCrop-constant": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomCrop((16, 18), padding=3, same_on_batch=same_on_batch),
        fills=True,
    ),
    "RandomCrop-reflect": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomCrop(
            18, padding=(4, 2), padding_mode="reflect", same_on_batch=same_on_batch
        )
    ),
    "RandomCrop-pad-if-needed-symmetric": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomCrop(
            (22, 36), pad_if_needed=True, padding_mode="symmetric", same_on_batch=same_on_batch
        ),
        min_distinct=12,  # only 11 x 5 positions on a 32 x 32 image
    ),
    "RandomAffine-nearest": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomAffine(
            30, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=10, p=_p(p, 1.0), same_on_batch=same_on_batch
        ),
        takes_p=True, fills=True,
    ),
    "RandomAffine-bilinear-fill": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomAffine(
            (-20, 40), shear=(-5, 5, -8, 8), interpolation=_interp(nearest, "bilinear"), fill=0.5,
            p=_p(p, 0.8), same_on_batch=same_on_batch,
        ),
        takes_p=True, fills=True, min_distinct=8,
    ),
    # Warp fields only: the colour fields change values (tests/transforms/test_random_field.py).
    "RandomFieldAugment-warp": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomFieldAugment(
            4.0, rotation=15.0, scale=0.1, shear=5.0, translate=0.05, hue=0.0, saturation=0.0, brightness=0.0,
            interpolation=_interp(nearest, "bilinear"), p=_p(p, 1.0), same_on_batch=same_on_batch,
        ),
        takes_p=True, fills=True,
    ),
    "RandomFieldAugment-short-reflection": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomFieldAugment(
            1.5, rotation=0.0, translate=0.03, hue=0.0, saturation=0.0, brightness=0.0,
            interpolation=_interp(nearest, "bicubic"), padding_mode="reflection", p=_p(p, 0.8), same_on_batch=same_on_batch,
        ),
        takes_p=True, min_distinct=12,
    ),
    "RandomErasing": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomErasing(p=_p(p, 0.7), same_on_batch=same_on_batch),
        takes_p=True, geometric=False, erases=True, min_distinct=5,
    ),
    "RandomErasing-random-per-channel": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandomErasing(
            p=_p(p, 1.0), scale=(0.05, 0.2), value="random", same_on_batch=same_on_batch
        ),
        takes_p=True, geometric=False, erases=True,
    ),
    "GaussianBlur": Case(
        lambda same_on_batch=False, p=None, nearest=False: GaussianBlur(
            3, sigma=(0.3, 2.0), p=_p(p, 1.0), same_on_batch=same_on_batch
        ),
        takes_p=True, geometric=False,
    ),
    "GaussianNoise": Case(
        lambda same_on_batch=False, p=None, nearest=False: GaussianNoise(
            sigma=(0.05, 0.2), p=_p(p, 1.0), same_on_batch=same_on_batch
        ),
        takes_p=True, geometric=False, saturates=True,
    ),
    # Policies with geometric ops only, so that mask replay can be checked pixel by pixel;
    # AutoAugment and AugMix change pixel values (tests/policies covers their own behaviour).
    "RandAugment-geometric": Case(
        lambda same_on_batch=False, p=None, nearest=False: RandAugment(
            2, 15, ops=GEOMETRIC_POLICY_OPS, same_on_batch=same_on_batch
        ),
        fills=True, min_distinct=10, any_channels=False,  # 5 ops x 2 signs per layer: repeats among 16 are expected
    ),
    "TrivialAugmentWide-geometric": Case(
        lambda same_on_batch=False, p=None, nearest=False: TrivialAugmentWide(
            ops=GEOMETRIC_POLICY_OPS, same_on_batch=same_on_batch
        ),
        fills=True, min_distinct=12, any_channels=False,
    ),
    "Compose-crop-flip-erase": Case(
        lambda same_on_batch=False, p=None, nearest=False: Compose(
            [
                RandomCrop(18, padding=2, same_on_batch=same_on_batch),
                HorizontalFlip(same_on_batch=same_on_batch),
                RandomErasing(p=0.5, same_on_batch=same_on_batch),
            ]
        ),
        erases=True, fills=True,
    ),
    "Compose-rrc-affine-vflip": Case(
        lambda same_on_batch=False, p=None, nearest=False: Compose(
            [
                RandomResizedCrop(16, interpolation=_interp(nearest, "bilinear"), same_on_batch=same_on_batch),
                RandomAffine(25, interpolation=_interp(nearest, "bilinear"), same_on_batch=same_on_batch),
                VerticalFlip(p=0.3, same_on_batch=same_on_batch),
            ]
        ),
        fills=True,
    ),
}

ALL = pytest.mark.parametrize("case", list(CASES))
WITH_P = pytest.mark.parametrize("case", [name for name, case in CASES.items() if case.takes_p])
DTYPES = pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=["uint8", "float32"])


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _as(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return images if dtype == torch.uint8 else images.to(dtype) / 255


def _tensors(params: Params):
    """Every tensor in a (possibly nested) Params, with its dotted name."""
    for name, value in params.items():
        if isinstance(value, Params):
            yield from ((f"{name}.{inner}", tensor) for inner, tensor in _tensors(value))
        else:
            yield name, value


def _params_equal(first: Params, second: Params) -> bool:
    a, b = dict(_tensors(first)), dict(_tensors(second))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


VALUE_CHANGING_POLICIES = {AutoAugment.__name__, AugMix.__name__, "ColorJitter", "RandomGrayscale"}
"""No pixel-exact replay on a shifted copy (they change values): see tests/policies and tests/transforms/test_color.py."""

DETERMINISTIC = {"Resize", "CenterCrop", "Pad", "ToDtype", "Normalize", "Grayscale"}
"""No draw at all (torchvision's standard transforms): tests/transforms/test_standard.py and the
empty-batch contract cover them."""


def test_the_table_covers_every_public_transform() -> None:
    public = {
        name for name in augbench.__all__
        if isinstance(getattr(augbench, name), type) and issubclass(getattr(augbench, name), Transform)
        and name != "Transform"
    } - VALUE_CHANGING_POLICIES - DETERMINISTIC
    covered = {type(case.build()).__name__ for case in CASES.values()}
    assert public <= covered, f"transforms missing from the contract table: {sorted(public - covered)}"


# -- shape, dtype, device ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64, torch.float16])
@ALL
def test_output_keeps_dtype_device_and_declared_shape(case: str, dtype: torch.dtype, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    images = _as(rgb_batch, dtype)
    result = transform(images, generator=_generator())
    assert result.dtype == dtype
    assert result.device == images.device
    assert result.shape == (len(images), *transform.output_shape(tuple(images.shape[1:])))
    if dtype.is_floating_point:
        assert bool(torch.isfinite(result).all())
        assert float(result.min()) >= 0.0 and float(result.max()) <= 1.0


@ALL
def test_output_shape_for_grey_and_rgba_images(case: str) -> None:
    transform = CASES[case].build()
    for channels in (1, 4) if CASES[case].any_channels else (1,):
        images = torch.randint(0, 256, (3, channels, 21, 25), dtype=torch.uint8, generator=_generator(2))
        result = transform(images, generator=_generator())
        assert result.shape == (3, *transform.output_shape((channels, 21, 25)))
    if not CASES[case].any_channels:
        rgba = torch.zeros(3, 4, 21, 25, dtype=torch.uint8)
        with pytest.raises(ValueError, match="grey \\(1\\) or RGB \\(3\\)"):
            transform(rgba, generator=_generator())


@ALL
def test_uint8_and_float_replays_agree_within_one_grey_level(case: str, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    params = transform.sample(rgb_batch, generator=_generator(4))
    as_uint8 = transform.apply(rgb_batch, params).float()
    as_float = transform.apply(_as(rgb_batch, torch.float32), params) * 255
    # uint8 resampling rounds after each of its two passes, as Pillow does (at most 0.5 + 0.5
    # levels); a pipeline rounds once more per later op (0.5), plus the float path's rounding.
    assert (as_uint8 - as_float).abs().max() <= 1.5 + 1e-3


@ALL
def test_params_have_leading_batch_dim_and_images_device(case: str, rgb_batch: torch.Tensor) -> None:
    params = CASES[case].build().sample(rgb_batch, generator=_generator())
    assert isinstance(params, Params) and params.batch_size == len(rgb_batch)
    for name, tensor in _tensors(params):
        assert tensor.shape[0] == len(rgb_batch), name
        assert tensor.device == rgb_batch.device, name


# -- replay and determinism ----------------------------------------------------------------------


@DTYPES
@ALL
def test_call_equals_apply_of_sample_and_apply_is_pure(case: str, dtype: torch.dtype, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    images = _as(rgb_batch, dtype)
    before = images.clone()
    called = transform(images, generator=_generator(7))
    params = transform.sample(images, generator=_generator(7))
    replayed = transform.apply(images, params)
    assert torch.equal(called, replayed)
    assert torch.equal(transform.apply(images, params), replayed)  # deterministic
    assert torch.equal(images, before)  # the input is not modified


@ALL
def test_params_replay_on_a_second_view(case: str, rgb_batch: torch.Tensor) -> None:
    # One draw moves a second view of the same batch the same way: replay it on the batch plus
    # a constant. Every output pixel follows the constant, or (fill, erased box) ignores the input.
    transform = CASES[case].build(nearest=True)
    images = _as(rgb_batch, torch.float32) * 0.5
    params = transform.sample(images, generator=_generator(8))
    base = transform.apply(images, params)
    shifted = transform.apply(images + 0.25, params)
    follows = (shifted - base - 0.25).abs() <= 1e-6
    constant = (shifted - base).abs() <= 1e-6
    if CASES[case].saturates:
        inside = (base > 0) & (shifted < 1)
        assert float(inside.float().mean()) > 0.5
        follows, constant = follows | ~inside, constant & inside
    assert bool((follows | constant).all())
    if CASES[case].fills or CASES[case].erases:
        assert float(follows.float().mean()) > 0.5
    else:
        assert bool(follows.all())


@ALL
def test_same_seed_gives_bit_identical_output_and_other_seed_differs(case: str, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    first = transform(rgb_batch, generator=_generator(11))
    second = transform(rgb_batch, generator=_generator(11))
    assert torch.equal(first, second)
    assert _params_equal(transform.sample(rgb_batch, _generator(11)), transform.sample(rgb_batch, _generator(11)))
    # a freshly built, equal transform draws the same
    assert torch.equal(CASES[case].build()(rgb_batch, generator=_generator(11)), first)
    assert not torch.equal(transform(rgb_batch, generator=_generator(12)), first)


@ALL
def test_generator_draws_leave_torch_global_rng_untouched(case: str, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    transform(rgb_batch, generator=_generator())
    transform.sample(rgb_batch, generator=_generator(1))
    assert torch.equal(torch.random.get_rng_state(), state)
    transform(rgb_batch)  # no generator: augbench's default generator, still not torch's
    assert torch.equal(torch.random.get_rng_state(), state)


@ALL
def test_torch_global_seed_does_not_change_a_generator_draw(case: str, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    torch.manual_seed(1)
    first = transform(rgb_batch, generator=_generator(3))
    torch.manual_seed(2)
    assert torch.equal(transform(rgb_batch, generator=_generator(3)), first)


# -- per-sample randomness and same_on_batch --------------------------------------------------


def _distinct_rows(batch: torch.Tensor) -> int:
    return len(torch.unique(batch.flatten(1), dim=0))


@ALL
def test_copies_of_one_real_image_get_different_draws(case: str, cifar_image: torch.Tensor) -> None:
    copies = cifar_image.expand(16, -1, -1, -1).contiguous()
    result = CASES[case].build()(copies, generator=_generator(5))
    assert _distinct_rows(result) >= CASES[case].min_distinct


@ALL
def test_same_on_batch_gives_identical_rows(case: str, cifar_image: torch.Tensor, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build(same_on_batch=True)
    copies = cifar_image.expand(16, -1, -1, -1).contiguous()
    for seed in range(3):
        result = transform(copies, generator=_generator(seed))
        assert _distinct_rows(result) == 1
    params = transform.sample(rgb_batch, generator=_generator())
    assert params.batch_size == len(rgb_batch)
    for name, tensor in _tensors(params):
        assert bool((tensor == tensor[:1]).all()), f"{name} differs across the batch"


@ALL
def test_same_on_batch_still_varies_between_calls(case: str, cifar_image: torch.Tensor) -> None:
    transform = CASES[case].build(same_on_batch=True)
    copies = cifar_image.expand(4, -1, -1, -1).contiguous()
    outputs = [transform(copies, generator=_generator(seed))[0] for seed in range(12)]
    assert _distinct_rows(torch.stack(outputs)) >= 2


# -- p, batch of one ------------------------------------------------------------------------


@DTYPES
@WITH_P
def test_p_zero_is_identity(case: str, dtype: torch.dtype, rgb_batch: torch.Tensor) -> None:
    images = _as(rgb_batch, dtype)
    for same_on_batch in (False, True):
        transform = CASES[case].build(p=0.0, same_on_batch=same_on_batch)
        assert torch.equal(transform(images, generator=_generator()), images)


@WITH_P
def test_p_one_transforms_every_sample(case: str, cifar_image: torch.Tensor) -> None:
    copies = cifar_image.expand(16, -1, -1, -1).contiguous()
    result = CASES[case].build(p=1.0)(copies, generator=_generator(6))
    changed = (result != copies).flatten(1).any(1)
    assert bool(changed.all()), f"{int((~changed).sum())} of 16 samples unchanged with p=1"


@ALL
def test_batch_of_one(case: str, cifar_image: torch.Tensor) -> None:
    transform = CASES[case].build()
    params = transform.sample(cifar_image, generator=_generator())
    assert params.batch_size == 1
    result = transform.apply(cifar_image, params)
    assert result.shape == (1, *transform.output_shape((3, 32, 32)))
    assert torch.equal(transform(cifar_image, generator=_generator()), result)
    same = CASES[case].build(same_on_batch=True)(cifar_image, generator=_generator())
    assert same.shape == result.shape


# -- masks -------------------------------------------------------------------------------------


def _coordinate_image_and_mask(batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 image with channels (row + 1, column + 1, 255) and an int64 mask row * W + column + 1.

    Pixels that come from outside the image (fill 0 or 0.5) have a third channel below 255, and
    the mask is filled with 0 there.
    """
    rows = torch.arange(height).view(height, 1).expand(height, width)
    cols = torch.arange(width).view(1, width).expand(height, width)
    image = torch.stack([rows + 1, cols + 1, torch.full_like(rows, 255)]).to(torch.uint8)
    mask = (rows * width + cols + 1).view(1, height, width)
    return image.expand(batch, -1, -1, -1).contiguous(), mask.expand(batch, -1, -1, -1).contiguous()


def _decode(image: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(code, valid): the mask value the coordinate image encodes, 0 where it holds no coordinates."""
    row, col, marker = image.long().unbind(1)
    valid = marker == 255
    return torch.where(valid, (row - 1) * width + col, 0), valid


@ALL
def test_mask_replay_follows_the_image_geometry(case: str) -> None:
    height, width = 20, 24
    image, mask = _coordinate_image_and_mask(12, height, width)
    transform = CASES[case].build(nearest=True)
    params = transform.sample(image, generator=_generator(9))
    moved_image = transform.apply(image, params)
    moved_mask = transform.apply(mask, params, target="mask")
    assert moved_mask.dtype == torch.int64
    assert moved_mask.shape[-2:] == moved_image.shape[-2:] and moved_mask.shape[:2] == (12, 1)
    code, valid = _decode(moved_image, width)
    if not CASES[case].geometric:
        assert torch.equal(moved_mask, mask)  # erasing leaves masks alone
    elif CASES[case].erases:
        assert float(valid.float().mean()) > 0.5
        assert torch.equal(moved_mask[:, 0][valid], code[valid])
    else:
        assert torch.equal(moved_mask[:, 0], code)


@pytest.mark.parametrize("case", [name for name, case in CASES.items() if case.geometric and not case.erases])
def test_mask_replay_agrees_with_default_interpolation_within_a_pixel(case: str) -> None:
    height, width = 20, 24
    image, mask = _coordinate_image_and_mask(12, height, width)
    transform = CASES[case].build()  # bilinear images where that is the default, nearest masks
    params = transform.sample(image, generator=_generator(10))
    moved_image = transform.apply(image, params).long()
    moved_mask = transform.apply(mask, params, target="mask")[:, 0]
    inside = (moved_image[:, 2] == 255) & (moved_mask > 0)
    assert float(inside.float().mean()) > 0.5
    mask_rows, mask_cols = (moved_mask - 1) // width, (moved_mask - 1) % width
    assert int((moved_image[:, 0] - 1 - mask_rows)[inside].abs().max()) <= 1
    assert int((moved_image[:, 1] - 1 - mask_cols)[inside].abs().max()) <= 1


@ALL
def test_mask_replay_keeps_mask_dtypes(case: str) -> None:
    image, mask = _coordinate_image_and_mask(4, 20, 24)
    transform = CASES[case].build()
    params = transform.sample(image, generator=_generator(1))
    for dtype in (torch.bool, torch.uint8, torch.int32):
        moved = transform.apply((mask % 2).to(dtype), params, target="mask")
        assert moved.dtype == dtype
        assert set(moved.unique().tolist()) <= {0, 1}  # nearest: no new label values


# -- Compose -----------------------------------------------------------------------------------


@ALL
def test_compose_of_one_draws_and_applies_like_the_transform(case: str, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    pipeline = Compose([transform])
    assert torch.equal(pipeline(rgb_batch, generator=_generator(2)), transform(rgb_batch, generator=_generator(2)))
    params = pipeline.sample(rgb_batch, generator=_generator(3))
    assert torch.equal(pipeline.apply(rgb_batch, params), transform.apply(rgb_batch, params["0"]))
    assert pipeline.output_shape((3, 20, 24)) == transform.output_shape((3, 20, 24))


@ALL
def test_compose_replay_equals_children_applied_in_order(case: str, rgb_batch: torch.Tensor) -> None:
    pipeline = Compose([HorizontalFlip(), CASES[case].build(), RandomErasing(p=0.5)])
    images = _as(rgb_batch, torch.float32)
    params = pipeline.sample(images, generator=_generator(4))
    assert set(params) == {"0", "1", "2"}
    expected = images
    for index, child in enumerate(pipeline.transforms):
        expected = child.apply(expected, params[str(index)])
    assert torch.equal(pipeline.apply(images, params), expected)
    assert torch.equal(pipeline(images, generator=_generator(4)), expected)
    _, mask = _coordinate_image_and_mask(len(images), 20, 24)
    expected_mask = mask
    for index, child in enumerate(pipeline.transforms):
        expected_mask = child.apply(expected_mask, params[str(index)], target="mask")
    assert torch.equal(pipeline.apply(mask, params, target="mask"), expected_mask)


# -- other devices (run where CUDA is available) ---------------------------------------------------

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@CUDA
@DTYPES
@ALL
def test_cuda_images_keep_their_device_and_match_the_cpu_result(case: str, dtype: torch.dtype, rgb_batch: torch.Tensor) -> None:
    transform = CASES[case].build()
    images = _as(rgb_batch, dtype)
    on_cuda = images.cuda()
    cpu_state, cuda_state = torch.random.get_rng_state(), torch.cuda.get_rng_state()
    params = transform.sample(on_cuda, generator=_generator(3))  # a CPU generator: the same draw as on the CPU
    assert all(tensor.device == on_cuda.device for _, tensor in _tensors(params))
    assert _params_equal(params.to("cpu"), transform.sample(images, generator=_generator(3)))
    result = transform.apply(on_cuda, params)
    assert result.device == on_cuda.device and result.dtype == dtype
    assert torch.equal(torch.random.get_rng_state(), cpu_state) and torch.equal(torch.cuda.get_rng_state(), cuda_state)
    on_cpu = transform(images, generator=_generator(3))
    tolerance = 1.0 if dtype == torch.uint8 else 1e-4  # the GPU resamples by matrix products, the CPU may not
    assert (result.cpu().double() - on_cpu.double()).abs().max() <= tolerance
    mask = torch.arange(20 * 24).view(1, 1, 20, 24).expand(len(images), -1, -1, -1)
    assert torch.equal(transform.apply(mask.cuda(), params, target="mask").cpu(), transform.apply(mask, params.to("cpu"), target="mask"))


@CUDA
def test_cuda_generator_draws_on_the_gpu(rgb_batch: torch.Tensor) -> None:
    images = rgb_batch.cuda()
    generator = torch.Generator(device="cuda").manual_seed(0)
    first = RandomAffine(20)(images, generator=generator)
    assert first.device == images.device
    assert torch.equal(RandomAffine(20)(images, generator=torch.Generator(device="cuda").manual_seed(0)), first)
