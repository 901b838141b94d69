"""series_mixup and series_cutmix: the mixer contract on (B, C, L) series, CutMix's label weight, padding."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import AugbenchError, InputValueError
from augbench.mix import MIXERS, Mixer, SeriesCutMix, SeriesMixup

NAMES = ["series_mixup", "series_cutmix"]
NUM_CLASSES = 4


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _batch(batch: int = 9, channels: int = 2, length: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    generator = _gen(batch)
    return torch.randn(batch, channels, length, generator=generator) + 3.0, torch.randint(0, NUM_CLASSES, (batch,), generator=generator)


def _one_hot(labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, NUM_CLASSES).float()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("per_sample", [True, False])
def test_shapes_targets_replay_and_round_trip(name, per_sample):
    x, y = _batch()
    mixer = MIXERS.build(name, num_classes=NUM_CLASSES, per_sample=per_sample)
    assert mixer.modality == "timeseries"
    result = mixer(x, y, generator=_gen())
    assert result.inputs.shape == x.shape and result.inputs.dtype == x.dtype
    expected = result.lam[:, None] * _one_hot(y) + (1 - result.lam[:, None]) * _one_hot(y[result.index])
    torch.testing.assert_close(result.targets, expected)
    params = mixer.sample(x, y, generator=_gen())
    assert torch.equal(mixer.apply(x, y, params).inputs, result.inputs)
    again = Mixer.from_dict(mixer.to_dict())
    assert torch.equal(again(x, y, generator=_gen()).inputs, result.inputs)
    if not per_sample:
        assert result.lam.unique().numel() == 1 or name == "series_cutmix"


def test_mixup_is_the_convex_combination():
    x, y = _batch()
    result = SeriesMixup(NUM_CLASSES, alpha=0.4)(x, y, generator=_gen())
    lam = result.lam[:, None, None]
    torch.testing.assert_close(result.inputs, lam * x + (1 - lam) * x[result.index])


def test_cutmix_pastes_one_span_and_weighs_labels_by_the_steps_kept():
    x, y = _batch(32)
    result = SeriesCutMix(NUM_CLASSES)(x, y, generator=_gen())
    from_partner = (result.inputs == x[result.index]).all(1) & (result.inputs != x).any(1)
    kept = (result.inputs == x).all(1)
    assert bool((from_partner | kept).all())
    torch.testing.assert_close(result.lam, kept.float().mean(-1))
    for row in from_partner:
        steps = row.nonzero().flatten()
        if steps.numel():
            assert int(steps[-1] - steps[0]) + 1 == steps.numel(), "one contiguous span"


def test_padded_samples_keep_their_length_and_mix_with_stretched_partners():
    x, y = _batch(2, 1, 30)
    x[0, :, 10:] = 0.0  # sample 0 has 10 steps, its partner (sample 1, the only other one) 30
    ramp = torch.arange(30.0) + 1.0
    x[1, 0] = ramp
    cut = SeriesCutMix(NUM_CLASSES)(x, y, generator=_gen())
    assert bool((cut.inputs[0, :, 10:] == 0).all())
    assert torch.allclose(cut.lam[0] * 10, (cut.lam[0] * 10).round())
    stretched = torch.arange(10.0) * 29 / 9 + 1  # the partner's 30 steps read at 10 evenly spaced times
    pasted = cut.inputs[0, 0, :10] != x[0, 0, :10]
    assert int(pasted.sum()) == round((1 - float(cut.lam[0])) * 10)
    torch.testing.assert_close(cut.inputs[0, 0, :10][pasted], stretched[pasted])
    mixed = SeriesMixup(NUM_CLASSES)(x, y, generator=_gen())
    assert bool((mixed.inputs[0, :, 10:] == 0).all())
    lam = mixed.lam[0]
    torch.testing.assert_close(mixed.inputs[0, 0, :10], lam * x[0, 0, :10] + (1 - lam) * stretched)


def test_pad_value_none_mixes_every_step():
    x, y = _batch(2, 1, 30)
    x[0, :, 10:] = 0.0
    mixed = SeriesMixup(NUM_CLASSES, pad_value=None)(x, y, generator=_gen())
    lam = mixed.lam[:, None, None]
    torch.testing.assert_close(mixed.inputs, lam * x + (1 - lam) * x[mixed.index])


def test_batch_of_one_and_empty_batch():
    x, y = _batch(1)
    for name in NAMES:
        result = MIXERS.build(name, num_classes=NUM_CLASSES)(x, y, generator=_gen())
        assert result.inputs.shape == x.shape
        empty = MIXERS.build(name, num_classes=NUM_CLASSES)(x[:0], y[:0], generator=_gen())
        assert empty.inputs.shape == (0, 2, 40) and empty.lam.shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_line(name):
    mixer = MIXERS.build(name, num_classes=NUM_CLASSES)
    x, y = _batch()
    with pytest.raises(AugbenchError, match=r"timeseries batches are \(B, C, L\)"):
        mixer(torch.zeros(4, 3, 8, 8), y[:4], generator=_gen())
    bad = x.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(AugbenchError, match="NaN"):
        mixer(bad, y, generator=_gen())
    empty_row = x.clone()
    empty_row[3] = 0.0
    with pytest.raises(InputValueError, match="sample 3 is all padding"):
        mixer(empty_row, y, generator=_gen())
    with pytest.raises(InputValueError, match="pad_value"):
        MIXERS.build(name, num_classes=NUM_CLASSES, pad_value="zero")
    with pytest.raises(InputValueError, match="alpha"):
        MIXERS.build(name, num_classes=NUM_CLASSES, alpha=0.0)
