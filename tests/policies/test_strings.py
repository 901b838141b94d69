"""Policy strings: canonical round trips, the parameters of built objects, one-line errors."""

from __future__ import annotations

import dataclasses
import math

import pytest

from augbench import Compose, HorizontalFlip, RandomCrop, RandomErasing, RandomResizedCrop
from augbench.errors import ConfigError
from augbench.policies import AugMix, AutoAugment, PipelineSpec, RandAugment, TrivialAugmentWide, parse, policy
from augbench.policies.strings import ELEMENTS, ElementSpec

CANONICAL = [
    "rand-m9-n2-mstd0.5-inc1",
    "rand-m9-n2",
    "rand-n3-m5-mmax7.5",
    "augmix-m5-w3-d2",
    "augmix-m3-w4-a0.5",
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
        ("  rand-m9.0-n2  ", "rand-m9-n2"),
        ("rand-n2.0", "rand-n2"),
        ("rand-m1e1", "rand-m10"),
        ("AUTOAUG-CIFAR10", "autoaug-cifar10"),
    ],
)
def test_equivalent_spellings_have_one_canonical_form(text, canonical):
    assert str(parse(text)) == canonical


def test_sections_keep_their_order_and_values():
    spec = parse("rand-n2-m9-mstd0.5")
    assert spec.elements == (ElementSpec("rand", "", (("n", 2), ("m", 9.0), ("mstd", 0.5))),)
    assert isinstance(spec.elements[0].get("n"), int) and spec.elements[0].get("inc") is None


def test_specs_are_frozen():
    spec = parse("rand-m9")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.elements = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.elements[0].name = "augmix"  # type: ignore[misc]


# -- built objects ---------------------------------------------------------------------------------


def test_rand_builds_randaugment_on_the_timm_scale():
    augment = policy("rand-m9-n2")
    assert type(augment) is RandAugment
    assert (augment.num_ops, augment.magnitude, augment.num_magnitude_bins) == (2, 9.0, 11)
    assert augment.magnitude_std == 0.0 and augment.magnitude_max == 10.0 and augment.space == "standard"
    noisy = policy("rand-m7-n3-mstd0.5-mmax8-inc1")
    assert (noisy.num_ops, noisy.magnitude, noisy.magnitude_std, noisy.magnitude_max) == (3, 7.0, 0.5, 8.0)
    defaults = policy("rand")
    assert (defaults.num_ops, defaults.magnitude) == (2, 9.0)


def test_rand_huge_mstd_means_uniform_like_timm():
    """timm reads ``mstd`` above 100 as "uniform in [0, m]" (``magnitude_std = inf``)."""
    assert policy("rand-m9-mstd101").magnitude_std == math.inf
    assert policy("rand-m9-mstd100").magnitude_std == 100.0


def test_augmix_trivialaugment_and_autoaug_build_their_policies():
    augmix = policy("augmix-m5-w3-d2")
    assert type(augmix) is AugMix
    assert (augmix.severity, augmix.width, augmix.depth, augmix.alpha, augmix.all_ops) == (5, 3, 2, 1.0, False)
    defaults = policy("augmix")
    assert (defaults.severity, defaults.width, defaults.depth) == (3, 3, -1)
    assert policy("augmix-a0.5").alpha == 0.5
    trivial = policy("trivialaugment")
    assert type(trivial) is TrivialAugmentWide and trivial.space == "wide" and trivial.num_magnitude_bins == 31
    for name in ("cifar10", "imagenet", "svhn"):
        auto = policy(f"autoaug-{name}")
        assert type(auto) is AutoAugment and auto.policy == name


def test_pipelines_build_a_compose_in_order():
    pipeline = policy("rrc32-hflip-rand-m9-n2-erase0.25")
    assert type(pipeline) is Compose
    assert [type(t) for t in pipeline.transforms] == [RandomResizedCrop, HorizontalFlip, RandAugment, RandomErasing]
    assert pipeline.transforms[2].num_ops == 2 and pipeline.transforms[3].p == 0.25
    crop = policy("crop32p4-hflip")
    assert [type(t) for t in crop.transforms] == [RandomCrop, HorizontalFlip]


# -- errors ----------------------------------------------------------------------------------------


def _one_line_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ValueError)  # except ValueError keeps working
    return message


@pytest.mark.parametrize(
    "text, token, choices",
    [
        ("foo-m9", "'foo'", ["rand", "augmix", "trivialaugment", "autoaug", "rrc", "crop", "hflip", "erase"]),
        ("rand-x3", "'x3'", ["m", "n", "mstd", "mmax", "inc"]),
        ("augmix-m5-q2", "'q2'", ["m", "w", "d", "a"]),
        ("trivialaugment-m3", "'m3'", ["rand", "augmix"]),
        ("rand-m", "'m'", ["m9"]),
        ("rand-mstd", "'mstd'", ["mstd9"]),
        ("rand-nabc", "'nabc'", ["m", "n", "mstd"]),
        ("rand-m11", "m11", ["[0, 10]"]),
        ("rand-n17", "n17", ["[0, 16]"]),
        ("augmix-m0", "m0", ["[1, 10]"]),
        ("augmix-d4", "d4", ["[1, 3]"]),
        ("augmix-w0", "w0", ["[1, 16]"]),
        ("rand-inc0", "inc0", ["inc1"]),
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


@pytest.mark.parametrize("text", ["", "   ", None, 9])
def test_non_strings_and_empty_strings_raise(text):
    with pytest.raises(ConfigError, match="non-empty string"):
        parse(text)  # type: ignore[arg-type]


def test_every_element_example_parses_and_round_trips():
    for name, grammar in ELEMENTS.items():
        for example in (grammar.example or name).split(" or "):
            assert str(parse(example)) == example, name
            assert parse(example).elements[0].name == name
