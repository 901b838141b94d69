"""Colour and intensity kernels against Pillow's ImageOps / ImageEnhance on real CIFAR-10 images."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

import augbench.functional as F
from augbench.errors import InputTypeError, InputValueError

ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
ImageOps = pytest.importorskip("PIL.ImageOps")

ENHANCE = {
    "adjust_brightness": (F.adjust_brightness, ImageEnhance.Brightness),
    "adjust_contrast": (F.adjust_contrast, ImageEnhance.Contrast),
    "adjust_saturation": (F.adjust_saturation, ImageEnhance.Color),
}
FACTORS = [0.0, 0.1, 0.55, 1.0, 1.37, 1.9]


@pytest.mark.parametrize("name", sorted(ENHANCE))
@pytest.mark.parametrize("factor", FACTORS)
def test_enhance_matches_pillow(cifar64, pil_reference, name, factor):
    kernel, enhancer = ENHANCE[name]
    reference = pil_reference.apply(cifar64, lambda im: enhancer(im).enhance(factor))
    pil_reference.check(kernel(cifar64, factor), reference)


@pytest.mark.parametrize("threshold", [0, 64, 128, 200, 255, 256])
def test_solarize_matches_pillow(cifar64, pil_reference, threshold):
    reference = pil_reference.apply(cifar64, lambda im: ImageOps.solarize(im, threshold))
    pil_reference.check(F.solarize(cifar64, threshold), reference)


@pytest.mark.parametrize("bits", [1, 2, 4, 6, 8])
def test_posterize_matches_pillow(cifar64, pil_reference, bits):
    reference = pil_reference.apply(cifar64, lambda im: ImageOps.posterize(im, bits))
    pil_reference.check(F.posterize(cifar64, bits), reference)


def test_invert_and_grayscale_match_pillow(cifar64, pil_reference):
    pil_reference.check(F.invert(cifar64), pil_reference.apply(cifar64, ImageOps.invert))
    pil_reference.check(F.rgb_to_grayscale(cifar64), pil_reference.apply(cifar64, lambda im: im.convert("L")))
    grey3 = F.rgb_to_grayscale(cifar64, num_output_channels=3)
    assert grey3.shape == cifar64.shape and torch.equal(grey3[:, 0], grey3[:, 2])


def test_grey_images_match_pillow_mode_l(cifar64, pil_reference):
    grey = F.rgb_to_grayscale(cifar64[:16])
    for kernel, enhancer in (ENHANCE["adjust_brightness"], ENHANCE["adjust_contrast"]):
        pil_reference.check(kernel(grey, 1.6), pil_reference.apply(grey, lambda im: enhancer(im).enhance(1.6)))
    pil_reference.check(F.solarize(grey, 100), pil_reference.apply(grey, lambda im: ImageOps.solarize(im, 100)))
    pil_reference.check(F.posterize(grey, 3), pil_reference.apply(grey, lambda im: ImageOps.posterize(im, 3)))
    assert torch.equal(F.rgb_to_grayscale(grey), grey)


def test_solarize_add_follows_tf_reference(cifar64):
    images = cifar64[:16]
    ours = F.solarize_add(images, torch.linspace(-60, 110, 16), threshold=torch.full((16,), 128.0))
    array = images.numpy().astype(np.int64)
    addition = np.linspace(-60, 110, 16).round().astype(np.int64)[:, None, None, None]
    expected = np.where(array < 128, np.clip(array + addition, 0, 255), array)
    assert torch.equal(ours, torch.from_numpy(expected.astype(np.uint8)))
    assert torch.equal(F.solarize_add(images, 0), images)


def _hue_reference(images: torch.Tensor, shifts: list[float]) -> torch.Tensor:
    """Hue shift pixel by pixel with the standard library's colorsys, floats in 0-1."""
    out = np.empty(images.shape, dtype=np.float64)
    array = images.double().numpy()
    for b, shift in enumerate(shifts):
        for y in range(images.shape[2]):
            for x in range(images.shape[3]):
                h, s, v = colorsys.rgb_to_hsv(*array[b, :, y, x])
                out[b, :, y, x] = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
    return torch.from_numpy(out)


def test_adjust_hue_matches_colorsys(cifar64):
    shifts = [-0.5, -0.2, 0.0, 0.13, 0.31, 0.5]
    images = cifar64[:6, :, :16, :16]
    reference = _hue_reference(images.double() / 255, shifts)
    ours_float = F.adjust_hue(images.double() / 255, torch.tensor(shifts, dtype=torch.float64))
    torch.testing.assert_close(ours_float, reference, atol=1e-9, rtol=0)
    ours_uint8 = F.adjust_hue(images, torch.tensor(shifts))
    assert ((ours_uint8.int() - (reference * 255).round().int()).abs() <= 1).all()


PER_SAMPLE = {
    "solarize": (F.solarize, [0.0, 40.0, 128.0, 255.0, 256.0, 90.0]),
    "solarize_add": (F.solarize_add, [0.0, 30.0, -20.0, 110.0, 255.0, 5.0]),
    "posterize": (F.posterize, [0, 1, 3, 5, 7, 8]),
    "adjust_brightness": (F.adjust_brightness, [0.0, 0.3, 1.0, 1.5, 1.9, 0.8]),
    "adjust_contrast": (F.adjust_contrast, [0.0, 0.3, 1.0, 1.5, 1.9, 0.8]),
    "adjust_saturation": (F.adjust_saturation, [0.0, 0.3, 1.0, 1.5, 1.9, 0.8]),
    "adjust_hue": (F.adjust_hue, [-0.5, -0.1, 0.0, 0.2, 0.4, 0.5]),
}


