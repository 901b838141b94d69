"""AutoAugment: the published tables, uniform sub-policy choice, per-slot firing, torchvision magnitudes."""

from __future__ import annotations

import re

import pytest
import torch
from scipy import stats
from torch import Tensor

import augbench.functional as F
from augbench.errors import ConfigError
from augbench.policies import AUTOAUGMENT_POLICIES, GEOMETRIC_OPS, SPACES, AutoAugment

DRAWS = 100_000
P_MIN = 1e-3

# The appendix of shared/methods/policies.md, verbatim (three sub-policies per line).
CARD_POLICIES = {
    "cifar10": """
Invert .1 – | Contrast .2 6        Rotate .7 2 | TranslateX .3 9      Sharpness .8 1 | Sharpness .9 3
ShearY .5 8 | TranslateY .7 9      AutoContrast .5 – | Equalize .9 –  ShearY .2 7 | Posterize .3 7
Color .4 3 | Brightness .6 7       Sharpness .3 9 | Brightness .7 9   Equalize .6 – | Equalize .5 –
Contrast .6 7 | Sharpness .6 5     Color .7 7 | TranslateX .5 8       Equalize .3 – | AutoContrast .4 –
TranslateY .4 3 | Sharpness .2 6   Brightness .9 6 | Color .2 8       Solarize .5 2 | Invert .0 –
Equalize .2 – | AutoContrast .6 –  Equalize .2 – | Equalize .6 –     Color .9 9 | Equalize .6 –
AutoContrast .8 – | Solarize .2 8  Brightness .1 3 | Color .7 0       Solarize .4 5 | AutoContrast .9 –
TranslateY .9 9 | TranslateY .7 9  AutoContrast .9 – | Solarize .8 3  Equalize .8 – | Invert .1 –
TranslateY .7 9 | AutoContrast .9 –
""",
    "imagenet": """
Posterize .4 8 | Rotate .6 9       Solarize .6 5 | AutoContrast .6 –  Equalize .8 – | Equalize .6 –
Posterize .6 7 | Posterize .6 6    Equalize .4 – | Solarize .2 4      Equalize .4 – | Rotate .8 8
Solarize .6 3 | Equalize .6 –      Posterize .8 5 | Equalize 1.0 –    Rotate .2 3 | Solarize .6 8
Equalize .6 – | Posterize .4 6     Rotate .8 8 | Color .4 0           Rotate .4 9 | Equalize .6 –
Equalize .0 – | Equalize .8 –      Invert .6 – | Equalize 1.0 –       Color .6 4 | Contrast 1.0 8
Rotate .8 8 | Color 1.0 2          Color .8 8 | Solarize .8 7         Sharpness .4 7 | Invert .6 –
ShearX .6 5 | Equalize 1.0 –       Color .4 0 | Equalize .6 –         Equalize .4 – | Solarize .2 4
Solarize .6 5 | AutoContrast .6 –  Invert .6 – | Equalize 1.0 –       Color .6 4 | Contrast 1.0 8
Equalize .8 – | Equalize .6 –
""",
}


def _card_table(text: str) -> list[tuple[tuple[str, float, int | None], ...]]:
    table = []
    for line in text.strip().splitlines():
        for subpolicy in re.split(r"\s{2,}", line.strip()):
            pair = []
            for op in subpolicy.split("|"):
                name, probability, magnitude = op.split()
                pair.append((name, float(probability), None if magnitude == "–" else int(magnitude)))
            table.append(tuple(pair))
    return table


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _distinct(images: Tensor) -> int:
    return len(torch.unique(images.flatten(1), dim=0))


@pytest.mark.parametrize("policy", sorted(CARD_POLICIES))
def test_tables_match_the_card(policy):
    assert list(AUTOAUGMENT_POLICIES[policy]) == _card_table(CARD_POLICIES[policy])


@pytest.mark.parametrize("policy", sorted(AUTOAUGMENT_POLICIES))
def test_tables_are_well_formed(policy):
    table = AUTOAUGMENT_POLICIES[policy]
    assert len(table) == 25
    for pair in table:
        assert len(pair) == 2
        for name, probability, magnitude in pair:
            assert name in SPACES["autoaugment"]
            assert 0.0 <= probability <= 1.0
            no_magnitude = name in ("Invert", "Equalize", "AutoContrast")
            assert (magnitude is None) == no_magnitude and (no_magnitude or 0 <= magnitude <= 9)


@pytest.mark.parametrize("policy", ["cifar100", "CIFAR10", ["cifar10"], None])
def test_unknown_policy_lists_the_valid_ones(policy):
    with pytest.raises(ConfigError, match=r"unknown policy .*; choose from cifar10, imagenet, svhn"):
        AutoAugment(policy)


def test_bad_fill_is_refused():
    with pytest.raises(ValueError, match="fill"):
        AutoAugment(fill=1.5)


