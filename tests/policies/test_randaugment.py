"""RandAugment and TrivialAugment Wide: per-sample draws, uniform op/magnitude histograms, magnitude semantics."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import Tensor

import augbench.functional as F
from augbench.policies import GEOMETRIC_OPS, OPS, SPACES, RandAugment, TrivialAugmentWide
from augbench.policies.ops import op_values
from augbench.policies.randaugment import RANDAUGMENT_OPS
from augbench.random import Params

DRAWS = 20_000
P_MIN = 1e-3
NO_MAGNITUDE = {"Identity", "AutoContrast", "Equalize"}
SIGNED = {"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "Brightness", "Color", "Contrast", "Sharpness"}


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _distinct(images: Tensor) -> int:
    return len(torch.unique(images.flatten(1), dim=0))


def _with_sign(params: Params, sign: float) -> Params:
    return Params(params.batch_size, op=params.op, level=params.level, sign=torch.full_like(params.sign, sign))


def test_the_paper_op_list():
    assert len(RANDAUGMENT_OPS) == 14 and len(set(RANDAUGMENT_OPS)) == 14
    assert set(RandAugment().ops) == set(RANDAUGMENT_OPS) == set(TrivialAugmentWide().ops)


# -- per-sample randomness -----------------------------------------------------------------------


@pytest.mark.parametrize("build", [lambda **kw: RandAugment(**kw), lambda **kw: TrivialAugmentWide(**kw)], ids=["rand", "trivial"])
@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_copies_of_one_real_image_get_different_augmentations(cifar_copies, build, kind):
    images = cifar_copies if kind == "uint8" else cifar_copies.float() / 255
    out = build()(images, generator=_seeded(1))
    assert out.dtype == images.dtype and out.shape == images.shape
    assert _distinct(out) >= 12
    same = build(same_on_batch=True)(images, generator=_seeded(1))
    assert _distinct(same) == 1
    assert not torch.equal(same[0], images[0])  # the shared draw still does something (seeded)


def test_same_on_batch_draws_one_parameter_set():
    params = RandAugment(num_ops=3, magnitude_std=1.0, same_on_batch=True).sample_for(32, (3, 32, 32), _seeded())
    for name in ("op", "level", "sign"):
        assert (params[name] == params[name][:1]).all(), name


# -- histograms ------------------------------------------------------------------------------------


def _uniform_p(samples: Tensor, bins: int) -> float:
    counts = torch.bincount(samples.flatten(), minlength=bins)
    assert counts.numel() == bins
    return float(stats.chisquare(counts.numpy()).pvalue)


def test_randaugment_op_histogram_is_uniform():
    params = RandAugment(num_ops=2).sample_for(DRAWS, (3, 32, 32), _seeded(2))
    assert params.op.shape == (DRAWS, 2)
    for layer in range(2):
        assert _uniform_p(params.op[:, layer], 14) > P_MIN
    # The two layers are drawn independently: the (first, second) pair is uniform over 14 x 14.
    assert _uniform_p(params.op[:, 0] * 14 + params.op[:, 1], 196) > P_MIN


def test_trivialaugment_op_and_magnitude_histograms_are_uniform():
    params = TrivialAugmentWide().sample_for(DRAWS, (3, 32, 32), _seeded(3))
    assert params.op.shape == params.level.shape == (DRAWS, 1)  # exactly one op per image
    assert _uniform_p(params.op, 14) > P_MIN
    bins = params.level * 30
    assert torch.allclose(bins, bins.round(), atol=1e-4)  # levels sit on the 31 bins
    assert _uniform_p(bins.round().long(), 31) > P_MIN


def test_trivialaugment_bin_count_is_honoured():
    params = TrivialAugmentWide(num_magnitude_bins=5).sample_for(DRAWS, (3, 32, 32), _seeded(4))
    assert _uniform_p((params.level * 4).round().long(), 5) > P_MIN


@pytest.mark.parametrize("build", [lambda: RandAugment(num_ops=1), TrivialAugmentWide], ids=["rand", "trivial"])
def test_signs_are_fair_coins(build):
    params = build().sample_for(DRAWS, (3, 32, 32), _seeded(5))
    assert set(params.sign.unique().tolist()) == {-1.0, 1.0}
    positive = int((params.sign > 0).sum())
    assert stats.binomtest(positive, DRAWS, 0.5).pvalue > P_MIN


# -- magnitude semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", RANDAUGMENT_OPS)
def test_magnitude_zero_is_the_identity(cifar_images, name):
    augment = RandAugment(num_ops=1, magnitude=0, ops=(name,))
    for images in (cifar_images[:8], cifar_images[:8].float() / 255):
        out = augment(images, generator=_seeded())
        if name in ("AutoContrast", "Equalize"):  # no magnitude: they always act
            assert not torch.equal(out, images)
        elif images.dtype == torch.uint8:
            assert torch.equal(out, images)
        else:  # float enhance ops compute degenerate + 1 * (x - degenerate): rounding only
            torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


def _distortion(augment: RandAugment, images: Tensor, sign: float) -> float:
    params = _with_sign(augment.sample(images, generator=_seeded()), sign)
    return (augment.apply(images, params).double() - images.double()).abs().mean().item()


@pytest.mark.parametrize("name", RANDAUGMENT_OPS)
def test_distortion_does_not_decrease_with_magnitude(cifar_images, name):
    """The card's falsifier: mean |delta pixel| is monotone in M, for each sign of signed ops."""
    images = cifar_images[:8]
    magnitudes = (0, 15, 30) if name in NO_MAGNITUDE else range(0, 31, 3)
    for sign in (-1.0, 1.0) if name in SIGNED else (1.0,):
        curve = [_distortion(RandAugment(num_ops=1, magnitude=m, ops=(name,)), images, sign) for m in magnitudes]
        steps = torch.tensor(curve).diff()
        assert (steps >= 0).all(), (name, sign, curve)
        if name in NO_MAGNITUDE:
            assert steps.abs().max() == 0
        else:
            assert curve[0] == pytest.approx(0, abs=1e-4) and curve[-1] > 1.0, (name, sign, curve)


