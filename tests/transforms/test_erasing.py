"""RandomErasing behaviour: box statistics against the card, values, dtype scaling."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench import RandomErasing


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _blank(batch: int, channels: int, height: int, width: int, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """A batch that only serves for its shape (expanded, no memory per sample)."""
    return torch.zeros(1, channels, height, width, dtype=dtype).expand(batch, -1, -1, -1)


def test_mean_erased_fraction_is_close_to_p_times_mean_scale() -> None:
    # Card "Random Erasing / Cutout": mean erased fraction ~ p * E[s], slightly below because
    # boxes that do not fit are rejected. Defaults: p = 0.5, s ~ U(0.02, 0.33).
    n = 8000
    target = 0.5 * (0.02 + 0.33) / 2
    images = torch.ones(n, 1, 16, 16)
    erased = RandomErasing()(images, generator=_generator(0)) == 0
    per_sample = erased.flatten(1).float().mean(1)
    mean, standard_error = float(per_sample.mean()), float(per_sample.std()) / n**0.5
    assert 0.85 * target <= mean <= target + 4 * standard_error, (mean, target)


def test_erased_fraction_from_params_matches_card_on_cifar_size() -> None:
    n = 8000
    transform = RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3))  # the paper's s_h = 0.4
    params = transform.sample(_blank(n, 3, 32, 32), generator=_generator(1))
    fraction = (params.height * params.width * params.apply).double() / (32 * 32)
    target = 0.5 * (0.02 + 0.4) / 2  # 0.105, as the card says
    mean, standard_error = float(fraction.mean()), float(fraction.std()) / n**0.5
    assert 0.85 * target <= mean <= target + 4 * standard_error, (mean, target)


def test_fraction_of_samples_erased_is_p() -> None:
    n = 6000
    for p in (0.2, 0.9):
        images = torch.ones(n, 1, 12, 12)
        erased_any = (RandomErasing(p=p)(images, generator=_generator(2)) == 0).flatten(1).any(1)
        rate, standard_error = float(erased_any.float().mean()), (p * (1 - p) / n) ** 0.5
        assert abs(rate - p) <= 5 * standard_error, (p, rate)


def test_boxes_are_inside_smaller_than_the_image_and_in_the_area_and_aspect_ranges() -> None:
    height, width = 24, 40
    transform = RandomErasing(p=1.0, scale=(0.05, 0.3), ratio=(0.5, 2.0))
    params = transform.sample(_blank(4000, 3, height, width), generator=_generator(3))
    top, left, box_h, box_w = (params[k].double() for k in ("top", "left", "height", "width"))
    erased = box_h > 0
    assert float(erased.double().mean()) > 0.95
    top, left, box_h, box_w = top[erased], left[erased], box_h[erased], box_w[erased]
    assert bool(((top >= 0) & (left >= 0) & (top + box_h <= height) & (left + box_w <= width)).all())
    assert bool(((box_h < height) & (box_w < width)).all())  # torchvision: strictly smaller than the image
    area = height * width
    # box sides are rounded: the unrounded sides lie within half a pixel of them
    assert bool(((box_h + 0.5) * (box_w + 0.5) >= 0.05 * area).all())
    assert bool(((box_h - 0.5) * (box_w - 0.5) <= 0.3 * area).all())
    aspect_high, aspect_low = (box_h + 0.5) / (box_w - 0.5), (box_h - 0.5) / (box_w + 0.5)  # height / width
    assert bool(((aspect_high >= 0.5) & (aspect_low <= 2.0)).all())
    assert float(torch.log(box_h / box_w).mean()) == pytest.approx(0.0, abs=0.05)  # log-uniform aspect


def test_fixed_box_size_and_uniform_position() -> None:
    transform = RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    images = torch.full((3000, 1, 16, 16), 0.5)
    result = transform(images, generator=_generator(4))
    assert torch.equal((result == 0).flatten(1).sum(1), torch.full((3000,), 64))  # 8 x 8 each time
    params = transform.sample(images, generator=_generator(4))
    counts = torch.bincount(params.top, minlength=9)
    assert counts.shape == (9,) and int(counts.min()) > 0.6 * 3000 / 9  # rows 0..8 about equally likely
    assert torch.equal(result, F.erase(images, params.top, params.left, params.height, params.width, 0.0))


def test_boxes_that_never_fit_leave_every_image_unchanged() -> None:
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=_generator(5))
    transform = RandomErasing(p=1.0, scale=(0.6, 0.9), ratio=(3.0, 3.3))  # always taller than 8 px
    assert torch.equal(transform(images, generator=_generator(5)), images)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_value_is_given_in_unit_scale_and_per_channel(dtype: torch.dtype) -> None:
    images = torch.full((8, 3, 10, 10), 0.25 if dtype.is_floating_point else 64, dtype=dtype)
    transform = RandomErasing(p=1.0, value=(1.0, 0.5, 0.0), scale=(0.2, 0.3))
    result = transform(images, generator=_generator(6))
    expected = [255, 128, 0] if dtype == torch.uint8 else [1.0, 0.5, 0.0]
    changed = result != images
    for channel, value in enumerate(expected):
        assert bool((result[:, channel][changed[:, channel]] == value).all())
    # each sample's box is the same in every channel that changed value
    assert torch.equal(changed[:, 0], changed[:, 1]) and int(changed[:, 0].sum()) > 0


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_value_fills_the_box_with_per_pixel_noise(dtype: torch.dtype) -> None:
    images = torch.zeros(6, 3, 16, 16, dtype=dtype)
    transform = RandomErasing(p=1.0, value="random", scale=(0.2, 0.3))
    params = transform.sample(images, generator=_generator(7))
    result = transform.apply(images, params)
    box = F.box_mask(images, params.top, params.left, params.height, params.width).expand_as(images)
    assert bool((result[~box] == 0).all())
    inside = result[box].double()
    assert len(inside.unique()) > 50  # noise, not one value
    high = 255 if dtype == torch.uint8 else 1.0
    assert 0 <= float(inside.min()) and float(inside.max()) <= high
    assert float(inside.mean()) == pytest.approx(high / 2, rel=0.1)
    assert not torch.equal(params.noise[0], params.noise[1])  # each sample its own noise


def test_masks_pass_through() -> None:
    transform = RandomErasing(p=1.0)
    images = torch.zeros(4, 3, 12, 12, dtype=torch.uint8)
    mask = torch.randint(0, 5, (4, 1, 12, 12), generator=_generator(8))
    assert torch.equal(transform.apply(mask, transform.sample(images, _generator(8)), target="mask"), mask)


@pytest.mark.parametrize("value", [0.5, "random"])
def test_empty_batch_comes_back_empty(value) -> None:
    transform = RandomErasing(p=1.0, value=value)
    images = torch.zeros(0, 3, 20, 24, dtype=torch.uint8)
    assert transform(images, generator=torch.Generator().manual_seed(0)).shape == (0, 3, 20, 24)