# -- draws -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(AUTOAUGMENT_POLICIES))
def test_subpolicy_choice_is_uniform_and_ops_fire_with_their_probability(policy):
    """The card's falsifier: over 1e5 draws each (op, p) slot fires with frequency p / 25."""
    params = AutoAugment(policy).sample_for(DRAWS, (3, 32, 32), _seeded(11))
    counts = torch.bincount(params.subpolicy, minlength=25)
    assert counts.numel() == 25 and stats.chisquare(counts.numpy()).pvalue > P_MIN
    table = AUTOAUGMENT_POLICIES[policy]
    fired = [torch.bincount(params.subpolicy[params.fires[:, slot]], minlength=25).tolist() for slot in range(2)]
    for index, pair in enumerate(table):
        for slot, (name, probability, _) in enumerate(pair):
            if probability in (0.0, 1.0):  # exact: never / whenever the sub-policy is chosen
                assert fired[slot][index] == (0 if probability == 0.0 else int(counts[index])), (index, slot, name)
                continue
            pvalue = stats.binomtest(fired[slot][index], DRAWS, probability / 25).pvalue
            assert pvalue > P_MIN / 50, (index, slot, name, fired[slot][index])
    # The two slots fire independently of each other.
    both = params.fires.all(1)
    expected = sum(p0 * p1 for (_, p0, _), (_, p1, _) in table) / 25
    assert stats.binomtest(int(both.sum()), DRAWS, expected).pvalue > P_MIN


def test_signs_are_drawn_per_slot():
    params = AutoAugment().sample_for(DRAWS, (3, 32, 32), _seeded(12))
    for slot in range(2):
        assert stats.binomtest(int((params.sign[:, slot] > 0).sum()), DRAWS, 0.5).pvalue > P_MIN
    assert 0.2 < (params.sign[:, 0] != params.sign[:, 1]).double().mean() < 0.8


@pytest.mark.parametrize("policy", sorted(AUTOAUGMENT_POLICIES))
@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_copies_of_one_real_image_get_different_augmentations(cifar_copies, policy, kind):
    images = cifar_copies if kind == "uint8" else cifar_copies.float() / 255
    out = AutoAugment(policy)(images, generator=_seeded(1))
    assert out.dtype == images.dtype and out.shape == images.shape
    assert _distinct(out) >= 6  # many sub-policies fire no op, so some copies stay unchanged
    assert _distinct(AutoAugment(policy, same_on_batch=True)(images, generator=_seeded(1))) == 1


# -- application -----------------------------------------------------------------------------------


def _reference_op(image: Tensor, name: str, magnitude: int | None, sign: float) -> Tensor:
    """One op on one ``(1, C, H, W)`` image at torchvision's ``linspace(0, max, 10)[m]``."""
    level = (magnitude or 0) / 9
    white = 255.0 if image.dtype == torch.uint8 else 1.0
    if name == "Rotate":
        return F.rotate(image, sign * 30.0 * level)
    if name in ("ShearX", "ShearY"):
        return getattr(F, name.replace("Shear", "shear_").lower())(image, sign * 0.3 * level)
    if name in ("TranslateX", "TranslateY"):
        side = image.shape[-1] if name == "TranslateX" else image.shape[-2]
        pixels = round(sign * 150 / 331 * level * side)
        return getattr(F, name.replace("Translate", "translate_").lower())(image, pixels)
    factor = 1.0 + sign * 0.9 * level
    enhance = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation, "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if name in enhance:
        return enhance[name](image, factor)
    if name == "Posterize":
        return F.posterize(image, 8 - round(4 * level))
    if name == "Solarize":  # augbench's threshold runs from above white (identity) down to 0
        return F.solarize(image, 256 / 255 * (1 - level) * white)
    return {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert}[name](image)


@pytest.mark.parametrize("policy", sorted(AUTOAUGMENT_POLICIES))
def test_application_matches_a_per_sample_reference(cifar_images, policy):
    augment = AutoAugment(policy)
    images = cifar_images
    params = augment.sample(images, generator=_seeded(13))
    out = augment.apply(images, params)
    fired = 0
    for b in range(images.shape[0]):
        expected = images[b : b + 1]
        for slot, (name, _, magnitude) in enumerate(AUTOAUGMENT_POLICIES[policy][params.subpolicy[b]]):
            if params.fires[b, slot]:
                expected = _reference_op(expected, name, magnitude, float(params.sign[b, slot]))
                fired += 1
        assert torch.equal(out[b], expected[0]), (b, AUTOAUGMENT_POLICIES[policy][params.subpolicy[b]], params.fires[b])
    assert fired >= 16


def test_masks_follow_only_the_geometric_ops(cifar_images):
    augment = AutoAugment("svhn")  # mostly shears, with inverts and colour ops mixed in
    images = cifar_images
    masks = images[:, :1].long()
    params = augment.sample(images, generator=_seeded(14))
    moved = augment.apply(masks, params, target="mask")
    for b in range(images.shape[0]):
        expected = masks[b : b + 1]
        for slot, (name, _, magnitude) in enumerate(AUTOAUGMENT_POLICIES["svhn"][params.subpolicy[b]]):
            if params.fires[b, slot] and name in GEOMETRIC_OPS:
                expected = _reference_op(expected, name, magnitude, float(params.sign[b, slot]))
        assert torch.equal(moved[b], expected[0]), b
    assert not torch.equal(moved, masks)
