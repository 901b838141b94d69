"""timm's policies behind the policy strings: op sets, firing, magnitudes, fill, interpolation, AugMix, AutoAugment."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import Tensor

import augbench.functional as F
from augbench.errors import AugbenchError, ConfigError
from augbench.policies import TimmAugMix, TimmAutoAugment, TimmRandAugment, policy
from augbench.policies.timm_ops import (
    AUGMIX_OPS,
    AUTOAUGMENT_POLICIES,
    GEOMETRIC,
    RAND_CHOICES,
    RAND_INCREASING_OPS,
    RAND_OPS,
    LevelTable,
    kernel,
)
from augbench.random import Params

DRAWS = 20_000
P_MIN = 1e-3


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _draw(transform, n: int = DRAWS, seed: int = 0) -> Params:
    return transform.sample_for(n, (3, 32, 32), _seeded(seed))


def _distinct(images: Tensor) -> int:
    return len(torch.unique(images.flatten(1), dim=0))


# -- op sets ---------------------------------------------------------------------------------------


def test_rand_op_sets_are_timms():
    assert len(RAND_OPS) == len(set(RAND_OPS)) == 15
    assert {"Invert", "SolarizeAdd", "TranslateXRel", "TranslateYRel"} <= set(RAND_OPS)
    assert "Identity" not in RAND_OPS and "Identity" not in RAND_INCREASING_OPS
    assert [op.replace("Increasing", "") for op in RAND_INCREASING_OPS] == list(RAND_OPS)
    assert len(AUGMIX_OPS) == 13 and "Invert" not in AUGMIX_OPS and "SolarizeAdd" not in AUGMIX_OPS


def test_ops_are_drawn_uniformly_with_replacement():
    params = _draw(TimmRandAugment(prob=1.0))
    counts = torch.bincount(params.op.flatten(), minlength=15)
    assert stats.chisquare(counts.numpy()).pvalue > P_MIN
    same = (params.op[:, 0] == params.op[:, 1]).float().mean().item()
    assert abs(same - 1 / 15) < 0.01  # with replacement: the two ops repeat 1 time in 15


@pytest.mark.parametrize("prob", [0.5, 0.3])
def test_each_op_fires_with_probability_p(prob):
    params = _draw(TimmRandAugment(prob=prob))
    fired = int((params.op >= 0).sum())
    assert stats.binomtest(fired, params.op.numel(), prob).pvalue > P_MIN
    assert (_draw(TimmRandAugment(prob=1.0), 500).op >= 0).all()
    assert (_draw(TimmRandAugment(prob=0.0), 500).op == -1).all()


def test_the_default_half_firing_leaves_a_quarter_of_images_untouched(cifar_images):
    images = cifar_images.repeat(8, 1, 1, 1)  # 256 images
    out = policy("rand-m9-n2")(images, generator=_seeded(1))
    untouched = (out == images).flatten(1).all(1).float().mean().item()
    assert 0.15 < untouched < 0.35  # 0.5 x 0.5, plus ops that leave an image as it is


def test_weighted_choice_is_without_replacement_and_follows_the_weights():
    weights = RAND_CHOICES["weights"]
    augment = policy("rand-tweights-p1")
    params = _draw(augment)
    assert (params.op[:, 0] != params.op[:, 1]).all()  # timm: np.random.choice(..., replace=False, p=...)
    expected = torch.tensor(list(weights.values()), dtype=torch.float64)
    counts = torch.bincount(params.op[:, 0], minlength=len(weights)).double()
    frequent = expected > 0.5  # chi-square needs >= 5 expected counts; the rare ops are tested together
    observed = torch.cat([counts[frequent], counts[~frequent].sum()[None]])
    wanted = torch.cat([expected[frequent], expected[~frequent].sum()[None]]) / expected.sum() * DRAWS
    assert stats.chisquare(observed.numpy(), wanted.numpy()).pvalue > P_MIN
    # The second op, given a first Rotate (weight 3 of 10.1), is drawn from the other 7.1.
    second = params.op[params.op[:, 0] == 0, 1]
    share = (second == 1).double().mean().item()  # ShearX: 2 of the remaining 7.1
    assert abs(share - 2 / 7.1) < 0.03


def test_three_augment_choices():
    assert policy("rand-t3a").ops == ("SolarizeIncreasing", "Desaturate", "GaussianBlur")
    three_aw = policy("rand-t3aw")
    assert set(three_aw.ops) == set(RAND_CHOICES["3aw"]) and three_aw.weights is not None


# -- magnitudes ------------------------------------------------------------------------------------


def _args(op: str, magnitude: float, sign: float = 1.0, uniform: float = 0.5) -> float:
    table = LevelTable((op,))
    one = torch.zeros(1, dtype=torch.long)
    return table(one, torch.tensor([magnitude], dtype=torch.float64), torch.tensor([sign]), torch.tensor([uniform])).item()


@pytest.mark.parametrize(
    "op, magnitude, sign, expected",
    [
        ("Rotate", 9, -1, -27.0), ("ShearX", 9, 1, 0.27), ("TranslateYRel", 10, -1, -0.45),
        ("Posterize", 9, 1, 3), ("Posterize", 2, 1, 0), ("Posterize", 25, 1, 8),
        ("PosterizeIncreasing", 9, 1, 1), ("PosterizeIncreasing", 10, 1, 0), ("PosterizeIncreasing", 0, 1, 4),
        ("PosterizeIncreasing", 15, 1, 0), ("PosterizeOriginal", 9, 1, 7),
        ("Solarize", 9, 1, 230), ("Solarize", 0, 1, 0), ("Solarize", 12, 1, 256),
        ("SolarizeIncreasing", 9, 1, 26), ("SolarizeIncreasing", 0, 1, 256), ("SolarizeIncreasing", 15, 1, 0),
        ("SolarizeAdd", 9, 1, 99), ("SolarizeAdd", 3, 1, 33), ("SolarizeAdd", 15, 1, 128),
        ("Color", 9, -1, 1.72), ("Contrast", 5, 1, 1.0), ("Brightness", 0, 1, 0.1),
        ("ColorIncreasing", 9, 1, 1.81), ("SharpnessIncreasing", 9, -1, 0.19), ("ContrastIncreasing", 15, -1, 0.1),
        ("Desaturate", 10, 1, 0.0), ("Desaturate", 0, 1, 0.5), ("GaussianBlur", 10, 1, 2.0), ("GaussianBlur", 0, 1, 0.1),
        ("GaussianBlurRand", 10, 1, 0.1 + 1.9 * 0.5), ("Equalize", 9, -1, 0.0),
    ],
)  # fmt: skip
def test_level_maps_are_timms(op, magnitude, sign, expected):
    assert _args(op, magnitude, sign) == pytest.approx(expected, abs=1e-6)


def test_inc0_and_inc1_differ_in_severity(cifar_images):
    """At m = 9: Posterize keeps 3 bits (inc0) or 1 (inc1), Solarize inverts from 230 or from 26."""
    images = cifar_images[:8]
    for inc, bits, threshold in ((0, 3, 230), (1, 1, 26)):
        posterize = TimmRandAugment(1, 9, prob=1.0, ops=("Posterize" if inc == 0 else "PosterizeIncreasing",))
        solarize = TimmRandAugment(1, 9, prob=1.0, ops=("Solarize" if inc == 0 else "SolarizeIncreasing",))
        assert torch.equal(posterize(images, generator=_seeded()), F.posterize(images, bits))
        assert torch.equal(solarize(images, generator=_seeded()), F.solarize(images, threshold))
    low, high = (policy(f"rand-m9-n2-inc{inc}")(images, generator=_seeded(3)) for inc in (0, 1))
    assert not torch.equal(low, high)  # same draws, other op set: inc is no longer ignored


def test_magnitude_is_clipped_to_mmax():
    assert (_draw(policy("rand-m15-n2"), 100).magnitude == 10).all()  # timm's default clip
    assert (_draw(policy("rand-m15-n2-mmax20"), 100).magnitude == 15).all()
    noisy = _draw(policy("rand-m9-mstd3-mmax10"), DRAWS).magnitude
    assert noisy.max() == 10 and noisy.min() == 0 and (noisy == 10).float().mean() > 0.3


def test_m15_acts_as_m10(cifar_images):
    images = cifar_images[:16]
    assert torch.equal(policy("rand-m15-n2")(images, generator=_seeded(2)), policy("rand-m10-n2")(images, generator=_seeded(2)))
    assert _args("Rotate", 15) == 45.0  # above 10 only with mmax: "rand-m15-mmax20" rotates up to 45 degrees


def test_mstd_adds_gaussian_noise_per_op_and_image():
    magnitude = _draw(policy("rand-m5-mstd1.5"), DRAWS).magnitude
    assert magnitude.mean().item() == pytest.approx(5.0, abs=0.05)
    assert magnitude.std().item() == pytest.approx(1.5, abs=0.05)
    assert stats.normaltest(magnitude.flatten().numpy()).pvalue > P_MIN
    assert magnitude[:, 0].ne(magnitude[:, 1]).all()  # each op its own noise


def test_mstd_above_100_is_uniform_in_zero_to_m():
    magnitude = _draw(policy("rand-m8-mstd101"), DRAWS).magnitude.flatten()
    assert magnitude.min() >= 0 and magnitude.max() < 8
    assert stats.kstest(magnitude.numpy() / 8, "uniform").pvalue > P_MIN


def test_signs_are_fair_coins():
    sign = _draw(TimmRandAugment()).sign
    assert stats.binomtest(int((sign > 0).sum()), sign.numel(), 0.5).pvalue > P_MIN


# -- fill, interpolation, masks --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_geometric_ops_fill_with_128_grey(dtype):
    images = torch.zeros(4, 3, 16, 16, dtype=dtype)
    rotate = TimmRandAugment(1, 10, prob=1.0, ops=("Rotate",), interpolation="nearest")
    out = rotate(images, generator=_seeded())
    grey = 128 if dtype == torch.uint8 else 128 / 255
    assert torch.allclose(out[:, :, 0, 0].double(), torch.full((4, 3), grey, dtype=torch.float64))  # corners come from outside
    assert (out[:, :, 8, 8] == 0).all()


def test_fill_and_interpolation_can_be_given():
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    white = TimmRandAugment(1, 10, prob=1.0, ops=("Rotate",), fill=1.0, interpolation="nearest")(images, generator=_seeded())
    assert (white[:, :, 0, 0] == 255).all()
    with pytest.raises(ConfigError, match="interpolation='lanczos' is unknown; choose from random, bilinear, bicubic, nearest"):
        TimmRandAugment(interpolation="lanczos")


def test_random_interpolation_is_drawn_per_op_and_image():
    params = _draw(TimmRandAugment())
    assert stats.binomtest(int(params.bicubic.sum()), params.bicubic.numel(), 0.5).pvalue > P_MIN
    assert "bicubic" not in _draw(TimmRandAugment(interpolation="bilinear"), 10)


def test_random_interpolation_resamples_bilinear_or_bicubic(cifar_images):
    images = cifar_images[:16]
    ops = ("Rotate", "ShearX", "TranslateYRel")
    mixed = TimmRandAugment(2, 9, prob=1.0, ops=ops)
    params = mixed.sample(images, generator=_seeded(4))
    out = mixed.apply(images, params)
    for choice, interpolation in ((False, "bilinear"), (True, "bicubic")):
        fixed = TimmRandAugment(2, 9, prob=1.0, ops=ops, interpolation=interpolation)
        pure = Params(16, drawn_by="TimmRandAugment", **{k: v for k, v in params.items() if k != "bicubic"})
        expected = fixed.apply(images, pure)
        rows = (params.bicubic == choice).all(1)
        assert rows.any() and torch.equal(out[rows], expected[rows])


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic"])
def test_one_warp_for_all_geometric_ops_equals_each_ops_own_kernel(cifar_images, interpolation):
    images = cifar_images[:20, :, :24]  # not square: translations scale by their own side
    ops = tuple(sorted(GEOMETRIC))
    augment = TimmRandAugment(1, 8, prob=1.0, magnitude_std=2.0, ops=ops, interpolation=interpolation)
    params = augment.sample(images, generator=_seeded(9))
    out = augment.apply(images, params)
    arguments = LevelTable(ops)(params.op, params.magnitude, params.sign, None)
    for index, name in enumerate(ops):
        rows = params.op[:, 0] == index
        expected = kernel(name, interpolation)(images[rows], arguments[rows, 0], 128 / 255)
        assert rows.any() and (out[rows].int() - expected.int()).abs().max() <= (1 if interpolation == "bicubic" else 0)


def test_masks_take_only_the_geometric_ops_nearest(cifar_images):
    images = cifar_images[:8]
    masks = images[:, :1].long()
    augment = TimmRandAugment(2, 9, prob=1.0, ops=("Rotate", "Solarize", "TranslateXRel", "Equalize"))
    params = augment.sample(images, generator=_seeded(5))
    moved = augment.apply(masks, params, target="mask")
    assert moved.dtype == masks.dtype and set(moved.unique().tolist()) <= set(masks.unique().tolist()) | {0}
    geometric_only = torch.where(torch.isin(params.op, torch.tensor([0, 2])), params.op, -1)
    reference = TimmRandAugment(2, 9, prob=1.0, ops=augment.ops, interpolation="nearest")
    only = Params(8, drawn_by="TimmRandAugment", op=geometric_only, magnitude=params.magnitude, sign=params.sign)
    assert torch.equal(moved, reference.apply(masks, only, target="mask"))
    assert not torch.equal(moved, masks)


# -- per sample, keyed, empty ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["rand-m9-n2", "rand-m9-mstd0.5-inc1", "augmix-m3-w3", "v0", "original-mstd0.5", "3a"])
def test_copies_of_one_image_get_their_own_augmentation(cifar_copies, text):
    out = policy(text)(cifar_copies, generator=_seeded(1))
    assert out.dtype == cifar_copies.dtype and out.shape == cifar_copies.shape
    assert _distinct(out) >= 6


@pytest.mark.parametrize("build", [TimmRandAugment, TimmAutoAugment, TimmAugMix])
def test_same_on_batch_shares_one_draw(cifar_copies, build):
    out = build(same_on_batch=True)(cifar_copies, generator=_seeded(2))
    assert _distinct(out) == 1


@pytest.mark.parametrize("text", ["rand-m9-n2", "rand-mstd1-tweights", "augmix-m3-w3-b1", "v0r", "3a"])
def test_keyed_draws_replay_per_sample(cifar_images, text):
    transform = policy(text)
    images = cifar_images[:12]
    keys = torch.arange(500, 512)
    whole = transform(images, keys=keys, seed=3)
    order = torch.randperm(12, generator=_seeded())
    parts = torch.cat([transform(images[i], keys=keys[i], seed=3) for i in order.split(5)])
    assert torch.equal(parts, whole[order])


@pytest.mark.parametrize("text", ["rand-m9-n2", "augmix-m3", "v0", "3a"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_empty_batches_stay_empty(text, dtype):
    empty = torch.zeros(0, 3, 16, 16, dtype=dtype)
    out = policy(text)(empty, generator=_seeded())
    assert out.shape == empty.shape and out.dtype == dtype


# -- AugMix ------------------------------------------------------------------------------------------


def test_augmix_magnitude_is_uniform_up_to_m_by_default_and_gaussian_with_mstd():
    uniform = _draw(policy("augmix-m6"), 4000).magnitude.flatten()
    assert stats.kstest(uniform.numpy() / 6, "uniform").pvalue > P_MIN
    gaussian = _draw(policy("augmix-m6-mstd0.5"), 4000).magnitude.flatten()
    assert gaussian.std().item() == pytest.approx(0.5, abs=0.03)
    assert (_draw(policy("augmix-m6-mstd0"), 100).magnitude == 6).all()
    assert (_draw(policy("augmix-m12-mstd0"), 100).magnitude == 10).all()  # clipped to 10


def test_augmix_applies_every_op_and_depth_is_random_one_to_three_or_fixed():
    params = _draw(policy("augmix"), 4000)
    depth = (params.op >= 0).sum(-1)
    assert set(depth.unique().tolist()) == {1, 2, 3}
    assert stats.chisquare(torch.bincount(depth.flatten())[1:].numpy()).pvalue > P_MIN
    assert ((_draw(policy("augmix-d5"), 50).op >= 0).sum(-1) == 5).all()
    counts = torch.bincount(params.op[params.op >= 0], minlength=13)
    assert stats.chisquare(counts.numpy()).pvalue > P_MIN


def _reference_mix(images: Tensor, augmix: TimmAugMix, params: Params) -> Tensor:
    """timm's uint8 arithmetic per image: trunc(clip(sum w_i chain_i)), then Image.blend (truncating)."""
    chains = []
    for chain in range(augmix.width):
        draws = {k: params[k][:, chain] for k in ("op", "magnitude", "sign", "bicubic") if k in params}
        chains.append(augmix._runner.apply(images, draws, "image").float())
    mixed = sum(params.weights[:, c, None, None, None] * chains[c] for c in range(augmix.width))
    mixed = mixed.clamp(0, 255).trunc()
    m = params.mix[:, None, None, None]
    return (images.float() + m * (mixed - images.float())).trunc().to(torch.uint8)


