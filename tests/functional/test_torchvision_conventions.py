"""The non-geometric kernels against torchvision's conventions (no torchvision import).

Signatures are compared with torchvision 0.29.1's, written out below. Where augbench follows
torchvision, a test shows the convention; where it deliberately differs (Pillow's uint8
arithmetic, float posterize, noise rounding), ``test_deviation_*`` shows the input on which the
two disagree, with torchvision's value in the comment.
"""

from __future__ import annotations

import inspect

import pytest
import torch

import augbench
import augbench.functional as F
from augbench.errors import InputValueError

REQUIRED = inspect.Parameter.empty

TORCHVISION_SIGNATURES: dict[str, list[tuple[str, object]]] = {
    "adjust_brightness": [("inpt", REQUIRED), ("brightness_factor", REQUIRED)],
    "adjust_contrast": [("inpt", REQUIRED), ("contrast_factor", REQUIRED)],
    "adjust_saturation": [("inpt", REQUIRED), ("saturation_factor", REQUIRED)],
    "adjust_hue": [("inpt", REQUIRED), ("hue_factor", REQUIRED)],
    "adjust_sharpness": [("inpt", REQUIRED), ("sharpness_factor", REQUIRED)],
    "autocontrast": [("inpt", REQUIRED)],
    "equalize": [("inpt", REQUIRED)],
    "invert": [("inpt", REQUIRED)],
    "posterize": [("inpt", REQUIRED), ("bits", REQUIRED)],
    "solarize": [("inpt", REQUIRED), ("threshold", REQUIRED)],
    "rgb_to_grayscale": [("inpt", REQUIRED), ("num_output_channels", 1)],
    "gaussian_blur": [("inpt", REQUIRED), ("kernel_size", REQUIRED), ("sigma", None)],
    "gaussian_noise": [("inpt", REQUIRED), ("mean", 0.0), ("sigma", 0.1), ("clip", True)],
}
"""``torchvision.transforms.v2.functional`` 0.29.1: parameter names and defaults, in order."""


def _pixels(*values: float, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """One image ``(C, 1, 1)`` with the given channel values."""
    return torch.tensor(values, dtype=dtype).view(-1, 1, 1)


@pytest.mark.parametrize("name", sorted(TORCHVISION_SIGNATURES))
def test_signature_is_torchvisions(name):
    parameters = list(inspect.signature(getattr(F, name)).parameters.values())
    expected = TORCHVISION_SIGNATURES[name]
    assert [(p.name, p.default) for p in parameters[: len(expected)]] == expected
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[: len(expected)])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[len(expected) :])  # augbench's extras


def test_torchvision_style_calls():
    images = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert F.gaussian_blur(images, [3, 5]).shape == (3, 8, 8)
    assert F.gaussian_blur(images, 3, [0.8, 1.2]).shape == (3, 8, 8)
    assert F.rgb_to_grayscale(images, 3).shape == (3, 8, 8)
    assert F.gaussian_noise(images.float() / 255, 0.0, 0.1, False).shape == (3, 8, 8)
    assert F.adjust_brightness(inpt=images, brightness_factor=0.5).shape == (3, 8, 8)


def test_gaussian_noise_without_generator_uses_augbenchs_default_generator():
    images = torch.full((2, 3, 8, 8), 0.5)
    torch_state = torch.get_rng_state()
    augbench.seed(4)
    first = F.gaussian_noise(images)
    augbench.seed(4)
    assert torch.equal(F.gaussian_noise(images), first) and not torch.equal(first, images)
    assert torch.equal(torch.get_rng_state(), torch_state)  # torch's global RNG is never used
    with pytest.raises(InputValueError, match="not both"):
        F.gaussian_noise(images, generator=torch.Generator(), noise=torch.zeros(images.shape))


@pytest.mark.parametrize("kernel", [F.adjust_saturation, F.adjust_hue])
def test_grey_images_pass_saturation_and_hue_unchanged(kernel):
    grey = torch.randint(0, 256, (2, 1, 5, 5), dtype=torch.uint8)
    assert torch.equal(kernel(grey, 0.3), grey) and torch.equal(kernel(grey.float() / 255, 0.3), grey.float() / 255)
    with pytest.raises(InputValueError):
        kernel(grey, 0.7 if kernel is F.adjust_hue else -1.0)  # the factor is still checked


