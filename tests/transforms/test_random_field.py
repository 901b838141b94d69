"""RandomFieldAugment (card: shared/methods/policies.md, "Random Field Augmentations").

The card's checks: sigma = 0 is the identity; an infinite length scale is a global affine warp
(against augbench's own ``affine`` kernel with the same per-sample parameters); the fields are
normalised (amplitude independent of the length scale, the pitfall the card names); one field
per sample, not per batch; keyed draws replay. Plus the HSV colour fields against ``colorsys``,
the strength trade-off's monotone distortion, serialisation, specs (policies, SimCLR views) and
one-line errors. The shared contract (dtype, p, same_on_batch, masks, Compose) runs in
tests/transforms/test_contract.py.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as nnf

import augbench.functional as F
from augbench import AugbenchError, Compose, HorizontalFlip, from_dict, load, save
from augbench.data import load_dataset
from augbench.functional.random_field import correlation_factor, field_noise_shape, gaussian_random_field, local_affine, local_color
from augbench.methods import MethodContext, build_method
from augbench.policies.build import build_transform, resolve_transform
from augbench.transforms import RandomFieldAugment

NO_COLOR = {"hue": 0.0, "saturation": 0.0, "brightness": 0.0}
NO_WARP = {"rotation": 0.0, "translate": 0.0}
ALL_ZERO = {**NO_COLOR, **NO_WARP}
WARP = {"rotation": 12.0, "scale": 0.08, "shear": 6.0, "translate": 0.05}


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(batch: int = 6, channels: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (batch, channels, size, size), dtype=torch.uint8, generator=_generator(seed))


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("digits").inputs[:64]


# -- sigma = 0 is the identity --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_zero_sigma_is_exactly_the_identity(dtype: torch.dtype, channels: int) -> None:
    images = _images(channels=channels)
    images = images if dtype == torch.uint8 else (images.float() / 255).to(dtype)
    for length_scale in (0.5, 4.0, math.inf):
        for p in (1.0, 0.5):
            transform = RandomFieldAugment(length_scale, **ALL_ZERO, p=p)
            params = transform.sample(images, generator=_generator())
            assert set(params) <= {"apply"}  # no field drawn at all
            assert torch.equal(transform.apply(images, params), images)
    mask = torch.arange(16 * 16).view(1, 1, 16, 16).expand(6, -1, -1, -1)
    transform = RandomFieldAugment(**ALL_ZERO)
    assert torch.equal(transform.apply(mask, transform.sample(images), target="mask"), mask)


def test_zero_sigma_of_one_field_leaves_that_parameter_out() -> None:
    params = RandomFieldAugment(rotation=5.0, translate=0.0, **NO_COLOR).sample(_images(), generator=_generator())
    assert set(params) == {"angle"}
    grey = RandomFieldAugment(hue=0.1, saturation=0.2, brightness=0.3).sample(_images(channels=1), generator=_generator())
    assert set(params) <= set(grey) and {"hue", "saturation"}.isdisjoint(grey)  # grey: value field only


# -- infinite length scale = global affine -------------------------------------------------------


def _constant(field: torch.Tensor) -> torch.Tensor:
    """The per-sample value of a field that is constant over each image (checked)."""
    assert bool((field == field[:, :1, :1]).all()), "an infinite length scale must give constant fields"
    return field[:, 0, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_infinite_length_scale_equals_the_affine_kernel_with_the_same_parameters(dtype: torch.dtype) -> None:
    images = _images(64, 3, 20, seed=3)
    images = images if dtype == torch.uint8 else images.float() / 255
    transform = RandomFieldAugment(math.inf, rotation=20.0, scale=0.1, shear=8.0, translate=0.1, **NO_COLOR)
    params = transform.sample(images, generator=_generator(4))
    angle, scale, shear_x, shear_y, shift_x, shift_y = (
        _constant(params[name]) for name in ("angle", "scale", "shear_x", "shear_y", "translate_x", "translate_y")
    )
    assert float(angle.std()) > 10 and float(shift_x.abs().max()) > 2  # real warps, several pixels
    expected = F.affine(images, angle, (shift_x, shift_y), scale, (shear_x, shear_y), "bilinear", 0)
    result = transform.apply(images, params)
    # Same matrix formula, same grid_sample; the grids differ only by rounding (affine builds
    # its matrix in float64, the field warp per pixel in float32): measured max 5.6e-6 over 20
    # seeds for float images, and at most one uint8 level (rounding ties).
    tolerance = 1.0 if dtype == torch.uint8 else 2e-5
    assert float((result.double() - expected.double()).abs().max()) <= tolerance
    assert float((result.double() - images.double()).abs().mean()) > 10 * tolerance  # not a trivial match


def test_infinite_length_scale_colour_equals_global_hue_and_brightness() -> None:
    images = _images(32, 3, 12, seed=5).float() / 255
    transform = RandomFieldAugment(math.inf, **NO_WARP, hue=0.1, saturation=0.0, brightness=0.0)
    params = transform.sample(images, generator=_generator(6))
    turns = _constant(params.hue)
    assert float(turns.abs().max()) < 0.5
    torch.testing.assert_close(transform.apply(images, params), F.adjust_hue(images, turns), atol=1e-5, rtol=0)
    grey = _images(32, 1, 12, seed=7).float() / 255
    transform = RandomFieldAugment(math.inf, **NO_WARP, hue=0.0, saturation=0.0, brightness=0.3)
    params = transform.sample(grey, generator=_generator(8))
    factor = _constant(params.brightness)
    torch.testing.assert_close(transform.apply(grey, params), (grey * factor.view(-1, 1, 1, 1)).clamp(0, 1), atol=1e-6, rtol=0)


# -- field normalisation and correlation -----------------------------------------------------------


@pytest.mark.parametrize("length_scale", [0.5, 1.0, 3.0, 12.0, math.inf])
def test_field_amplitude_is_sigma_whatever_the_length_scale(length_scale: float) -> None:
    # A blur without normalisation shrinks the amplitude as 1 / (2 sqrt(pi) l): 0.14 sigma at l = 2.
    transform = RandomFieldAugment(length_scale, rotation=10.0, translate=0.0, **NO_COLOR)
    angle = transform.sample(_images(4000, 1, 10), generator=_generator(9)).angle.double()
    pixel_std = angle.std(0)  # over samples, at every pixel
    assert float((pixel_std - 10.0).abs().max()) < 0.6  # 4000 samples: std error ~1.1 %, 6 % over 100 pixels
    assert abs(float(angle.mean())) < 0.3


@pytest.mark.parametrize("length_scale", [1.0, 2.5])
def test_field_correlation_is_that_of_gaussian_blurred_white_noise(length_scale: float) -> None:
    size, count = 12, 3000
    noise_shape = field_noise_shape((size, size), length_scale)
    noise = torch.randn(count, *noise_shape, generator=_generator(10), dtype=torch.float64)
    field = gaussian_random_field(noise, length_scale, (size, size))
    # Reference: white noise on a padded grid, blurred with a Gaussian of std l, divided by the kernel's L2 norm.
    radius = int(math.ceil(5 * length_scale))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(offsets**2) / (2 * length_scale**2))
    kernel /= kernel.square().sum().sqrt()  # the 2-D kernel's L2 norm is this 1-D norm squared
    white = torch.randn(count, 1, size + 2 * radius, size + 2 * radius, generator=_generator(11), dtype=torch.float64)
    rows_blurred = nnf.conv2d(white, kernel.view(1, 1, -1, 1))
    blurred = nnf.conv2d(rows_blurred, kernel.view(1, 1, 1, -1))[:, 0]
    for lag in (1, 2, 3):
        expected = math.exp(-(lag**2) / (4 * length_scale**2))
        ours = float((field[:, :, :-lag] * field[:, :, lag:]).mean())  # unit variance: a correlation
        blur = float((blurred[:, :, :-lag] * blurred[:, :, lag:]).mean())
        assert abs(ours - expected) < 0.03 and abs(blur - expected) < 0.03, (lag, ours, blur, expected)
    assert abs(float(field.var()) - 1.0) < 0.03 and abs(float(blurred.var()) - 1.0) < 0.03


def test_correlation_factor_reproduces_the_correlation_with_unit_variance_and_few_modes() -> None:
    for size, length_scale, most_modes in ((8, 0.7, 8), (32, 1.0, 32), (32, 4.0, 12), (32, 1e4, 2), (5, math.inf, 1)):
        factor = correlation_factor(size, length_scale)
        assert factor.shape[0] == size and factor.shape[1] <= most_modes
        offsets = torch.arange(size, dtype=torch.float64)
        correlation = torch.exp(-((offsets[:, None] - offsets) ** 2) / (4 * length_scale**2))
        torch.testing.assert_close(factor @ factor.T, correlation, atol=1e-5, rtol=0)  # all but 1e-6 of the variance
        torch.testing.assert_close(factor.square().sum(1), torch.ones(size, dtype=torch.float64), atol=1e-12, rtol=0)


# -- one field per sample, local at short length scales -------------------------------------------


def test_fields_differ_per_sample_and_vary_within_an_image_at_short_length_scales() -> None:
    copies = _images(1).expand(64, -1, -1, -1).contiguous()
    short = RandomFieldAugment(1.0, rotation=10.0, translate=0.0, **NO_COLOR).sample(copies, generator=_generator(12)).angle
    # samples are independent: the correlation between two samples' fields is ~0 (one field per batch gives 1)
    flat = short.flatten(1)
    between = torch.corrcoef(flat)[~torch.eye(64, dtype=torch.bool)]
    assert float(between.abs().mean()) < 0.15
    assert float(short.std((1, 2)).mean()) > 7.0  # l = 1 px: the angle changes from pixel to pixel
    smooth = RandomFieldAugment(64.0, rotation=10.0, translate=0.0, **NO_COLOR).sample(copies, generator=_generator(12)).angle
    assert float(smooth.std((1, 2)).mean()) < 1.0 < float(smooth[:, 0, 0].std())  # nearly global, still per sample
    outputs = RandomFieldAugment(1.0, **WARP)(copies, generator=_generator(13))
    assert len(torch.unique(outputs.flatten(1), dim=0)) == 64


def test_distortion_grows_with_sigma(digits: torch.Tensor) -> None:
    """The card's strength axis: mean |change| of real digits rises with the field amplitude."""
    images = digits.float() / 255
    distortion = []
    for strength in (0.25, 0.5, 1.0, 2.0, 4.0):
        transform = RandomFieldAugment(2.0, rotation=5.0 * strength, translate=0.02 * strength, **NO_COLOR)
        distortion.append(float((transform(images, generator=_generator(14)) - images).abs().mean()))
    assert distortion == sorted(distortion) and distortion[-1] > 3 * distortion[0]


