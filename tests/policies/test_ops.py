"""The op registry: kernels keep shape and dtype, masks take only geometric ops, grouping is exact."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import augbench.functional as F
from augbench.errors import ConfigError
from augbench.policies import GEOMETRIC_OPS, OPS, SPACES
from augbench.policies.ops import OpRange, apply_ops, check_space, op_values

# Every op of the registry with a range: the autoaugment space (the 14 RandAugment ops plus
# Invert) and SolarizeAdd, which no built-in space uses (TF's 0-110 grey levels).
ALL_RANGES = {**SPACES["autoaugment"], "SolarizeAdd": OpRange(0.0, 110 / 255)}
ALL_OPS = tuple(OPS)
MAGNITUDE_FREE = {"Identity", "AutoContrast", "Equalize", "Invert"}


def _as_float(images: Tensor) -> Tensor:
    return images.float() / 255


def _strong_value(name: str, batch: int, sign: float = 1.0) -> Tensor:
    """The op's argument at level 0.8 for every sample of a batch."""
    return ALL_RANGES[name].value(torch.full((batch,), 0.8)) * (sign if ALL_RANGES[name].signed else 1.0)


def test_registry_covers_every_space_and_geometric_set():
    assert set(ALL_RANGES) == set(OPS)
    for name, space in SPACES.items():
        assert set(space) <= set(OPS), name
    assert GEOMETRIC_OPS == {"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"}


def test_unknown_space_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown augmentation space 'huge'.*standard.*wide"):
        check_space("huge")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
@pytest.mark.parametrize("name", ALL_OPS)
def test_kernel_keeps_shape_dtype_and_range(cifar_images, name, dtype):
    images = cifar_images[:4] if dtype == torch.uint8 else (cifar_images[:4].to(dtype) / 255)
    for channels in (3, 1):  # RGB and grey
        batch = images[:, :channels].contiguous()
        out = OPS[name](batch, _strong_value(name, batch.shape[0]), 0.5)
        assert out.shape == batch.shape and out.dtype == dtype
        if dtype != torch.uint8:
            assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    assert torch.equal(images, cifar_images[:4] if dtype == torch.uint8 else cifar_images[:4].to(dtype) / 255)


@pytest.mark.parametrize("name", sorted(set(SPACES["standard"]) - MAGNITUDE_FREE))
def test_level_zero_of_the_standard_space_is_the_identity(cifar_images, name):
    for images in (cifar_images[:8], _as_float(cifar_images[:8])):
        value = op_values((name,), SPACES["standard"], torch.zeros(8, dtype=torch.long), torch.zeros(8), torch.ones(8))
        out = OPS[name](images, value, 0.0)
        torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


def test_op_values_maps_levels_linearly_and_signs_only_signed_ops():
    names = ("Rotate", "Posterize", "Solarize", "Equalize")
    space = SPACES["standard"]
    op_index = torch.tensor([0, 0, 1, 1, 2, 3])
    level = torch.tensor([0.5, 1.0, 0.5, 1.0, 0.25, 0.7])
    sign = torch.tensor([-1.0, 1.0, -1.0, -1.0, -1.0, -1.0])
    values = op_values(names, space, op_index, level, sign)
    expected = torch.tensor([-15.0, 30.0, 6.0, 4.0, 0.75 * 256 / 255, 0.0])
    torch.testing.assert_close(values, expected)


@pytest.mark.parametrize("name", ALL_OPS)
def test_masks_take_only_geometric_ops(cifar_images, name):
    images = cifar_images[:8]
    masks = images[:, :1].long()  # a label map: the red channel as class ids
    for sign in (1.0, -1.0):
        value = _strong_value(name, 8, sign)
        index = torch.zeros(8, dtype=torch.long)
        moved = apply_ops(masks, (name,), index, value, 0.5, "mask")
        assert moved.dtype == masks.dtype and moved.shape == masks.shape
        if name in GEOMETRIC_OPS:
            # Nearest resampling with fill 0, like the image with fill 0.
            image = apply_ops(images, (name,), index, value, 0.0, "image")
            assert torch.equal(moved, image[:, :1].long())
            assert not torch.equal(moved, masks)
        else:
            assert torch.equal(moved, masks)


def test_geometric_ops_move_uint8_and_bool_masks_like_long_ones(cifar_images):
    masks = (cifar_images[:8, :1] > 128).long()
    value = torch.linspace(-0.3, 0.3, 8)
    index = torch.arange(8) % 2  # ShearX / ShearY
    reference = apply_ops(masks, ("ShearX", "ShearY"), index, value, 0.0, "mask")
    for dtype in (torch.uint8, torch.bool):
        out = apply_ops(masks.to(dtype), ("ShearX", "ShearY"), index, value, 0.0, "mask")
        assert out.dtype == dtype and torch.equal(out.long(), reference)


def test_geometric_fill_is_in_unit_scale_for_every_dtype(cifar_images):
    images = cifar_images[:2]
    half = torch.full((2,), 0.5)  # move right by half the width
    out = apply_ops(images, ("TranslateX",), torch.zeros(2, dtype=torch.long), half, 1.0, "image")
    assert (out[..., :16] == 255).all() and torch.equal(out[..., 16:], images[..., :16])
    out = apply_ops(_as_float(images), ("TranslateX",), torch.zeros(2, dtype=torch.long), half, 0.25, "image")
    assert (out[..., :16] == 0.25).all()