def test_float_to_levels_is_torchvisions_conversion():
    # torchvision's to_dtype(uint8, scale=True): floor(255.999 x); 0.9 / 255 -> 0, 253.9 / 255 -> 254, 254.5 / 255 -> 255.
    floats = torch.rand(4, 3, 9, 9, generator=torch.Generator().manual_seed(1))
    floats[0, 0, 0, :3] = torch.tensor([0.9 / 255, 253.9 / 255, 254.5 / 255])
    levels = (floats * 255.999).to(torch.uint8)
    assert levels[0, 0, 0, :3].tolist() == [0, 254, 255]
    torch.testing.assert_close(F.equalize(floats), F.equalize(levels).float() / 255, atol=0, rtol=0)
    torch.testing.assert_close(F.posterize(floats, 3), F.posterize(levels, 3).float() / 255, atol=0, rtol=0)
    rgb = torch.randint(0, 256, (4, 3, 9, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    expected = (F.adjust_hue(rgb.float() / 255, 0.2) * 255.999).to(torch.uint8)
    assert torch.equal(F.adjust_hue(rgb, 0.2), expected)


def test_solarize_accepts_thresholds_above_white():
    # torchvision refuses threshold > 255 (uint8) / 1.0 (float); augbench treats it as the identity.
    images = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(F.solarize(images, 256), images)


# -- deviations: Pillow's arithmetic where torchvision's differs ----------------------------------


def test_deviation_grayscale_uint8_rounds_like_pillow():
    # Pillow: (19595 + 38470 + 7471 + 2**15) >> 16 = 1; torchvision: 0.2989 + 0.587 + 0.114 = 0.9999 -> 0.
    assert F.rgb_to_grayscale(_pixels(1, 1, 1)).item() == 1


def test_deviation_float_grey_uses_itu_weights():
    # ITU-R 601-2 as Pillow: red weighs 0.299 (torchvision: 0.2989), in rgb_to_grayscale, contrast and saturation.
    red = _pixels(1.0, 0.0, 0.0, dtype=torch.float64)
    assert F.rgb_to_grayscale(red).item() == pytest.approx(0.299, abs=1e-12)
    assert F.adjust_saturation(red, 0.0)[1].item() == pytest.approx(0.299, abs=1e-12)
    assert F.adjust_contrast(red, 0.0)[2].item() == pytest.approx(0.299, abs=1e-12)


def test_deviation_contrast_uint8_rounds_the_grey_mean():
    # Pillow: mean 0.5 rounds to 1, so factor 0 gives 1; torchvision blends with 0.5 and truncates to 0.
    assert F.adjust_contrast(torch.tensor([[[0, 1]]], dtype=torch.uint8), 0.0).flatten().tolist() == [1, 1]


def test_deviation_saturation_uint8_blends_with_pillows_grey():
    # Pillow's grey of (1, 1, 1) is 1; torchvision floors its 0.9999 to 0, so factor 0 gives (0, 0, 0).
    assert F.adjust_saturation(_pixels(1, 1, 1), 0.0).flatten().tolist() == [1, 1, 1]


def test_deviation_autocontrast_uint8_uses_pillows_table():
    # Pillow: floor(1 * 255 / 1) = 255; torchvision: 1 / (1 / 255) in float32 = 254.99998 -> 254.
    assert F.autocontrast(torch.tensor([[[0, 1]]], dtype=torch.uint8)).flatten().tolist() == [0, 255]


def test_deviation_float_posterize_keeps_8_bit_levels():
    # 8-bit result / 255: 200 & 0b10000000 = 128 -> 128 / 255; torchvision: floor(2 * 200 / 255) / 2 = 0.5.
    assert F.posterize(_pixels(200 / 255, dtype=torch.float64), 1).item() == pytest.approx(128 / 255, abs=1e-12)


def test_deviation_uint8_noise_is_rounded():
    # An offset of +-0.6 levels moves 100 to 101 / 99; torchvision truncates the noise to 0 and keeps 100.
    images = torch.full((2, 1, 1, 1), 100, dtype=torch.uint8)
    noisy = F.gaussian_noise(images, torch.tensor([0.6, -0.6]) / 255, 0.0, noise=torch.zeros(2, 1, 1, 1))
    assert noisy.flatten().tolist() == [101, 99]


def test_deviation_uint8_noise_always_saturates():
    # torchvision's clip=False wraps uint8 around (250 + 10 -> 4); augbench refuses it in one line.
    with pytest.raises(InputValueError, match="clip=True or float images"):
        F.gaussian_noise(torch.full((1, 1, 1, 1), 250, dtype=torch.uint8), 10 / 255, 0.0, clip=False)