def test_signed_ops_are_applied_with_both_signs(cifar_images):
    images = cifar_images[:1].repeat(64, 1, 1, 1)
    augment = RandAugment(num_ops=1, magnitude=15, ops=("Rotate",))
    params = augment.sample(images, generator=_seeded(6))
    out = augment.apply(images, params)
    left, right = F.rotate(images[:1], 15.0), F.rotate(images[:1], -15.0)
    is_left = (out == left).flatten(1).all(1)
    is_right = (out == right).flatten(1).all(1)
    assert (is_left | is_right).all()
    assert torch.equal(is_left, params.sign[:, 0] > 0)
    assert 16 <= int(is_left.sum()) <= 48


@pytest.mark.parametrize("name", ["Posterize", "Solarize"])
def test_unsigned_ops_ignore_the_sign(cifar_images, name):
    augment = RandAugment(num_ops=1, magnitude=20, ops=(name,))
    params = augment.sample(cifar_images, generator=_seeded())
    assert torch.equal(augment.apply(cifar_images, _with_sign(params, 1.0)), augment.apply(cifar_images, _with_sign(params, -1.0)))


def test_fixed_magnitude_gives_one_level():
    params = RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=11).sample_for(256, (3, 32, 32), _seeded())
    assert torch.allclose(params.level, torch.full_like(params.level, 0.9))


def test_magnitude_std_draws_a_level_per_sample_and_op():
    params = RandAugment(num_ops=2, magnitude=5, num_magnitude_bins=11, magnitude_std=0.5).sample_for(
        DRAWS, (3, 32, 32), _seeded(7)
    )
    magnitude = params.level * 10
    assert magnitude.unique().numel() > DRAWS  # different per sample and per op
    assert magnitude.mean().item() == pytest.approx(5.0, abs=0.02)
    assert magnitude.std().item() == pytest.approx(0.5, rel=0.03)
    assert stats.normaltest(magnitude[:, 0].numpy()).pvalue > P_MIN


