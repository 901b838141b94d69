"""Policy strings: canonical round trips, timm's keys and defaults, the built objects, one-line errors."""

from __future__ import annotations

import dataclasses
import math

import pytest

from augbench import Compose, HorizontalFlip, RandomCrop, RandomErasing, RandomResizedCrop
from augbench.errors import ConfigError
from augbench.policies import (
    AugMix, AutoAugment, PipelineSpec, TimmAugMix, TimmAutoAugment, TimmRandAugment, TrivialAugmentWide, describe, parse, policy,
)  # fmt: skip
from augbench.policies.strings import ELEMENTS, ElementSpec
from augbench.policies.timm_ops import AUGMIX_OPS, RAND_CHOICES, RAND_INCREASING_OPS, RAND_OPS

CANONICAL = [
    "rand-m9-n2-mstd0.5-inc1",
    "rand-m9-n2",
    "rand-n3-m5-mmax7",
    "rand-m9-mstd0.5",
    "rand-m15-n2-mmax20-p0.3-inc0",
    "rand-mstd1-tweights",
    "rand-m9-t3aw",
    "rand-t3a-n3",
    "augmix-m5-w3-d2",
    "augmix-m3-w4-a0.5",
    "augmix-m3-w3-b1-mstd0.5",
    "original",
    "originalr-mstd0.5",
    "v0",
    "v0r-mstd1",
    "3a",
    "rrc32-hflip-3a-erase0.25",
    "trivialaugment",
    "autoaug-cifar10",
    "autoaug-imagenet",
    "autoaug-svhn",
    "rrc32-hflip-rand-m9-n2-erase0.25",
    "crop32p4-hflip",
    "rrc224s0.25-vflip0.3-autoaug-imagenet-hflip",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_strings_round_trip(text):
    spec = parse(text)
    assert isinstance(spec, PipelineSpec)
    assert str(spec) == text
    assert parse(str(spec)) == spec


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("Rand-M9-N2", "rand-m9-n2"),
        ("  rand-m09-n2  ", "rand-m9-n2"),
        ("rand-mstd0.50", "rand-mstd0.5"),
        ("rand-mstd1e3", "rand-mstd1000"),
        ("rand-p0.00001", "rand-p0.00001"),  # no exponent: "1e-05" would add a dash
        ("rand-mstd1.0", "rand-mstd1"),
        ("AUTOAUG-CIFAR10", "autoaug-cifar10"),
    ],
)
def test_equivalent_spellings_have_one_canonical_form(text, canonical):
    assert str(parse(text)) == canonical


def test_sections_keep_their_order_and_values():
    spec = parse("rand-n2-m9-mstd0.5-tweights")
    assert spec.elements == (ElementSpec("rand", "", (("n", 2), ("m", 9), ("mstd", 0.5), ("t", "weights"))),)
    assert isinstance(spec.elements[0].get("m"), int) and spec.elements[0].get("inc") is None


def test_specs_are_frozen():
    spec = parse("rand-m9")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.elements = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.elements[0].name = "augmix"  # type: ignore[misc]


# -- built objects: timm's meaning ------------------------------------------------------------------


def test_rand_builds_timms_randaugment_with_timms_defaults():
    augment = policy("rand-m9-n2")
    assert type(augment) is TimmRandAugment
    assert (augment.num_ops, augment.magnitude, augment.prob, augment.magnitude_std, augment.magnitude_max) == (2, 9.0, 0.5, 0.0, 10.0)
    assert augment.ops == RAND_OPS and augment.weights is None and augment.interpolation == "random"
    assert augment.fill == 128 / 255
    defaults = policy("rand")  # timm: m = 10 (_LEVEL_DENOM), n = 2, p = 0.5, not increasing
    assert (defaults.num_ops, defaults.magnitude, defaults.prob, defaults.ops) == (2, 10.0, 0.5, RAND_OPS)
    assert policy("rand-mstd1").magnitude == 10.0  # timm's default magnitude, not 9


@pytest.mark.parametrize("text", ["rand-m9-mstd0.5", "rand-m9-n3-mstd0.5", "rand-m6-n4-mstd1.0", "rand-m9-inc0"])
def test_rand_without_inc1_uses_timms_non_increasing_ops(text):
    assert policy(text).ops == RAND_OPS
    assert describe(text)["increasing"] is False


def test_inc_selects_the_increasing_ops_for_any_nonzero_value():
    assert policy("rand-m9-mstd0.5-inc1").ops == RAND_INCREASING_OPS
    assert policy("rand-inc2").ops == RAND_INCREASING_OPS  # timm: bool(int(val))
    assert set(RAND_OPS) - set(RAND_INCREASING_OPS) == {"Posterize", "Solarize", "Color", "Contrast", "Brightness", "Sharpness"}