def _random_draw(batch: int, seed: int) -> tuple[Tensor, Tensor]:
    """Mixed op indices over every op (and -1 = no op) with per-sample arguments."""
    generator = torch.Generator().manual_seed(seed)
    op_index = torch.randint(0, len(ALL_OPS), (batch,), generator=generator)
    op_index[::7] = -1
    level = torch.rand(batch, generator=generator)
    sign = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
    values = op_values(ALL_OPS, ALL_RANGES, op_index.clamp(min=0), level, sign)
    return op_index, values


@pytest.mark.parametrize("kind, target", [("uint8", "image"), ("float", "image"), ("long", "mask")])
def test_grouped_application_equals_per_sample_application(cifar_images, kind, target):
    images = {"uint8": cifar_images, "float": _as_float(cifar_images), "long": cifar_images[:, :1].long()}[kind]
    op_index, values = _random_draw(images.shape[0], seed=3)
    assert len(set(op_index.tolist())) >= 8 and (op_index == -1).any()
    before = images.clone()
    grouped = apply_ops(images, ALL_OPS, op_index, values, 0.5, target)
    assert torch.equal(images, before)  # the input is never written to
    for b in range(images.shape[0]):
        alone = apply_ops(images[b : b + 1], ALL_OPS, op_index[b : b + 1], values[b : b + 1], 0.5, target)
        if op_index[b] == -1:
            assert torch.equal(alone, images[b : b + 1])
        else:
            name = ALL_OPS[op_index[b]]
            if target == "image" or name in GEOMETRIC_OPS:
                kernel_fill = 0.5 if target == "image" else 0.0
                assert torch.equal(alone, OPS[name](images[b : b + 1], values[b : b + 1], kernel_fill))
        assert torch.equal(grouped[b], alone[0]), (b, int(op_index[b]))


def test_minus_one_leaves_samples_unchanged_and_one_op_for_all_is_one_call(cifar_images):
    images = cifar_images[:6]
    values = torch.full((6,), 20.0)
    untouched = apply_ops(images, ("Rotate",), torch.full((6,), -1), values, 0.0, "image")
    assert torch.equal(untouched, images)
    everyone = apply_ops(images, ("Identity", "Rotate"), torch.ones(6, dtype=torch.long), values, 0.0, "image")
    assert torch.equal(everyone, F.rotate(images, values, fill=0))
    some = apply_ops(images, ("Rotate",), torch.tensor([0, -1, 0, -1, -1, 0]), values, 0.0, "image")
    assert torch.equal(some[[1, 3, 4]], images[[1, 3, 4]])
    assert torch.equal(some[[0, 2, 5]], F.rotate(images[[0, 2, 5]], values[:3], fill=0))


@pytest.mark.parametrize("fill", [(1.0, 0.0, 0.5), [1.0, 0.0, 0.5]])
def test_per_channel_fill_works_for_uint8_and_float(cifar_images, fill):
    """Policies accept one fill per channel (check_fill); uint8 images scale it to 0-255."""
    half = torch.full((2,), 0.5)
    index = torch.zeros(2, dtype=torch.long)
    out = apply_ops(cifar_images[:2], ("TranslateY",), index, half, fill, "image")
    assert out[:, :, :16].tolist() == torch.tensor([255, 0, 128], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 16, 32).tolist()
    out = apply_ops(_as_float(cifar_images[:2]), ("TranslateY",), index, half, fill, "image")
    torch.testing.assert_close(out[:, :, :16], torch.tensor([1.0, 0.0, 0.5]).view(1, 3, 1, 1).expand(2, 3, 16, 32))


@pytest.mark.parametrize("name", ALL_OPS)
def test_uint8_and_float_images_get_the_same_op(cifar_images, name):
    """One argument means the same thing in both scales: results agree within 1.5 grey levels
    (uint8 enhance ops truncate like Pillow; a 0.5 fill is 128 in uint8)."""
    images = cifar_images[:8]
    for level in (0.3, 1.0):
        value = ALL_RANGES[name].value(torch.full((8,), level))
        if ALL_RANGES[name].signed:
            value = value * torch.where(torch.arange(8) % 2 == 0, 1.0, -1.0)
        in_uint8 = OPS[name](images, value, 0.5).double()
        in_float = OPS[name](_as_float(images), value, 0.5).double() * 255
        assert (in_uint8 - in_float).abs().max() <= 1.5, (name, level)


@pytest.mark.parametrize(
    "space, expected",
    [
        # torchvision's RandAugment / AutoAugment maxima (translate 150 px of 331 px).
        ("standard", {"ShearX": 0.3, "TranslateX": 150 / 331, "Rotate": 30.0, "Brightness": 0.9, "Posterize": 4.0, "Solarize": 0.0}),
        # TrivialAugment Wide: shear 0.99, 32 px of 32 px, 135 deg, factor 1 +- 0.99, 2 bits, threshold 0.
        ("wide", {"ShearY": 0.99, "TranslateY": 1.0, "Rotate": 135.0, "Sharpness": 0.99, "Posterize": 2.0, "Solarize": 0.0}),
    ],
)
def test_space_maxima_match_the_cards(space, expected):
    for name, at_one in expected.items():
        assert SPACES[space][name].at_one == pytest.approx(at_one), name
    assert set(SPACES[space]) == set(SPACES["standard"])
    signed = {name for name, op_range in SPACES[space].items() if op_range.signed}
    assert signed == {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast", "Sharpness"}