def test_augmix_mixes_with_timms_rounding(cifar_images):
    images = cifar_images[:16]
    augmix = policy("augmix-m3-w3")
    params = augmix.sample(images, generator=_seeded(6))
    assert torch.equal(augmix.apply(images, params), _reference_mix(images, augmix, params))


def test_augmix_blended_mode_is_the_same_mix_up_to_rounding(cifar_images):
    images = cifar_images[:16].float() / 255
    basic, blended = policy("augmix-m5-w4"), policy("augmix-m5-w4-b1")
    params = basic.sample(images, generator=_seeded(7))
    replay = Params(16, drawn_by="TimmAugMix", **dict(params.items()))
    torch.testing.assert_close(blended.apply(images, replay), basic.apply(images, params), atol=2e-6, rtol=0)
    as_uint8 = (images * 255).round().to(torch.uint8)
    difference = (blended.apply(as_uint8, replay).int() - basic.apply(as_uint8, params).int()).abs()
    assert difference.max() <= 5 and difference.float().mean() < 2  # a truncation per chain instead of two in all


def test_augmix_width_zero_blends_with_black_as_timm(cifar_images):
    images = cifar_images[:4]
    augmix = policy("augmix-w0")
    params = augmix.sample(images, generator=_seeded())
    expected = (images.float() * (1 - params.mix[:, None, None, None])).trunc().to(torch.uint8)
    assert torch.equal(augmix.apply(images, params), expected)
    assert torch.equal(policy("augmix-w0-b1")(images, generator=_seeded()), images)


