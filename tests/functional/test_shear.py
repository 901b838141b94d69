"""shear_x/y and translate_x/y against Pillow's Image.transform(AFFINE, NEAREST) on CIFAR-10 images."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench.errors import InputValueError

Image = pytest.importorskip("PIL.Image")

GREY = (128, 128, 128)


def _pil_affine(data: tuple[float, ...]):
    return lambda im: im.transform(im.size, Image.Transform.AFFINE, data, resample=Image.Resampling.NEAREST, fillcolor=GREY)


# 0.2 and -0.2 are 13107 / 65536 in Pillow's 16.16 fixed point, so every fifth row lands a pixel
# over from the exact shear; 0.6 puts sources exactly halfway between pixels.
@pytest.mark.parametrize("factor", [-0.3, -0.2, -0.05, 0.1, 0.2, 0.3, 0.6, 0.99])
def test_shear_matches_pillow(cifar64, pil_reference, factor):
    reference_x = pil_reference.apply(cifar64, _pil_affine((1, factor, 0, 0, 1, 0)))
    assert pil_reference.check(F.shear_x(cifar64, factor, fill=128), reference_x) == 1.0
    reference_y = pil_reference.apply(cifar64, _pil_affine((1, 0, 0, factor, 1, 0)))
    assert pil_reference.check(F.shear_y(cifar64, factor, fill=128), reference_y) == 1.0


@pytest.mark.parametrize("pixels", [-14, -3, 1, 10, 40, 2.5, -0.3, 0.5])
def test_translate_matches_pillow_with_torchvision_sign(cifar64, pil_reference, pixels):
    reference_x = pil_reference.apply(cifar64, _pil_affine((1, 0, -pixels, 0, 1, 0)))
    assert pil_reference.check(F.translate_x(cifar64, pixels, fill=128), reference_x) == 1.0
    reference_y = pil_reference.apply(cifar64, _pil_affine((1, 0, 0, 0, 1, -pixels)))
    assert pil_reference.check(F.translate_y(cifar64, pixels, fill=128), reference_y) == 1.0


def test_translate_moves_content_right_and_down(cifar64):
    images = cifar64[:2]
    assert torch.equal(F.translate_x(images, 5)[..., 5:], images[..., :-5])
    assert (F.translate_x(images, 5)[..., :5] == 0).all()
    assert torch.equal(F.translate_y(images, -4)[..., :-4, :], images[..., 4:, :])


def test_shear_about_centre(cifar64, pil_reference):
    factor, centre = 0.15, (16.0, 16.0)
    reference = pil_reference.apply(cifar64[:8], _pil_affine((1, factor, -factor * centre[1], 0, 1, 0)))
    assert pil_reference.check(F.shear_x(cifar64[:8], factor, fill=128, center=centre), reference) == 1.0


@pytest.mark.parametrize("kernel", [F.shear_x, F.shear_y, F.translate_x, F.translate_y])
def test_per_sample_identity_and_dtypes(cifar64, kernel):
    values = [0.0, -0.3, 0.25, 0.55] if kernel in (F.shear_x, F.shear_y) else [0.0, -7.0, 3.0, 12.0]
    images = cifar64[: len(values)]
    batched = kernel(images, torch.tensor(values), fill=(10, 20, 30))
    separate = torch.cat([kernel(images[i : i + 1], v, fill=(10, 20, 30)) for i, v in enumerate(values)])
    assert torch.equal(batched, separate)
    assert torch.equal(batched[0], images[0])  # 0 is the identity
    floats = kernel(images.double() / 255, torch.tensor(values), fill=(10 / 255, 20 / 255, 30 / 255))
    assert floats.dtype == torch.float64
    torch.testing.assert_close(floats * 255, batched.double())  # nearest only moves pixels
    masks = kernel(images[:, :1].long(), torch.tensor(values))
    assert masks.dtype == torch.int64 and masks.shape == (len(values), 1, 32, 32)
    smooth = kernel(images, torch.tensor(values), interpolation="bilinear")
    assert smooth.dtype == torch.uint8 and smooth.shape == images.shape


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.shear_x(x, float("nan")),
        lambda x: F.shear_y(x, torch.ones(3)),
        lambda x: F.shear_x(x, 0.1, interpolation="lanczos"),
        lambda x: F.shear_x(x, 0.1, center=(1.0,)),
        lambda x: F.translate_x(x, float("inf")),
        lambda x: F.translate_y(x[0, 0], 2),
        lambda x: F.translate_y(x.long(), 2, interpolation="bilinear"),
    ],
)
def test_bad_params_raise_one_line(cifar64, call):
    with pytest.raises(InputValueError) as info:
        call(cifar64[:2])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(37, 53), (64, 48)])
def test_shear_matches_pillow_on_non_square_images(cifar64, pil_reference, shape):
    images = pil_reference.apply(cifar64[:16], lambda im: im.resize(shape[::-1], Image.Resampling.BICUBIC))
    for factor in (0.2, -0.2, 0.45):
        reference_x = pil_reference.apply(images, _pil_affine((1, factor, 0, 0, 1, 0)))
        assert pil_reference.check(F.shear_x(images, factor, fill=128), reference_x) == 1.0
        reference_y = pil_reference.apply(images, _pil_affine((1, 0, 0, factor, 1, 0)))
        assert pil_reference.check(F.shear_y(images, factor, fill=128), reference_y) == 1.0


def test_per_sample_factors_keep_float64_precision(cifar64, pil_reference):
    # (B,) float64 factors are used as given, not rounded to float32 first
    factors = torch.tensor([0.2, -0.2, 0.1 + 1e-9, 0.3], dtype=torch.float64)
    images = cifar64[:4]
    result = F.shear_x(images, factors, fill=128)
    for index, factor in enumerate(factors.tolist()):
        expected = pil_reference.apply(images[index : index + 1], _pil_affine((1, factor, 0, 0, 1, 0)))
        assert torch.equal(result[index : index + 1], expected)


@pytest.mark.parametrize("kernel", [F.shear_x, F.shear_y, F.translate_x, F.translate_y])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_empty_batch_gives_an_empty_batch(kernel, interpolation):
    result = kernel(torch.zeros(0, 3, 20, 30, dtype=torch.uint8), torch.zeros(0), interpolation)
    assert result.shape == (0, 3, 20, 30) and result.dtype == torch.uint8
