"""Geometric transforms: flips, crops and affine warps, op-specific behaviour and param ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import augbench.functional as F
import augbench.functional.interpolation as F_interpolation
from augbench import HorizontalFlip, RandomAffine, RandomCrop, RandomResizedCrop, VerticalFlip


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _blank(batch: int, height: int, width: int) -> torch.Tensor:
    """A uint8 batch that only serves for its shape (expanded, no memory per sample)."""
    return torch.zeros(1, 3, height, width, dtype=torch.uint8).expand(batch, -1, -1, -1)


# -- flips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("transform_type", "kernel"), [(HorizontalFlip, F.hflip), (VerticalFlip, F.vflip)])
def test_flip_mirrors_exactly_the_selected_samples(transform_type, kernel, rgb_batch: torch.Tensor) -> None:
    assert torch.equal(transform_type(p=1.0)(rgb_batch, generator=_generator()), kernel(rgb_batch))
    transform = transform_type()  # p = 0.5
    params = transform.sample(rgb_batch, generator=_generator(1))
    result = transform.apply(rgb_batch, params)
    selected = params.apply
    assert 0 < int(selected.sum()) < len(rgb_batch)
    assert torch.equal(result[selected], kernel(rgb_batch[selected]))
    assert torch.equal(result[~selected], rgb_batch[~selected])


def test_flip_probability_is_per_sample() -> None:
    params = HorizontalFlip(p=0.3).sample(_blank(8000, 4, 4), generator=_generator(2))
    assert float(params.apply.float().mean()) == pytest.approx(0.3, abs=5 * (0.3 * 0.7 / 8000) ** 0.5)


# -- RandomResizedCrop --------------------------------------------------------------------------------


def test_resized_crop_boxes_are_inside_and_in_the_area_and_aspect_ranges() -> None:
    height, width = 40, 50
    scale, ratio = (0.1, 0.5), (0.75, 4 / 3)  # every try fits, so no fallback box
    params = RandomResizedCrop(16, scale=scale, ratio=ratio).sample(_blank(3000, height, width), generator=_generator(3))
    top, left, box_h, box_w = (params[k].double() for k in ("top", "left", "height", "width"))
    assert bool(((top >= 0) & (left >= 0) & (top + box_h <= height) & (left + box_w <= width)).all())
    assert bool(((box_h >= 1) & (box_w >= 1)).all())
    area = height * width
    # box sides are rounded: the unrounded sides lie within half a pixel of them
    assert bool(((box_h + 0.5) * (box_w + 0.5) >= scale[0] * area).all())
    assert bool(((box_h - 0.5) * (box_w - 0.5) <= scale[1] * area).all())
    assert bool((((box_w + 0.5) / (box_h - 0.5) >= ratio[0]) & ((box_w - 0.5) / (box_h + 0.5) <= ratio[1])).all())
    # area fraction ~ U(scale), log aspect ~ U(log ratio), position uniform over the free room
    assert float((box_h * box_w).mean()) / area == pytest.approx(0.3, abs=0.015)
    assert float(torch.log(box_w / box_h).mean()) == pytest.approx(0.0, abs=0.02)
    room_h, room_w = height - box_h, width - box_w
    assert float((top[room_h > 0] / room_h[room_h > 0]).mean()) == pytest.approx(0.5, abs=0.03)
    assert float((left[room_w > 0] / room_w[room_w > 0]).mean()) == pytest.approx(0.5, abs=0.03)
    assert len(torch.unique(torch.stack([top, left, box_h, box_w], 1), dim=0)) > 2900  # one draw per sample


def test_resized_crop_aspect_is_width_over_height() -> None:
    params = RandomResizedCrop(8, scale=(0.3, 0.3), ratio=(2.0, 2.0)).sample(_blank(50, 40, 40), generator=_generator())
    # area 480 with width / height = 2: 31 x 15 (sqrt(960) = 30.98, sqrt(240) = 15.49)
    assert bool((params.width == 31).all()) and bool((params.height == 15).all())


def test_resized_crop_falls_back_to_a_centre_crop_with_clamped_aspect() -> None:
    # width / height must be in [3, 4] but the whole 40 x 50 image cannot hold such a box of that area
    params = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(3.0, 4.0)).sample(_blank(5, 40, 50), generator=_generator())
    assert params.width.tolist() == [50] * 5
    assert params.height.tolist() == [round(50 / 3)] * 5
    assert params.top.tolist() == [(40 - round(50 / 3)) // 2] * 5 and params.left.tolist() == [0] * 5


def test_resized_crop_apply_equals_the_kernel_on_its_boxes(rgb_batch: torch.Tensor) -> None:
    transform = RandomResizedCrop((9, 11), antialias=False)
    params = transform.sample(rgb_batch, generator=_generator(4))
    expected = F.resized_crop(rgb_batch, params.top, params.left, params.height, params.width, (9, 11), antialias=False)
    assert torch.equal(transform.apply(rgb_batch, params), expected)
    mask = torch.arange(20 * 24).view(1, 1, 20, 24).expand(16, -1, -1, -1)
    nearest = F.resized_crop(mask, params.top, params.left, params.height, params.width, (9, 11), interpolation="nearest")
    assert torch.equal(transform.apply(mask, params, target="mask"), nearest)


# -- RandomCrop --------------------------------------------------------------------------------


def test_random_crop_with_padding_shows_fill_at_the_borders(cifar_image: torch.Tensor) -> None:
    copies = cifar_image.expand(64, -1, -1, -1)
    transform = RandomCrop(32, padding=4, fill=1.0)  # fill in [0, 1] units: 255 for uint8
    params = transform.sample(copies, generator=_generator(5))
    result = transform.apply(copies, params)
    padded = torch.nn.functional.pad(cifar_image[0], (4, 4, 4, 4), value=255)
    for index in range(64):
        top, left = int(params.top[index]) + 4, int(params.left[index]) + 4
        assert torch.equal(result[index], padded[:, top : top + 32, left : left + 32]), f"sample {index}"
    assert bool(((params.top >= -4) & (params.top <= 4) & (params.left >= -4) & (params.left <= 4)).all())
    shows_fill = (result == 255).all(1).flatten(1).any(1)  # some pixel is the fill in every channel
    assert int(shows_fill.sum()) > 32  # most windows reach into the padding
    assert set(params.top.tolist()) == set(range(-4, 5))  # every offset occurs


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric"])
def test_random_crop_padding_modes_match_numpy_pad(mode: str, rgb_batch: torch.Tensor) -> None:
    transform = RandomCrop((18, 26), padding=(3, 2, 1, 4), padding_mode=mode)  # left, top, right, bottom
    params = transform.sample(rgb_batch, generator=_generator(6))
    result = transform.apply(rgb_batch, params)
    assert bool(((params.top >= -2) & (params.top + 18 <= 20 + 4) & (params.left >= -3) & (params.left + 26 <= 24 + 1)).all())
    numpy_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[mode]
    for index in range(len(rgb_batch)):
        padded = np.pad(rgb_batch[index].numpy(), ((0, 0), (2, 4), (3, 1)), mode=numpy_mode)
        top, left = int(params.top[index]) + 2, int(params.left[index]) + 3
        assert np.array_equal(result[index].numpy(), padded[:, top : top + 18, left : left + 26]), f"sample {index}"


def test_random_crop_without_padding_stays_inside_and_reaches_every_position(rgb_batch: torch.Tensor) -> None:
    transform = RandomCrop((17, 20))
    params = transform.sample(_blank(2000, 20, 24), generator=_generator(7))
    assert set(params.top.tolist()) == set(range(0, 4)) and set(params.left.tolist()) == set(range(0, 5))
    params = transform.sample(rgb_batch, generator=_generator(7))
    result = transform.apply(rgb_batch, params)
    for index in range(len(rgb_batch)):
        top, left = int(params.top[index]), int(params.left[index])
        assert torch.equal(result[index], rgb_batch[index, :, top : top + 17, left : left + 20])


def test_random_crop_pad_if_needed_pads_small_images() -> None:
    images = torch.randint(0, 256, (20, 1, 10, 12), dtype=torch.uint8, generator=_generator(8))
    transform = RandomCrop((14, 12), pad_if_needed=True, fill=(0.5,))
    params = transform.sample(images, generator=_generator(8))
    result = transform.apply(images, params)
    assert result.shape == (20, 1, 14, 12)
    assert bool(((params.top >= -4) & (params.top <= 0)).all())
    for index in range(20):
        padded = torch.nn.functional.pad(images[index], (2, 2, 4, 4), value=128)
        top, left = int(params.top[index]) + 4, int(params.left[index]) + 2
        assert torch.equal(result[index], padded[:, top : top + 14, left : left + 12])


def test_random_crop_float_fill_is_in_unit_scale() -> None:
    images = torch.zeros(32, 3, 8, 8)
    result = RandomCrop(8, padding=2, fill=(0.2, 0.4, 0.6))(images, generator=_generator(9))
    values = {tuple(round(v, 4) for v in result[b, :, y, x].tolist()) for b in range(32) for y in (0, 7) for x in (0, 7)}
    assert values <= {(0.0, 0.0, 0.0), (0.2, 0.4, 0.6)} and (0.2, 0.4, 0.6) in values


# -- RandomAffine --------------------------------------------------------------------------------


def test_random_affine_per_sample_params_lie_in_their_ranges() -> None:
    height, width = 20, 30
    transform = RandomAffine((-20, 30), translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    params = transform.sample(_blank(4000, height, width), generator=_generator(10))
    checks = {
        "angle": (-20, 30), "translate_x": (-0.1 * width, 0.1 * width), "translate_y": (-0.2 * height, 0.2 * height),
        "scale": (0.8, 1.2), "shear_x": (-5, 5), "shear_y": (-3, 3),
    }
    for name, (low, high) in checks.items():
        values = params[name].double()
        assert values.shape == (4000,), name
        assert float(values.min()) >= low and float(values.max()) <= high, name
        assert float(values.mean()) == pytest.approx((low + high) / 2, abs=0.05 * (high - low)), name  # uniform
        assert float(values.std()) == pytest.approx((high - low) / math.sqrt(12), rel=0.1), name
    for name in ("translate_x", "translate_y"):
        assert torch.equal(params[name], params[name].round()), f"{name} is whole pixels"
        assert float(params[name].min()) == -checks[name][1] and float(params[name].max()) == checks[name][1]
    assert len(params.angle.unique()) > 3990  # one draw per sample


def test_random_affine_symmetric_and_absent_ranges() -> None:
    params = RandomAffine(10, shear=7).sample(_blank(2000, 16, 16), generator=_generator(11))
    assert -10 <= float(params.angle.min()) < -9 and 9 < float(params.angle.max()) <= 10
    assert -7 <= float(params.shear_x.min()) < -6 and 6 < float(params.shear_x.max()) <= 7
    assert bool((params.shear_y == 0).all())
    assert bool((params.translate_x == 0).all()) and bool((params.translate_y == 0).all())
    assert bool((params.scale == 1).all())


def test_random_affine_translate_is_a_fraction_per_axis_not_a_range() -> None:
    # torchvision's translate=(a, b): |dx| <= a * W and |dy| <= b * H, so a > b is legitimate
    transform = RandomAffine(0, translate=(0.3, 0.1))
    params = transform.sample(_blank(2000, 20, 40), generator=_generator(15))
    assert float(params.translate_x.abs().max()) == 12  # 0.3 * 40
    assert float(params.translate_y.abs().max()) == 2  # 0.1 * 20


def test_random_affine_apply_equals_the_kernel_with_scaled_fill(rgb_batch: torch.Tensor) -> None:
    transform = RandomAffine(40, translate=(0.1, 0.2), scale=(0.7, 1.1), shear=(-10, 10, -5, 5), interpolation="bilinear", fill=1.0)
    params = transform.sample(rgb_batch, generator=_generator(12))
    expected = F.affine(
        rgb_batch, params.angle, (params.translate_x, params.translate_y), params.scale, (params.shear_x, params.shear_y),
        interpolation="bilinear", fill=255,
    )
    assert torch.equal(transform.apply(rgb_batch, params), expected)


def test_random_affine_large_rotation_puts_fill_in_the_corners() -> None:
    images = torch.full((8, 3, 16, 16), 0.5)
    result = RandomAffine((45, 45), fill=(1.0, 0.0, 0.25))(images, generator=_generator(13))
    for row, col in [(0, 0), (0, 15), (15, 0), (15, 15)]:
        assert torch.equal(result[:, :, row, col], torch.tensor([1.0, 0.0, 0.25]).expand(8, 3))
    assert torch.equal(result[:, :, 8, 8], images[:, :, 8, 8])


def test_random_affine_masks_use_nearest_and_zero_fill() -> None:
    images = torch.rand(6, 3, 12, 12)
    mask = torch.full((6, 1, 12, 12), 3, dtype=torch.int64)
    transform = RandomAffine((45, 45), interpolation="bilinear", fill=0.5)
    params = transform.sample(images, generator=_generator(14))
    moved = transform.apply(mask, params, target="mask")
    assert set(moved.unique().tolist()) == {0, 3}
    assert bool((moved[:, :, 0, 0] == 0).all())


# -- interpolation modes and empty batches -----------------------------------------------------


@pytest.mark.parametrize("transform_type", [RandomResizedCrop, RandomAffine])
def test_interpolation_takes_an_enum_or_bicubic_and_is_stored_as_its_name(transform_type, rgb_batch: torch.Tensor) -> None:
    build = (lambda mode: RandomResizedCrop(16, interpolation=mode)) if transform_type is RandomResizedCrop else (lambda mode: RandomAffine(20, interpolation=mode))
    transform = build(F_interpolation.InterpolationMode.BICUBIC)
    assert transform.interpolation == "bicubic" and transform.config()["interpolation"] == "bicubic"
    params = transform.sample(rgb_batch, generator=_generator())
    assert torch.equal(transform.apply(rgb_batch, params), build("bicubic").apply(rgb_batch, params))
    with pytest.raises(ValueError, match="use one of 'nearest', 'bilinear', 'bicubic'"):
        build("lanczos")


@pytest.mark.parametrize(
    "transform, shape",
    [
        (RandomResizedCrop(16), (16, 16)),
        (RandomResizedCrop(None), (20, 24)),
        (RandomCrop(16, padding=4), (16, 16)),
        (RandomAffine(30, (0.1, 0.1), (0.9, 1.1), 10, p=0.5), (20, 24)),
        (HorizontalFlip(), (20, 24)),
        (VerticalFlip(), (20, 24)),
    ],
    ids=["rrc", "rrc-same-size", "crop", "affine", "hflip", "vflip"],
)
def test_empty_batch_comes_back_empty(transform, shape: tuple[int, int]) -> None:
    images = torch.zeros(0, 3, 20, 24, dtype=torch.uint8)
    params = transform.sample(images, generator=_generator())
    assert transform.apply(images, params).shape == (0, 3, *shape)
    assert transform.apply(images[:, :1].long(), params, target="mask").shape == (0, 1, *shape)