def test_rand_keys_reach_the_transform():
    augment = policy("rand-m7-n3-p0.3-mstd0.5-mmax8-inc1")
    assert (augment.num_ops, augment.magnitude, augment.prob, augment.magnitude_std, augment.magnitude_max) == (3, 7.0, 0.3, 0.5, 8.0)
    assert policy("rand-m15-n2").magnitude_max == 10.0  # accepted; the magnitude is clipped to 10 when applied
    assert policy("rand-m15-mmax20").magnitude_max == 20.0
    assert policy("rand-mmax0").magnitude_max == 10.0  # timm: magnitude_max or 10
    assert policy("rand-p1.5").prob == 1.0  # timm fires an op always from p = 1 up
    assert describe("rand-p1.5")["prob"] == 1.5


def test_rand_huge_mstd_means_uniform_like_timm():
    """timm reads ``mstd`` above 100 as "uniform in [0, m]" (``magnitude_std = inf``)."""
    assert policy("rand-m9-mstd101").magnitude_std == math.inf
    assert policy("rand-m9-mstd100").magnitude_std == 100.0


@pytest.mark.parametrize("choice", sorted(RAND_CHOICES))
def test_t_selects_timms_op_sets(choice):
    augment = policy(f"rand-t{choice}")
    expected = RAND_CHOICES[choice]
    assert augment.ops == tuple(expected)
    assert augment.weights == (tuple(float(w) for w in expected.values()) if isinstance(expected, dict) else None)
    assert policy(f"rand-inc1-t{choice}").ops == augment.ops  # the t sets do not depend on inc


def test_augmix_builds_timms_augmix():
    augmix = policy("augmix-m5-w4-d2")
    assert type(augmix) is TimmAugMix and isinstance(augmix, AugMix)  # AugMix + JSD takes it
    assert (augmix.magnitude, augmix.width, augmix.depth, augmix.alpha, augmix.blended) == (5.0, 4, 2, 1.0, False)
    assert augmix.magnitude_std == math.inf  # timm's default: magnitude uniform in [0, m]
    defaults = policy("augmix")
    assert (defaults.magnitude, defaults.width, defaults.depth, defaults.alpha) == (3.0, 3, -1, 1.0)
    assert policy("augmix-d0").depth == -1  # timm: depth <= 0 is random 1-3
    assert policy("augmix-b1").blended and policy("augmix-mstd0.5").magnitude_std == 0.5
    assert policy("augmix-mstd0").magnitude_std == 0.0
    assert policy("augmix-a0.5").alpha == 0.5 and policy("augmix-w0").width == 0


@pytest.mark.parametrize("name", ["original", "originalr", "v0", "v0r", "3a"])
def test_autoaugment_names_build_timms_policies(name):
    auto = policy(name)
    assert type(auto) is TimmAutoAugment and auto.policy == name and auto.magnitude_std == 0.0
    assert policy(f"{name}-mstd0.5").magnitude_std == 0.5


def test_strings_timm_lacks_keep_augbenchs_torchvision_classes():
    trivial = policy("trivialaugment")
    assert type(trivial) is TrivialAugmentWide and trivial.space == "wide" and trivial.num_magnitude_bins == 31
    for name in ("cifar10", "imagenet", "svhn"):
        auto = policy(f"autoaug-{name}")
        assert type(auto) is AutoAugment and auto.policy == name


# -- describe: the parameters for the conformance suite ----------------------------------------------


def test_describe_rand_lists_timms_parameters():
    assert describe("rand-m9-n3-mstd0.5") == {
        "family": "rand", "magnitude": 9, "num_ops": 3, "prob": 0.5, "magnitude_std": 0.5, "magnitude_max": 10,
        "increasing": False, "choice": None, "ops": list(RAND_OPS), "weights": None, "fill": [128, 128, 128],
        "interpolation": "random",
    }  # fmt: skip
    weighted = describe("rand-mstd1-tweights")
    assert weighted["magnitude"] == 10 and weighted["choice"] == "weights"
    assert weighted["weights"] == pytest.approx([w / 10.1 for w in RAND_CHOICES["weights"].values()])
    assert describe("rand-mstd101")["magnitude_std"] == math.inf


def test_describe_augmix_and_autoaugment():
    augmix = describe("augmix-m5-d0-b1")
    assert augmix == {
        "family": "augmix", "magnitude": 5, "width": 3, "depth": 0, "alpha": 1.0, "blended": True,
        "magnitude_std": math.inf, "magnitude_max": 10, "prob": 1.0, "ops": list(AUGMIX_OPS), "fill": [128, 128, 128],
        "interpolation": "random",
    }  # fmt: skip
    v0 = describe("v0-mstd0.5")
    assert v0["family"] == "v0" and v0["magnitude_std"] == 0.5 and len(v0["policy"]) == 25
    assert v0["policy"][0] == [["Equalize", 0.8, 1], ["ShearY", 0.8, 4]]
    assert describe("3a")["policy"] == [[["Solarize", 1.0, 5]], [["Desaturate", 1.0, 10]], [["GaussianBlurRand", 1.0, 10]]]


@pytest.mark.parametrize("text", ["trivialaugment", "autoaug-cifar10", "rrc32-rand-m9", "hflip"])
def test_describe_takes_one_timm_policy(text):
    with pytest.raises(ConfigError, match="not one timm policy; give one of rand, augmix, original") as info:
        describe(text)
    assert "\n" not in str(info.value)


