"""ColorJitter and RandomGrayscale: per-sample factors, the functional kernels, replay, keys, errors."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench import ColorJitter, RandomGrayscale, from_dict
from augbench.errors import InputValueError


def _images(channels: int = 3, count: int = 12) -> torch.Tensor:
    return torch.randint(0, 256, (count, channels, 9, 11), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_jitter_is_the_kernel_chain_with_per_sample_factors() -> None:
    images = _images().float() / 255
    jitter = ColorJitter(0.4, 0.3, 0.5, 0.1)
    params = jitter.sample(images, generator=torch.Generator().manual_seed(1))
    expected = F.adjust_hue(F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(
        images, params["brightness"]), params["contrast"]), params["saturation"]), params["hue"])
    assert torch.allclose(jitter.apply(images, params), expected)
    assert len(set(params["brightness"].tolist())) == len(images)  # one factor per sample
    assert float(params["brightness"].min()) >= 0.6 and float(params["brightness"].max()) <= 1.4
    assert float(params["hue"].abs().max()) <= 0.1


def test_uint8_rounds_once_and_stays_within_one_level_of_float() -> None:
    images = _images()
    jitter = ColorJitter(0.4, 0.4, 0.4, 0.1)
    params = jitter.sample(images, generator=torch.Generator().manual_seed(2))
    as_uint8 = jitter.apply(images, params)
    as_float = jitter.apply(images.float() / 255, params)
    assert as_uint8.dtype == torch.uint8
    assert (as_uint8.float() - (as_float * 255).round()).abs().max() <= 1


def test_grey_images_get_brightness_and_contrast_only_and_grayscale_passes_them() -> None:
    grey = _images(channels=1)
    params = ColorJitter(0.4, 0.4, 0.4, 0.1).sample(grey, generator=torch.Generator().manual_seed(3))
    assert set(params.keys()) == {"brightness", "contrast"}
    assert torch.equal(RandomGrayscale(p=1.0)(grey, generator=torch.Generator()), grey)


def test_grayscale_makes_equal_channels_of_the_luma_for_the_chosen_samples() -> None:
    images = _images()
    out = RandomGrayscale(p=0.5)(images, generator=torch.Generator().manual_seed(4))
    grey = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
    assert 0 < int(grey.sum()) < len(images)
    assert torch.equal(out[grey], F.rgb_to_grayscale(images[grey], num_output_channels=3))
    assert torch.equal(out[~grey], images[~grey])


@pytest.mark.parametrize("transform", [ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8), RandomGrayscale(p=0.3)])
def test_contract_p_zero_keys_masks_and_serialisation(transform) -> None:
    images = _images()
    ids = torch.arange(100, 112)
    keyed = transform(images, keys=ids, seed=5)
    order = torch.tensor([3, 0, 11, 7])
    assert torch.equal(transform(images[order], keys=ids[order], seed=5), keyed[order])  # keyed draws
    assert torch.equal(type(transform)(p=0.0)(images, generator=torch.Generator()), images)  # p = 0 is the identity
    masks = torch.randint(0, 4, (12, 1, 9, 11))
    params = transform.sample(images, generator=torch.Generator().manual_seed(6))
    assert torch.equal(transform.apply(masks, params, target="mask"), masks)  # values change, geometry does not
    rebuilt = from_dict(transform.to_dict())
    assert torch.equal(rebuilt(images, keys=ids, seed=5), keyed)
    shared = type(transform)(p=1.0, same_on_batch=True)
    same = shared(images[:1].expand(6, -1, -1, -1).contiguous(), generator=torch.Generator().manual_seed(7))
    assert len(torch.unique(same.flatten(1), dim=0)) == 1


@pytest.mark.parametrize(("build", "message"), [
    (lambda: ColorJitter(brightness=-0.1), "brightness=-0.1 must be a number finite and >= 0"),
    (lambda: ColorJitter(hue=0.6), r"hue=0.6 must be a number in \[0, 0.5\]"),
    (lambda: ColorJitter(contrast=float("nan")), "contrast=nan"),
    (lambda: RandomGrayscale(p=1.5), "p=1.5"),
])
def test_bad_options_are_one_line(build, message: str) -> None:
    with pytest.raises(InputValueError, match=message):
        build()


@pytest.mark.parametrize("transform", [ColorJitter(0.4), RandomGrayscale(p=1.0)])
def test_rgba_is_refused_with_the_fix(transform) -> None:
    with pytest.raises(InputValueError, match=r"grey \(1\) or RGB \(3\).*x\[:, :3\]"):
        transform(torch.zeros(2, 4, 5, 5, dtype=torch.uint8), generator=torch.Generator())
