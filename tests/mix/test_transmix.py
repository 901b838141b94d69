"""TransMix card (augbench/mix/transmix.py): CutMix label weight = attention mass of the pasted box."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import InputTypeError, InputValueError
from augbench.mix import Mixup, TransMix
from augbench.mix.transmix import pasted_attention
from augbench.random import Params

NUM_CLASSES = 4


def known_draw(cutmix: list[bool]) -> Params:
    """Three 8x8 samples on a 4x4 grid of 2x2 patches, with hand-placed boxes."""
    return Params(
        3,
        index=torch.tensor([1, 2, 0]),
        cutmix=torch.tensor(cutmix),
        lam=torch.tensor([0.3, 0.6, 0.25]),
        top=torch.tensor([0, 1, 4]),  # 0: patches (0..1, 0..1); 1: a quarter of each of them; 2: bottom half
        left=torch.tensor([0, 1, 0]),
        height=torch.tensor([4, 2, 4]),
        width=torch.tensor([4, 2, 8]),
    )


def known_attention() -> torch.Tensor:
    """(3, 2, 4, 4): two heads whose mean is ``1..16`` row-major over the grid (sum 136)."""
    mean = torch.arange(1.0, 17.0).view(4, 4)
    heads = torch.stack([mean - 0.5, mean + 0.5])
    return heads.expand(3, 2, 4, 4)


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images, torch.tensor([0, 1, 3])


def test_lam_equals_the_attention_mass_outside_the_pasted_region() -> None:
    mixer = TransMix(NUM_CLASSES, attention_weight=1.0)
    images, labels = inputs()
    params = known_draw([True, True, True])
    result = mixer.relabel(mixer.apply(images, labels, params), labels, params, known_attention())
    pasted = torch.tensor([(1 + 2 + 5 + 6) / 136, 0.25 * (1 + 2 + 5 + 6) / 136, sum(range(9, 17)) / 136])
    torch.testing.assert_close(result.lam, 1 - pasted)
    one_hot = torch.nn.functional.one_hot(labels, NUM_CLASSES).float()
    expected = result.lam[:, None] * one_hot + (1 - result.lam[:, None]) * one_hot[params.index]
    torch.testing.assert_close(result.targets, expected)


def test_default_averages_area_and_attention_and_mixup_draws_keep_their_lam() -> None:
    mixer = TransMix(NUM_CLASSES)
    images, labels = inputs()
    params = known_draw([True, False, True])
    mixed = mixer.apply(images, labels, params)
    torch.testing.assert_close(mixed.lam, torch.tensor([1 - 16 / 64, 0.6, 0.5]))  # area, blend, area
    result = mixer.relabel(mixed, labels, params, known_attention())
    attended = 1 - torch.tensor([14 / 136, 0.0, 100 / 136])
    expected = torch.tensor([0.5 * 0.75 + 0.5 * attended[0], 0.6, 0.5 * 0.5 + 0.5 * attended[2]])
    torch.testing.assert_close(result.lam, expected)
    assert torch.equal(result.inputs, mixed.inputs) and torch.equal(result.index, mixed.index)


def test_attention_off_the_box_gives_the_partner_no_label() -> None:
    mixer = TransMix(NUM_CLASSES, attention_weight=1.0)
    images, labels = inputs()
    params = known_draw([True, True, True])
    attention = torch.zeros(3, 2, 4, 4)
    attention[..., 3, 3] = 1.0  # all mass on the bottom-right patch: outside boxes 0 and 1, inside box 2
    result = mixer.relabel(mixer.apply(images, labels, params), labels, params, attention)
    torch.testing.assert_close(result.lam, torch.tensor([1.0, 1.0, 0.0]))


def test_uniform_attention_gives_the_area_and_attention_lam_correlates_with_area() -> None:
    batch = 512
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 1, 16, 16), dtype=torch.uint8, generator=generator)
    labels = torch.zeros(batch, dtype=torch.int64)
    mixer = TransMix(2, switch_prob=1.0)
    params = mixer.sample(images, labels, generator=generator)
    area_lam = mixer.apply(images, labels, params).lam
    uniform = torch.ones(batch, 3, 4, 4)
    torch.testing.assert_close(1 - pasted_attention(params, uniform, (16, 16)), area_lam)
    peaked = torch.softmax(2 * torch.randn(batch, 3, 4, 4, generator=generator).flatten(2), -1).view(batch, 3, 4, 4)
    attention_lam = 1 - pasted_attention(params, peaked, (16, 16))
    correlation = torch.corrcoef(torch.stack([attention_lam, area_lam]))[0, 1]
    assert float(correlation) > 0.6
    assert float((attention_lam - area_lam).abs().mean()) > 0.02  # content matters, not only the area


def test_switch_prob_zero_is_mixup() -> None:
    images, labels = inputs()
    transmix = TransMix(NUM_CLASSES, switch_prob=0.0, mixup_alpha=1.0)
    params = transmix.sample(images, labels, generator=torch.Generator().manual_seed(0))
    assert not bool(params.cutmix.any())
    result = transmix.apply(images, labels, params)
    mixup = Mixup(NUM_CLASSES).apply(images, labels, Params(3, index=params.index, lam=params.lam))
    assert torch.equal(result.inputs, mixup.inputs) and torch.equal(result.lam, mixup.lam)
    relabelled = transmix.relabel(result, labels, params, torch.rand(3, 1, 4, 4))
    assert torch.equal(relabelled.lam, result.lam)


def test_switch_prob_sets_the_cutmix_share() -> None:
    images = torch.zeros(2000, 1, 4, 4, dtype=torch.uint8)
    labels = torch.zeros(2000, dtype=torch.int64)
    params = TransMix(2, switch_prob=0.8).sample(images, labels, torch.Generator().manual_seed(1))
    assert abs(float(params.cutmix.float().mean()) - 0.8) < 0.03


@pytest.mark.parametrize(
    "attention, error, match",
    [
        (torch.ones(3, 2, 16), InputValueError, r"shape \(B=3, heads, rows, cols\)"),
        (torch.ones(3, 2, 3, 3), InputValueError, "does not tile 8x8"),
        (-torch.ones(3, 2, 4, 4), InputValueError, "negative or non-finite"),
        (torch.full((3, 2, 4, 4), float("nan")), InputValueError, "negative or non-finite"),
        (torch.ones(3, 2, 4, 4, dtype=torch.int64), InputTypeError, "floating tensor"),
    ],
)
def test_bad_attention_raises_one_line(attention: torch.Tensor, error: type, match: str) -> None:
    mixer = TransMix(NUM_CLASSES)
    images, labels = inputs()
    params = known_draw([True, True, True])
    with pytest.raises(error, match=match) as info:
        mixer.relabel(mixer.apply(images, labels, params), labels, params, attention)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"switch_prob": 1.5}, r"switch_prob=1.5 must be a number in \[0, 1\]"),
        ({"attention_weight": -0.1}, "attention_weight=-0.1"),
        ({"mixup_alpha": 0.0}, "mixup_alpha"),
        ({"cutmix_alpha": float("nan")}, "cutmix_alpha"),
    ],
)
def test_constructor_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputValueError, match=match):
        TransMix(NUM_CLASSES, **kwargs)
