"""torchvision's standard deterministic transforms: Normalize, ToDtype, Resize, CenterCrop, Pad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augbench.errors import InputValueError
from augbench.serialization import from_dict, to_dict
from augbench.transforms import CenterCrop, Compose, Normalize, Pad, Resize, ToDtype

IMAGES = torch.randint(0, 256, (3, 3, 37, 53), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]


def _reference_normalize(images: torch.Tensor) -> torch.Tensor:
    return (images.double() / 255 - torch.tensor(MEAN).double().view(1, 3, 1, 1)) / torch.tensor(STD).double().view(1, 3, 1, 1)


def test_normalize_of_uint8_folds_in_the_scaling_and_equals_the_formula() -> None:
    reference = _reference_normalize(IMAGES)
    for pipeline in (Normalize(MEAN, STD), Compose([ToDtype(torch.float32, scale=True), Normalize(MEAN, STD)])):
        out = pipeline(IMAGES)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), reference, atol=1e-5, rtol=0)
    floats = IMAGES.float() / 255
    torch.testing.assert_close(Normalize(MEAN, STD)(floats).double(), reference, atol=1e-5, rtol=0)


def test_to_dtype_scales_like_torchvision() -> None:
    floats = ToDtype(torch.float32, scale=True)(IMAGES)
    assert torch.equal(floats, IMAGES.float() / 255)
    assert torch.equal(ToDtype("uint8", scale=True)(floats), IMAGES)
    assert torch.equal(ToDtype(torch.float32, scale=False)(IMAGES), IMAGES.float())


def test_resize_int_is_the_smaller_edge_and_max_size_caps_the_longer() -> None:
    assert Resize(32)(IMAGES).shape == (3, 3, 32, 45)  # int(32 * 53 / 37) = 45
    assert Resize(32, max_size=40)(IMAGES).shape == (3, 3, 28, 40)  # int(40 * 32 / 45) = 28
    assert Resize([20, 30])(IMAGES).shape == (3, 3, 20, 30)
    mask = (IMAGES[:, :1] > 128).to(torch.uint8)
    assert set(Resize(32).apply(mask, Resize(32).sample(mask), target="mask").unique().tolist()) <= {0, 1}


def test_center_crop_takes_the_rounded_centre_and_pads_a_larger_window() -> None:
    out = CenterCrop(24)(IMAGES)
    top, left = int(round((37 - 24) / 2)), int(round((53 - 24) / 2))
    assert torch.equal(out, IMAGES[:, :, top:top + 24, left:left + 24])
    big = CenterCrop([41, 53])(IMAGES)
    assert big.shape == (3, 3, 41, 53) and torch.equal(big[:, :, 2:39], IMAGES) and not big[:, :, :2].any()


@pytest.mark.parametrize(("mode", "numpy_mode"), [("constant", "constant"), ("edge", "edge"), ("reflect", "reflect"),
                                                  ("symmetric", "symmetric")])
def test_pad_modes_match_numpy(mode: str, numpy_mode: str) -> None:
    out = Pad([1, 2, 3, 4], fill=7, padding_mode=mode)(IMAGES)
    extra = {"constant_values": 7} if mode == "constant" else {}
    expected = np.pad(IMAGES.numpy(), ((0, 0), (0, 0), (2, 4), (1, 3)), mode=numpy_mode, **extra)
    assert torch.equal(out, torch.from_numpy(expected))


def test_standard_transforms_serialise_and_rebuild() -> None:
    pipeline = Compose([Resize(40), CenterCrop(32), Pad(2, padding_mode="edge"), ToDtype("float32"), Normalize(MEAN, STD)])
    rebuilt = from_dict(to_dict(pipeline))
    assert torch.equal(rebuilt(IMAGES), pipeline(IMAGES)) and rebuilt(IMAGES).shape == (3, 3, 36, 36)


@pytest.mark.parametrize(
    ("build", "message"),
    [(lambda: Normalize([0.5, 0.5], [0.2]), "one value per channel"), (lambda: Normalize([0.5], [0.0]), "std > 0"),
     (lambda: Resize(0), "size"), (lambda: Pad(-1), "padding"), (lambda: Pad(1, padding_mode="wrap"), "padding_mode"),
     (lambda: ToDtype("int7"), "dtype"), (lambda: Pad(40, padding_mode="reflect")(IMAGES), "pad less")],
)
def test_bad_arguments_are_one_line(build: object, message: str) -> None:
    with pytest.raises(InputValueError, match=message) as error:
        build()  # type: ignore[operator]
    assert "\n" not in str(error.value)


def test_grayscale_and_gaussian_blur_follow_torchvision() -> None:
    from augbench import functional as F
    from augbench.transforms import GaussianBlur, Grayscale

    assert torch.equal(Grayscale()(IMAGES), F.rgb_to_grayscale(IMAGES))
    assert Grayscale(3)(IMAGES).shape == IMAGES.shape and Grayscale(3)(IMAGES[:, :1]).shape == IMAGES.shape
    blur = GaussianBlur(5, sigma=(0.5, 1.5))
    params = blur.sample(IMAGES, keys=torch.arange(3), seed=0)
    sigma = params["sigma"]
    assert ((0.5 <= sigma) & (sigma <= 1.5)).all() and len(set(sigma.tolist())) == 3  # one sigma per sample
    expected = torch.cat([F.gaussian_blur(IMAGES[i:i + 1], [5, 5], float(sigma[i])) for i in range(3)])
    assert torch.equal(blur.apply(IMAGES, params), expected)
    with pytest.raises(InputValueError, match="odd"):
        GaussianBlur(4)
