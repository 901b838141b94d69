"""The corruption suite: contract, severity ordering on real images, references and the accuracy sweep."""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import Tensor, nn

import augbench
from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.metrics import BENCHMARK_CORRUPTIONS, CORRUPTIONS, EXTRA_CORRUPTIONS, corrupt, corruption_accuracy
from augbench.metrics import corruptions as C

Image = pytest.importorskip("PIL.Image")

NAMES = CORRUPTIONS.names()
RANDOM = {
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur", "fog",
    "elastic_transform",
}  # fmt: skip
RGB_ONLY = {"saturate"}
# The reference ladders of these three are not ordered by pixel distortion (tested separately):
# elastic trades a shrinking affine jitter for a growing local warp, glass blur's smoother
# severities hide part of the shuffle, saturate desaturates at 1-2 and oversaturates at 3-5.
NOT_PIXEL_MONOTONE = {"elastic_transform", "glass_blur", "saturate"}


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mean_abs_change(corrupted: Tensor, images: Tensor) -> float:
    return (corrupted.float() - images.float()).abs().mean().item()


@pytest.fixture(scope="module")
def cifar_changes(cifar: tuple[Tensor, Tensor], single_thread: Callable) -> dict[str, list[float]]:
    """Mean |corrupted - clean| (grey levels) per corruption and severity on 64 CIFAR images."""
    images, _ = cifar
    with single_thread():
        return {
            name: [mean_abs_change(corrupt(images, name, s, seeded()), images) for s in C.SEVERITIES] for name in NAMES
        }


def test_registry_holds_the_suite() -> None:
    assert len(NAMES) >= 10
    assert set(BENCHMARK_CORRUPTIONS) | set(EXTRA_CORRUPTIONS) == set(NAMES)
    assert not set(BENCHMARK_CORRUPTIONS) & set(EXTRA_CORRUPTIONS)
    with pytest.raises(ConfigError, match="did you mean 'fog'"):
        CORRUPTIONS.get("fogg")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (2, 1, 28, 28), (3, 1, 8, 8), (2, 3, 20, 24)])
def test_shape_dtype_kept(name: str, shape: tuple[int, ...]) -> None:
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=seeded(1))
    if name in RGB_ONLY and shape[1] != 3:
        with pytest.raises(InputValueError, match="RGB"):
            corrupt(images, name, 1, seeded())
        return
    for severity in (1, 5):
        corrupted = corrupt(images, name, severity, seeded())
        assert corrupted.shape == images.shape and corrupted.dtype == torch.uint8


@pytest.mark.parametrize("name", sorted(set(NAMES) - NOT_PIXEL_MONOTONE))
def test_severity_is_monotone_on_cifar(name: str, cifar_changes: dict[str, list[float]]) -> None:
    changes = cifar_changes[name]
    assert changes[0] > 0.5, f"{name}: severity 1 changes only {changes[0]:.2f} levels"
    for severity in range(1, 5):
        # at least as much distortion; equal is allowed (motion blur 3 and 4 share sigma 2 px)
        assert changes[severity] >= changes[severity - 1] - 1e-6, f"{name}: {changes}"
    assert changes[4] > changes[0]


def test_saturate_ladder(cifar: tuple[Tensor, Tensor]) -> None:
    images, _ = cifar

    def saturation(batch: Tensor) -> float:
        unit = batch.float() / 255
        value, low = unit.amax(1), unit.amin(1)
        return torch.where(value > 0, (value - low) / value.clamp(min=1e-6), torch.zeros_like(value)).mean().item()

    levels = [saturation(corrupt(images, "saturate", s)) for s in C.SEVERITIES]
    assert levels[1] < levels[0] < saturation(images) < levels[2] < levels[3] < levels[4]


def test_glass_blur_second_pass_adds_distortion(cifar_changes: dict[str, list[float]]) -> None:
    changes = cifar_changes["glass_blur"]
    assert changes[3] > changes[1] and changes[4] > changes[2]  # same sigma, two passes instead of one
    assert min(changes) > 5.0


def test_elastic_distorts_at_every_severity(cifar_changes: dict[str, list[float]]) -> None:
    assert min(cifar_changes["elastic_transform"]) > 5.0