def test_augmix_refuses_masks(cifar_images):
    augmix = policy("augmix")
    params = augmix.sample(cifar_images[:2], generator=_seeded())
    with pytest.raises(ConfigError, match="cannot be replayed on masks"):
        augmix.apply(cifar_images[:2, :1].long(), params, target="mask")


# -- AutoAugment -----------------------------------------------------------------------------------


def test_autoaugment_tables_are_timms():
    assert {name: len(subs) for name, subs in AUTOAUGMENT_POLICIES.items()} == {"original": 25, "originalr": 25, "v0": 25, "v0r": 25, "3a": 3}
    for plain, research in (("original", "originalr"), ("v0", "v0r")):
        pairs = list(zip(sum(AUTOAUGMENT_POLICIES[plain], ()), sum(AUTOAUGMENT_POLICIES[research], ())))
        changed = {(a[0], b[0]) for a, b in pairs if a != b}
        assert changed == {("PosterizeOriginal" if plain == "original" else "Posterize", "PosterizeIncreasing")}
        assert all(a[1:] == b[1:] for a, b in pairs)
    assert AUTOAUGMENT_POLICIES["v0"][22] == (("Posterize", 0.8, 2), ("Solarize", 0.6, 10))
    assert AUTOAUGMENT_POLICIES["original"][0] == (("PosterizeOriginal", 0.4, 8), ("Rotate", 0.6, 9))