def test_pipelines_build_a_compose_in_order():
    pipeline = policy("rrc32-hflip-rand-m9-n2-erase0.25")
    assert type(pipeline) is Compose
    assert [type(t) for t in pipeline.transforms] == [RandomResizedCrop, HorizontalFlip, TimmRandAugment, RandomErasing]
    assert pipeline.transforms[2].num_ops == 2 and pipeline.transforms[3].p == 0.25
    crop = policy("crop32p4-hflip")
    assert [type(t) for t in crop.transforms] == [RandomCrop, HorizontalFlip]


# -- errors ----------------------------------------------------------------------------------------


def _one_line_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        policy(text)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ValueError)  # except ValueError keeps working
    return message


@pytest.mark.parametrize(
    "text, token, choices",
    [
        ("foo-m9", "'foo'", ["rand", "augmix", "original", "v0", "3a", "trivialaugment", "autoaug", "rrc", "crop", "hflip", "erase"]),
        ("rand-x3", "'x3'", ["m, n, p, mstd, mmax, inc, t (tweights, t3aw, t3a)"]),
        ("rand-w0", "'w0'", ["m, n, p, mstd, mmax, inc, t"]),  # timm 1.0.31 removed w
        ("rand-m9-foo", "'foo'", ["valid keys: m, n"]),  # timm skips a token without a digit
        ("rand-tfoo", "'tfoo'", ["tweights, t3aw, t3a"]),  # timm falls back to the default set
        ("rand-t", "'t'", ["tweights, t3aw, t3a"]),
        ("rand-t3x", "'t3x'", ["tweights, t3aw, t3a"]),
        ("augmix-m5-q2", "'q2'", ["m, w, d, a, b, mstd"]),
        ("augmix-mmax5", "'mmax5'", ["m, w, d, a, b, mstd"]),
        ("original-m5", "'m5'", ["valid keys: mstd"]),
        ("v0-p0.5", "'p0.5'", ["valid keys: mstd"]),
        ("trivialaugment-m3", "'m3'", ["rand", "augmix"]),
        ("rand-m", "'m'", ["m9"]),
        ("rand-mstd", "'mstd'", ["mstd9"]),
        ("rand-nabc", "'nabc'", ["m", "n", "mstd"]),
        ("rand-m9.5", "'9.5'", ["whole number", "m9"]),  # timm reads m with int()
        ("rand-m1e1", "'1e1'", ["whole number"]),
        ("rand-mmax7.5", "'7.5'", ["whole number"]),
        ("rand-mstd1e400", "mstd1e400", ["finite"]),
        ("augmix-a0", "a0", ["must be > 0"]),
        ("rand-n16-tweights", "tweights", ["n15 or fewer"]),
        ("rand-n16-t3aw", "t3aw", ["n14 or fewer"]),
        ("rand--m9", "rand--m9", ["two dashes"]),
        ("rand-m9-", "rand-m9-", ["trailing dash"]),
        ("-rand", "-rand", ["empty token"]),
        ("autoaug", "autoaug", ["cifar10", "imagenet", "svhn", "nothing"]),
        ("autoaug-cifar", "'cifar'", ["cifar10", "imagenet", "svhn"]),
        ("autoaug-m9", "'m9'", ["cifar10", "imagenet", "svhn"]),
        ("rand-m9-m5", "'m'", ["twice"]),
        ("rrc", "'rrc'", ["rrc32"]),
        ("crop32p", "'crop32p'", ["crop32p4"]),
        ("erase", "'erase'", ["erase0.25"]),
    ],
)
def test_invalid_strings_name_the_token_and_the_choices(text, token, choices):
    message = _one_line_error(text)
    assert token in message, message
    for choice in choices:
        assert choice in message, (choice, message)


def test_non_integer_counts_say_a_whole_number_is_needed():
    message = _one_line_error("rand-n2.5")
    assert "'n'" in message and "2.5" in message and "whole number" in message


@pytest.mark.parametrize(
    "text",
    [
        "rand-m15-n2", "rand-m100", "rand-n17", "rand-n0", "rand-m0", "rand-inc0", "rand-p0", "rand-p2", "rand-mmax0",
        "rand-mstd0", "augmix-m0", "augmix-m12", "augmix-d4", "augmix-d0", "augmix-w0", "augmix-w8", "augmix-b2",
        "rand-t3a-n5", "3a-mstd100",
    ],
)  # fmt: skip
def test_strings_timm_accepts_are_accepted(text):
    assert str(parse(text)) == text
    policy(text)


@pytest.mark.parametrize("text", ["", "   ", None, 9])
def test_non_strings_and_empty_strings_raise(text):
    with pytest.raises(ConfigError, match="non-empty string"):
        parse(text)  # type: ignore[arg-type]


def test_every_element_example_parses_and_round_trips():
    for name, grammar in ELEMENTS.items():
        for example in (grammar.example or name).split(" or "):
            assert str(parse(example)) == example, name
            assert parse(example).elements[0].name == name