@pytest.mark.parametrize("name", sorted(set(NAMES) - RGB_ONLY))
def test_severity_one_keeps_a_digit_readable(
    name: str, digits_split: tuple[Tensor, Tensor, Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    """At 8x8, severity 1 changes the digits but a clean-trained MLP still reads most of them."""
    _, _, images, labels = digits_split
    corrupted = corrupt(images, name, 1, seeded())
    with torch.no_grad():
        clean = (digits_mlp(digits_normalize(images.float() / 255)).argmax(1) == labels).float().mean().item()
        hit = (digits_mlp(digits_normalize(corrupted.float() / 255)).argmax(1) == labels).float().mean().item()
    assert clean > 0.95
    assert mean_abs_change(corrupted, images) > 0.5
    assert hit > 0.6, f"{name}: severity-1 accuracy {hit:.2f} (clean {clean:.2f})"


@pytest.mark.parametrize("name", NAMES)
def test_determinism(name: str, cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:8]
    first = corrupt(images, name, 3, seeded(5))
    assert torch.equal(first, corrupt(images, name, 3, seeded(5)))
    other = corrupt(images, name, 3, seeded(6))
    assert torch.equal(first, other) == (name not in RANDOM)


def test_default_generator_is_augbench_seeded(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:4]
    augbench.seed(7)
    first = corrupt(images, "gaussian_noise", 2)
    augbench.seed(7)
    assert torch.equal(first, corrupt(images, "gaussian_noise", 2))


def test_non_uint8_small_and_bad_severity_raise() -> None:
    with pytest.raises(InputTypeError, match="uint8"):
        corrupt(torch.rand(1, 3, 8, 8), "fog", 1)
    for severity in (0, 6, 2.0, True):
        with pytest.raises(InputValueError, match="severity"):
            corrupt(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "fog", severity)
    with pytest.raises(InputValueError, match="too small"):
        corrupt(torch.zeros(1, 3, 3, 8, dtype=torch.uint8), "gaussian_noise", 1)
    with pytest.raises(InputValueError, match="1 \\(grey\\) or 3"):
        corrupt(torch.zeros(1, 2, 8, 8, dtype=torch.uint8), "jpeg_compression", 1)


# --- references ---------------------------------------------------------------------------------


def pil_apply(images: Tensor, function: Callable) -> Tensor:
    """``function(PIL image)`` image by image; (C, H, W) uint8 with C = 1 (mode L) or 3 (RGB)."""
    results = []
    for image in images:
        array = image.permute(1, 2, 0).numpy()
        out = np.asarray(function(Image.fromarray(array[..., 0] if image.shape[0] == 1 else array)))
        results.append(torch.from_numpy(out.copy()).reshape(out.shape[0], out.shape[1], -1).permute(2, 0, 1))
    return torch.stack(results)


@pytest.mark.parametrize("side", [32, 28, 8])
def test_pixelate_equals_pillow_box(cifar: tuple[Tensor, Tensor], side: int) -> None:
    images = cifar[0][:8]
    if side != 32:
        images = pil_apply(images, lambda image: image.resize((side, side), Image.BILINEAR))
    for severity in C.SEVERITIES:
        small = int(side * C._PIXELATE[severity - 1])
        expected = pil_apply(
            images, lambda image: image.resize((small, small), Image.BOX).resize((side, side), Image.BOX)
        )
        assert torch.equal(C.pixelate(images, severity), expected)


def test_jpeg_is_close_to_pillow(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:16]
    for severity in (1, 5):

        def roundtrip(image):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=C._JPEG_QUALITY[severity - 1])
            return Image.open(buffer).convert(image.mode)

        for batch, limit in ((images, 1.0), (images[:, :1], 0.4)):
            expected = pil_apply(batch, roundtrip)
            ours = C.jpeg_compression(batch, severity)
            gap = mean_abs_change(ours, expected)
            assert gap < limit and gap < 0.2 * mean_abs_change(expected, batch)


def as_batch(images_hwc: list[np.ndarray]) -> Tensor:
    """A list of (H, W, C) arrays as a (B, C, H, W) tensor."""
    return torch.from_numpy(np.stack(images_hwc)).permute(0, 3, 1, 2)


def truncate(unit: np.ndarray) -> np.ndarray:
    """The reference script's ``np.uint8(clip(x, 0, 1) * 255)``."""
    return np.floor(np.clip(unit, 0, 1) * 255 + C._TRUNCATE_GUARD).astype(np.uint8)


def clipped_zoom(image: np.ndarray, zoom: float) -> np.ndarray:
    """Centre crop of ceil(side / zoom) px, scipy-zoomed (order 1), trimmed to the side (H x W x C)."""
    side = image.shape[0]
    crop = math.ceil(side / zoom)
    top = (side - crop) // 2
    zoomed = ndimage.zoom(image[top : top + crop, top : top + crop], (zoom, zoom, 1), order=1)
    trim = (zoomed.shape[0] - side) // 2
    return zoomed[trim : trim + side, trim : trim + side]


def test_zoom_blur_matches_scipy_zoom(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:8]
    for severity in (1, 5):
        zooms = np.arange(1, C._ZOOM_BLUR[severity - 1] + 0.005, 0.01)
        expected = []
        for image in images.permute(0, 2, 3, 1).numpy():
            unit = (image / 255.0).astype(np.float32)
            expected.append(truncate((unit + sum(clipped_zoom(unit, zoom) for zoom in zooms)) / (len(zooms) + 1)))
        difference = (C.zoom_blur(images, severity).int() - as_batch(expected)).abs()
        assert difference.max() <= 1 and (difference == 0).float().mean() > 0.99  # float32 vs float64 truncation


def test_gaussian_blur_matches_scipy(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:8]
    for severity in (1, 5):
        sigma = C._GAUSSIAN_BLUR[severity - 1]
        expected = [
            truncate(ndimage.gaussian_filter(image / 255.0, (sigma, sigma, 0), mode="nearest", truncate=4.0))
            for image in images.permute(0, 2, 3, 1).numpy()
        ]
        difference = (C.gaussian_blur(images, severity).int() - as_batch(expected)).abs()
        assert difference.max() <= 1 and (difference == 0).float().mean() > 0.99


def hsv_reference(images: Tensor, change: Callable) -> Tensor:
    """colorsys HSV round trip per pixel, truncated like the reference script."""
    pixels = images.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy() / 255
    out = truncate(np.array([colorsys.hsv_to_rgb(*change(*colorsys.rgb_to_hsv(*pixel))) for pixel in pixels]))
    return torch.from_numpy(out).view(images.shape[0], *images.shape[2:], 3).permute(0, 3, 1, 2)


def test_brightness_and_saturate_equal_hsv_round_trip(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:2].clone()
    images[0, :, 0, :3] = torch.tensor([0, 128, 255], dtype=torch.uint8)  # grey pixels, including black
    for severity in (1, 3, 5):
        shift = C._BRIGHTNESS[severity - 1]
        expected = hsv_reference(images, lambda h, s, v: (h, s, min(v + shift, 1.0)))
        assert torch.equal(C.brightness(images, severity), expected)
        factor, offset = C._SATURATE[severity - 1]
        expected = hsv_reference(images, lambda h, s, v: (h, min(max(s * factor + offset, 0.0), 1.0), v))
        assert torch.equal(C.saturate(images, severity), expected)


def test_contrast_formula(cifar: tuple[Tensor, Tensor]) -> None:
    images = cifar[0][:4]
    unit = images.double().numpy() / 255
    means = unit.mean((2, 3), keepdims=True)
    expected = truncate((unit - means) * 0.4 + means)
    assert torch.equal(C.contrast(images, 3), torch.from_numpy(expected))


def test_noise_statistics() -> None:
    grey = torch.full((32, 3, 32, 32), 128, dtype=torch.uint8)
    for severity in (1, 5):
        noise = C.gaussian_noise(grey, severity, seeded()).float() - 128
        assert noise.std().item() == pytest.approx(C._GAUSSIAN_NOISE[severity - 1] * 255, rel=0.02)
        hits = (C.impulse_noise(grey, severity, seeded()) != 128).float().mean().item()
        assert hits == pytest.approx(C._IMPULSE_NOISE[severity - 1], abs=0.005)
        photons = C._SHOT_NOISE[severity - 1]
        shot = C.shot_noise(grey, severity, seeded()).float() / 255
        assert shot.var().item() == pytest.approx((128 / 255) / photons, rel=0.05)  # Poisson: var = mean / lam


def test_motion_blur_streaks_one_way_within_45_degrees() -> None:
    images = torch.zeros(16, 1, 32, 32, dtype=torch.uint8)
    images[:, :, 16, 20] = 255
    blurred = C.motion_blur(images, 5, seeded()).float()
    assert blurred.sum((1, 2, 3)).div(255).sub(1).abs().max() < 0.05  # weights sum to 1
    rows, cols = torch.nonzero(blurred[:, 0] > 0, as_tuple=True)[1:]
    assert (cols <= 20).all() and ((rows - 16).abs() <= 20 - cols).all()


def test_constant_images_stay_constant() -> None:
    images = torch.full((2, 3, 16, 16), 90, dtype=torch.uint8)
    spatial = ("defocus_blur", "gaussian_blur", "zoom_blur", "pixelate", "elastic_transform", "contrast", "motion_blur")
    for name in spatial:
        assert torch.equal(corrupt(images, name, 5, seeded()), images), name
    assert torch.equal(C.fog(torch.zeros_like(images), 5, seeded()), torch.zeros_like(images))


def test_plasma_fractal_spans_unit_interval() -> None:
    maps = C._plasma_fractal(3, 32, 2.0, seeded())
    assert maps.shape == (3, 32, 32)
    assert torch.allclose(maps.flatten(1).amin(1), torch.zeros(3))
    assert torch.allclose(maps.flatten(1).amax(1), torch.ones(3))
    assert not torch.equal(maps[0], maps[1])


def test_defocus_kernel_is_a_normalised_disk() -> None:
    kernel = C._defocus_kernel(1.5, 0.1)
    assert kernel.sum().item() == pytest.approx(1.0)
    assert torch.equal(kernel, kernel.T) and torch.equal(kernel, kernel.flip(0))


# --- corruption_accuracy --------------------------------------------------------------------------


def constant_predictor(images: Tensor) -> Tensor:
    """Always class 0."""
    return torch.nn.functional.one_hot(torch.zeros(images.shape[0], dtype=torch.long), 10).float()


def test_corruption_accuracy_keys_and_values(cifar: tuple[Tensor, Tensor]) -> None:
    images, labels = cifar
    result = corruption_accuracy(
        constant_predictor, images[:20], labels[:20], severities=(1, 2), batch_size=8, generator=seeded()
    )
    share = (labels[:20] == 0).float().mean().item()
    expected_keys = {f"{n}/{s}" for n in BENCHMARK_CORRUPTIONS for s in (1, 2)}
    expected_keys |= {f"{n}/mean" for n in BENCHMARK_CORRUPTIONS}
    assert set(result) == expected_keys | {"mean"}
    assert all(value == pytest.approx(share) for value in result.values())


def test_corruption_accuracy_is_reproducible_and_per_corruption(
    digits_split: tuple[Tensor, Tensor, Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    _, _, images, labels = digits_split
    images, labels = images[:200], labels[:200]

    def predict(batch: Tensor) -> Tensor:
        return digits_mlp(digits_normalize(batch.float() / 255))

    names = ["gaussian_noise", "fog", "contrast"]
    full = corruption_accuracy(predict, images, labels, names=names, batch_size=200, generator=seeded(3))
    assert full == corruption_accuracy(predict, images, labels, names=names, batch_size=200, generator=seeded(3))
    alone = corruption_accuracy(predict, images, labels, names=["fog"], batch_size=200, generator=seeded(3))
    assert alone["fog/mean"] == full["fog/mean"]  # a corruption's draws do not depend on the others run
    rebatched = corruption_accuracy(predict, images, labels, names=["contrast"], batch_size=64, generator=seeded(9))
    assert rebatched["contrast/mean"] == full["contrast/mean"]  # deterministic corruption: batch size is irrelevant
    assert full["contrast/1"] > full["contrast/5"]
    assert full["mean"] == pytest.approx(np.mean([full[f"{n}/{s}"] for n in names for s in C.SEVERITIES]))


def test_corruption_accuracy_rejects_bad_arguments(cifar: tuple[Tensor, Tensor]) -> None:
    images, labels = cifar[0][:4], cifar[1][:4]
    with pytest.raises(ConfigError, match="unknown corruption"):
        corruption_accuracy(constant_predictor, images, labels, names=["snow"])
    with pytest.raises(InputValueError, match="severities"):
        corruption_accuracy(constant_predictor, images, labels, severities=(0, 1))
    with pytest.raises(InputValueError, match="labels"):
        corruption_accuracy(constant_predictor, images, labels[:3])
    with pytest.raises(InputTypeError, match="uint8"):
        corruption_accuracy(constant_predictor, images.float() / 255, labels)
    with pytest.raises(InputValueError, match="batch_size"):
        corruption_accuracy(constant_predictor, images, labels, batch_size=0)