@pytest.mark.parametrize("name", ["v0", "original"])
def test_autoaugment_ops_fire_with_their_probability(name):
    auto = TimmAutoAugment(name)
    params = _draw(auto)
    table = AUTOAUGMENT_POLICIES[name]
    fired = (params.op >= 0).float().mean().item()
    expected = sum(p for sub in table for _, p, _ in sub) / (2 * len(table))
    assert fired == pytest.approx(expected, abs=0.01)
    assert set(params.magnitude.unique().tolist()) <= {float(m) for sub in table for _, _, m in sub}


def test_three_augment_is_one_of_solarize_greyscale_blur(cifar_images):
    images = cifar_images[:32]
    auto = TimmAutoAugment("3a")
    params = auto.sample(images, generator=_seeded(8))
    out = auto.apply(images, params)
    names = [auto._runner.ops[i] for i in params.op[:, 0].tolist()]
    for index, name in enumerate(names):
        if name == "Solarize":  # magnitude 5: threshold 128
            assert torch.equal(out[index], F.solarize(images[index : index + 1], 128)[0])
        elif name == "Desaturate":  # magnitude 10: grey
            assert (out[index] == out[index, :1]).all()
        else:  # radius uniform in [0.1, 2]; under ~0.3 px a blur leaves uint8 images as they are
            radius = 0.1 + (2.0 - 0.1) * params.uniform[index, 0].item()
            assert 0.1 <= radius <= 2.0
            assert radius < 0.5 or not torch.equal(out[index], images[index])
    assert set(names) == {"Solarize", "Desaturate", "GaussianBlurRand"}