# -- keyed draws and replay ----------------------------------------------------------------------


def test_keyed_draws_depend_on_the_key_only_and_replay() -> None:
    transform = RandomFieldAugment(2.0, **WARP, hue=0.05, saturation=0.1, brightness=0.1)
    images = _images(10, seed=15)
    keys = torch.arange(100, 110)
    whole = transform(images, keys=keys, seed=3)
    order = torch.randperm(10, generator=_generator(16))[:7]
    assert torch.equal(transform(images[order], keys=keys[order], seed=3), whole[order])  # any batch, any order
    params = transform.sample(images, keys=keys, seed=3)
    assert torch.equal(transform.apply(images, params), whole)
    assert not torch.equal(transform(images, keys=keys + 10, seed=3), whole)
    assert not torch.equal(transform(images, keys=keys, seed=4), whole)


def test_a_draw_replays_on_a_mask_with_the_image_geometry() -> None:
    height = width = 16
    coordinates = torch.arange(height * width).view(1, 1, height, width).expand(5, -1, -1, -1)
    image = torch.stack([coordinates[:, 0] // width, coordinates[:, 0] % width, torch.full_like(coordinates[:, 0], 255)], 1)
    transform = RandomFieldAugment(1.5, **WARP, **NO_COLOR, interpolation="nearest", padding_mode="reflection")
    params = transform.sample(image.to(torch.uint8), generator=_generator(17))
    moved = transform.apply(image.to(torch.uint8), params).long()
    moved_mask = transform.apply(coordinates, params, target="mask")
    assert torch.equal(moved_mask[:, 0], moved[:, 0] * width + moved[:, 1])
    assert not torch.equal(moved_mask, coordinates)


# -- colour fields: HSV ---------------------------------------------------------------------------


def test_local_color_matches_colorsys_pixel_by_pixel() -> None:
    generator = _generator(18)
    rgb = torch.rand(2, 3, 6, 7, generator=generator, dtype=torch.float64)
    hue = torch.rand(2, 6, 7, generator=generator, dtype=torch.float64) * 3 - 1.5  # any real number of turns
    saturation = torch.rand(2, 6, 7, generator=generator, dtype=torch.float64) * 2.5
    value = torch.rand(2, 6, 7, generator=generator, dtype=torch.float64) * 2.5
    result = local_color(rgb, hue, saturation, value)
    for b in range(2):
        for y in range(6):
            for x in range(7):
                h, s, v = colorsys.rgb_to_hsv(*rgb[b, :, y, x].tolist())
                expected = colorsys.hsv_to_rgb((h + float(hue[b, y, x])) % 1.0, min(s * float(saturation[b, y, x]), 1.0),
                                               min(v * float(value[b, y, x]), 1.0))
                torch.testing.assert_close(result[b, :, y, x], torch.tensor(expected, dtype=torch.float64), atol=1e-9, rtol=0)


def test_colour_fields_keep_geometry_and_let_points_through() -> None:
    transform = RandomFieldAugment(2.0, **NO_WARP, hue=0.1, saturation=0.2, brightness=0.2)
    images = _images(4)
    params = transform.sample(images, generator=_generator(19))
    mask = torch.arange(256).view(1, 1, 16, 16).expand(4, -1, -1, -1)
    assert torch.equal(transform.apply(mask, params, target="mask"), mask)
    points = torch.rand(4, 3, 2, generator=_generator(20)) * 16
    assert torch.equal(transform.apply_keypoints(points, params, (16, 16)), points)
    assert not torch.equal(transform.apply(images, params), images)


# -- serialisation and specs ----------------------------------------------------------------------


def test_to_dict_from_dict_and_yaml_round_trip_including_an_infinite_length_scale(tmp_path) -> None:
    for transform in (RandomFieldAugment(), RandomFieldAugment(math.inf, **WARP, padding_mode="reflection", p=0.5)):
        rebuilt = from_dict(transform.to_dict())
        assert rebuilt.config() == transform.config()
        images = _images(4)
        assert torch.equal(rebuilt(images, generator=_generator(21)), transform(images, generator=_generator(21)))
        for suffix in (".yaml", ".json"):
            save(transform, tmp_path / f"field{suffix}")
            assert load(tmp_path / f"field{suffix}").config() == transform.config()


def test_usable_as_a_policy_step_and_as_simclr_views(digits: torch.Tensor) -> None:
    spec = {"type": "Compose", "transforms": [{"type": "RandomFieldAugment", "length_scale": 2.0, "rotation": 8.0}, {"type": "HorizontalFlip"}]}
    pipeline = build_transform(spec)
    assert isinstance(pipeline, Compose) and isinstance(pipeline.transforms[0], RandomFieldAugment)
    assert isinstance(pipeline.transforms[1], HorizontalFlip)
    assert resolve_transform(spec)["transforms"][0]["translate"] == 0.02  # defaults filled in for the store
    assert pipeline(digits[:8], keys=torch.arange(8), seed=0).shape == (8, 1, 8, 8)
    method = build_method(
        {"type": "simclr", "augment": {"type": "RandomFieldAugment", "length_scale": 2.0, "rotation": 10.0, "translate": 0.05}},
        MethodContext(10, (1, 8, 8)),
    )
    views = method.augment(torch.cat([digits[:8]] * 2), keys=torch.arange(16), seed=0)
    first, second = views.chunk(2)
    assert all(not torch.equal(a, b) for a, b in zip(first, second))


# -- bad input: one line ---------------------------------------------------------------------------


def _one_line_error(call: Callable[[], object], *keywords: str) -> None:
    with pytest.raises(AugbenchError) as error:
        call()
    message = str(error.value)
    assert message and "\n" not in message
    for keyword in keywords:
        assert keyword.lower() in message.lower(), (keyword, message)


@pytest.mark.parametrize(
    "options, keywords",
    [
        ({"length_scale": 0.0}, ("length_scale", "> 0")),
        ({"length_scale": -2.0}, ("length_scale",)),
        ({"length_scale": float("nan")}, ("length_scale",)),
        ({"length_scale": "4"}, ("length_scale",)),
        ({"rotation": -1.0}, ("rotation", ">= 0")),
        ({"translate": float("inf")}, ("translate", "finite")),
        ({"hue": True}, ("hue",)),
        ({"scale": float("nan")}, ("scale",)),
        ({"interpolation": "area"}, ("interpolation", "bilinear")),
        ({"padding_mode": "constant"}, ("padding_mode", "reflection")),
        ({"p": 1.5}, ("p=",)),
    ],
)
def test_bad_options_are_one_line(options: dict, keywords: tuple[str, ...]) -> None:
    _one_line_error(lambda: RandomFieldAugment(**options), *keywords)


def test_bad_calls_are_one_line() -> None:
    rgba = _images(2, 4)
    _one_line_error(lambda: RandomFieldAugment()(rgba, generator=_generator()), "grey (1) or RGB (3)", "hue=saturation=0")
    assert RandomFieldAugment(**NO_COLOR)(rgba, generator=_generator()).shape == rgba.shape  # warp only: any channels
    transform = RandomFieldAugment(**WARP)
    params = transform.sample(_images(2, 3, 16), generator=_generator())
    _one_line_error(lambda: transform.apply(_images(2, 3, 12), params), "fields", "sample()")
    _one_line_error(lambda: transform.apply_keypoints(torch.zeros(2, 1, 2), params, (16, 16)), "keypoints", "RandomAffine")
    _one_line_error(lambda: build_transform({"type": "RandomFieldAugment", "sigma": 1.0}), "sigma")
    _one_line_error(lambda: local_affine(_images(2).float() / 255, torch.zeros(2, 4, 4)), "angle", "(2, 16, 16)")
    _one_line_error(lambda: gaussian_random_field(torch.zeros(4, 4, dtype=torch.int64), math.inf, (4, 4)), "floating", "(..., 1, 1)")
    _one_line_error(lambda: gaussian_random_field(torch.zeros(3, 8, 8), 4.0, (8, 8)), "(..., 5, 5)", "field_noise_shape")
    _one_line_error(lambda: correlation_factor(8, 0.0), "length_scale")