def test_magnitude_std_is_clipped_to_magnitude_max():
    params = RandAugment(magnitude=5, num_magnitude_bins=11, magnitude_std=3.0, magnitude_max=7).sample_for(
        DRAWS, (3, 32, 32), _seeded(8)
    )
    magnitude = params.level * 10
    assert magnitude.min() == 0 and magnitude.max() == pytest.approx(7.0)
    assert 0.2 < (magnitude == 0).double().mean() + (magnitude > 6.999).double().mean() < 0.4


def test_infinite_magnitude_std_is_uniform_up_to_the_magnitude():
    params = RandAugment(magnitude=9, num_magnitude_bins=11, magnitude_std=math.inf).sample_for(
        DRAWS, (3, 32, 32), _seeded(9)
    )
    magnitude = (params.level * 10).flatten()
    assert magnitude.min() >= 0 and magnitude.max() <= 9
    assert stats.kstest(magnitude.numpy(), stats.uniform(0, 9).cdf).pvalue > P_MIN


def test_magnitude_noise_changes_the_output_per_sample(cifar_copies):
    augment = RandAugment(num_ops=1, magnitude=10, magnitude_std=2.0, ops=("Brightness",))
    params = augment.sample(cifar_copies, generator=_seeded())
    out = augment.apply(cifar_copies, _with_sign(params, 1.0))
    assert _distinct(out) == 16


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_ops": -1}, "num_ops"),
        ({"num_ops": 1.5}, "num_ops"),
        ({"magnitude": 31}, "magnitude"),
        ({"magnitude": -1}, "magnitude"),
        ({"magnitude_max": 40}, "magnitude_max"),
        ({"num_magnitude_bins": 1}, "num_magnitude_bins"),
        ({"magnitude_std": -0.1}, "magnitude_std"),
        ({"magnitude_std": math.nan}, "magnitude_std"),
        ({"magnitude": math.nan}, "magnitude"),
        ({"ops": ("Rotate", "Warp")}, "Warp"),
        ({"ops": ("Invert",)}, "Invert.*not in space 'standard'"),
        ({"ops": ()}, "non-empty sequence of op names"),
        ({"ops": "Rotate"}, "non-empty sequence of op names"),
        ({"space": "huge"}, "huge"),
        ({"fill": 2.0}, "fill"),
    ],
)
def test_randaugment_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandAugment(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"num_magnitude_bins": 1}, "num_magnitude_bins"), ({"ops": ()}, "non-empty"), ({"space": "tiny"}, "tiny"), ({"fill": -1}, "fill")],
)
def test_trivialaugment_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrivialAugmentWide(**kwargs)


def test_zero_ops_is_the_identity(cifar_images):
    assert torch.equal(RandAugment(num_ops=0)(cifar_images, generator=_seeded()), cifar_images)


@pytest.mark.parametrize("build", [lambda: RandAugment(num_ops=3, magnitude=20), TrivialAugmentWide], ids=["rand", "trivial"])
def test_masks_replay_only_the_geometric_ops(cifar_images, build):
    augment = build()
    images = cifar_images[:16]
    masks = images[:, :1].long()
    params = augment.sample(images, generator=_seeded(10))
    moved = augment.apply(masks, params, target="mask")
    values = op_values(augment.ops, SPACES[augment.space], params.op, params.level, params.sign)
    geometric = 0
    for b in range(16):
        expected = masks[b : b + 1]
        for layer in range(params.op.shape[1]):
            name = augment.ops[params.op[b, layer]]
            if name in GEOMETRIC_OPS:
                expected = OPS[name](expected, values[b : b + 1, layer], 0.0)
                geometric += 1
        assert torch.equal(moved[b], expected[0]), b
    assert geometric > 0