# -- arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: TimmRandAugment(num_ops=-1), "num_ops=-1 must be an int >= 0"),
        (lambda: TimmRandAugment(magnitude=-1), "magnitude=-1 must be a finite number >= 0"),
        (lambda: TimmRandAugment(prob=1.5), "prob=1.5 must be a number in"),
        (lambda: TimmRandAugment(magnitude_std=-0.5), "magnitude_std=-0.5 must be >= 0"),
        (lambda: TimmRandAugment(magnitude_max=math.inf), "magnitude_max=inf must be a finite number"),
        (lambda: TimmRandAugment(ops=("Rotate", "Spin")), "unknown ops \\['Spin'\\]"),
        (lambda: TimmRandAugment(ops=("Rotate", "Rotate")), "lists an op twice"),
        (lambda: TimmRandAugment(ops=("Rotate", "Invert"), weights=(1.0,)), "must be 2 finite numbers >= 0"),
        (lambda: TimmRandAugment(3, ops=("Rotate", "Invert"), weights=(1.0, 1.0)), "only 2 ops have a weight > 0; lower num_ops"),
        (lambda: TimmRandAugment(fill=2.0), "fill=2.0 must be a number"),
        (lambda: TimmAutoAugment("v1"), "unknown policy 'v1'; choose from original, originalr, v0, v0r, 3a"),
        (lambda: TimmAugMix(width=-1), "width=-1 must be an int >= 0"),
        (lambda: TimmAugMix(depth=1.5), "depth=1.5 must be an int"),
        (lambda: TimmAugMix(alpha=0), "alpha=0 must be a finite number > 0"),
    ],
)  # fmt: skip
def test_bad_arguments_fail_with_one_line(build, message):
    with pytest.raises(AugbenchError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


def test_geometric_set_is_the_pixel_moving_ops():
    assert GEOMETRIC == {"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}