@pytest.mark.parametrize("name", sorted(PER_SAMPLE))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_per_sample_params_equal_separate_calls(cifar64, name, dtype):
    kernel, values = PER_SAMPLE[name]
    images = cifar64[: len(values)]
    images = images if dtype == torch.uint8 else images.float() / 255
    if name in ("solarize", "solarize_add") and dtype != torch.uint8:
        values = [v / 255 for v in values]
    batched = kernel(images, torch.tensor(values))
    separate = torch.cat([kernel(images[i : i + 1], value) for i, value in enumerate(values)])
    torch.testing.assert_close(batched, separate, atol=1e-6, rtol=0)


# uint8 blends truncate (< 1 level) and use a grey rounded to whole levels (<= 0.5 level,
# scaled by |1 - factor|); uint8 hue quantises as torchvision does, floor(255.999 x) (< 1 level);
# the float path does neither.
FLOAT_VS_UINT8 = [
    (F.adjust_brightness, 1.3, 1.0),
    (F.adjust_contrast, 0.4, 1.3),
    (F.adjust_contrast, 1.8, 1.4),
    (F.adjust_saturation, 1.7, 1.35),
    (F.adjust_saturation, 0.2, 1.4),
    (F.adjust_hue, 0.3, 1.0),
    (F.invert, None, 0.0),
    (F.posterize, 3, 0.0),
    (F.rgb_to_grayscale, None, 0.5),
]


@pytest.mark.parametrize(("kernel", "param", "tolerance"), FLOAT_VS_UINT8)
def test_float_path_agrees_with_uint8(cifar64, kernel, param, tolerance):
    args = () if param is None else (param,)
    from_uint8 = kernel(cifar64, *args).float()
    from_float = kernel(cifar64.float() / 255, *args) * 255
    assert (from_float - from_uint8).abs().max() <= tolerance + 1e-3
    assert (from_float - from_uint8).abs().mean() <= 0.6


def test_solarize_float_uses_image_scale(cifar64):
    for threshold in (0, 77, 128, 255, 256):
        expected = F.solarize(cifar64, threshold).float() / 255
        torch.testing.assert_close(F.solarize(cifar64.float() / 255, threshold / 255), expected)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_identity_magnitudes(cifar64, dtype):
    images = cifar64[:8] if dtype == torch.uint8 else cifar64[:8].to(dtype) / 255
    white = 255 if dtype == torch.uint8 else 1.0
    assert F.identity(images) is images
    for result in (
        F.adjust_brightness(images, 1.0),
        F.adjust_contrast(images, 1.0),
        F.adjust_saturation(images, 1.0),
        F.solarize(images, 256 * white / 255),
        F.solarize_add(images, 0),
        F.posterize(images, 8),
        F.invert(F.invert(images)),
    ):
        assert result.dtype == dtype and result.shape == images.shape
        torch.testing.assert_close(result, images, atol=1e-6 if dtype != torch.uint8 else 0, rtol=0)
    torch.testing.assert_close(F.adjust_hue(images, 0.0), images, atol=1e-6 if dtype != torch.uint8 else 0, rtol=0)


def test_extremes(cifar64):
    images = cifar64[:4]
    assert (F.adjust_brightness(images, 0.0) == 0).all()
    assert torch.equal(F.solarize(images, 0), F.invert(images))
    assert (F.posterize(images, 0) == 0).all()
    grey = F.adjust_saturation(images, 0.0)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    flat = F.adjust_contrast(images, 0.0)
    assert (flat == flat[:, :1, :1, :1]).all()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda x: F.adjust_brightness(x, -0.1), InputValueError),
        (lambda x: F.adjust_contrast(x, float("nan")), InputValueError),
        (lambda x: F.adjust_saturation(x, torch.tensor([1.0, -1.0])), InputValueError),
        (lambda x: F.adjust_saturation(x, torch.ones(3)), InputValueError),
        (lambda x: F.adjust_hue(x, 0.7), InputValueError),
        (lambda x: F.posterize(x, 9), InputValueError),
        (lambda x: F.posterize(x, 2.5), InputValueError),
        (lambda x: F.solarize(x, -1), InputValueError),
        (lambda x: F.solarize_add(x, 300), InputValueError),
        (lambda x: F.adjust_saturation(x[:, :2], 0.5), InputValueError),
        (lambda x: F.adjust_hue(x[:, :2], 0.1), InputValueError),
        (lambda x: F.adjust_contrast(torch.cat([x, x[:, :1]], 1), 0.5), InputValueError),
        (lambda x: F.rgb_to_grayscale(x, num_output_channels=2), InputValueError),
        (lambda x: F.adjust_brightness(x[0, 0], 0.5), InputValueError),
        (lambda x: F.adjust_brightness(x[0], torch.ones(2)), InputValueError),
        (lambda x: F.adjust_brightness(x.int(), 0.5), InputTypeError),
        (lambda x: F.invert(x.long()), InputTypeError),
    ],
)
def test_bad_input_raises_one_line(cifar64, call, error):
    with pytest.raises(error) as info:
        call(cifar64[:2])
    assert "\n" not in str(info.value)
