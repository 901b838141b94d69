"""The timeseries policy ops: level 0 is the identity, strength rises with the level, RandAugment runs."""

from __future__ import annotations

import pytest
import torch

from augbench.cli import main
from augbench.policies.modal import ModalityRandAugment, list_ops, modality_ops
from augbench.serialization import from_dict

OPS = list(modality_ops("timeseries"))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _series(batch: int = 64, channels: int = 3, length: int = 80) -> torch.Tensor:
    return torch.randn(batch, channels, length, generator=_gen(7)).cumsum(-1) * 0.3 + 1.0


def test_every_op_of_the_issue_is_registered():
    assert OPS == ["Jitter", "Scaling", "MagnitudeWarp", "TimeWarp", "WindowSlice", "WindowWarp",
                   "Permutation", "SignFlip", "TimeMask", "FrequencyMask", "Drift"]
    assert all(description for _, description in list_ops("timeseries"))


@pytest.mark.parametrize("name", OPS)
def test_level_zero_is_exactly_the_identity(name):
    x = _series()
    assert torch.equal(modality_ops("timeseries")[name].at(0.0)(x, generator=_gen()), x)


@pytest.mark.parametrize("name", OPS)
def test_strength_rises_with_the_level(name):
    x = _series()
    change = [
        float((modality_ops("timeseries")[name].at(level)(x, generator=_gen()) - x).abs().mean())
        for level in (0.0, 0.3, 1.0)
    ]
    assert change[0] == 0.0 < change[1] < change[2]


def test_rand_augment_runs_on_padded_series_and_keeps_the_padding():
    x = _series(32, 12, 29)
    lengths = 7 + torch.arange(32) % 23
    x = x.masked_fill(torch.arange(29) >= lengths[:, None, None], 0.0)
    policy = ModalityRandAugment("timeseries", num_ops=2, magnitude=9)
    out = policy(x, generator=_gen())
    assert out.shape == x.shape and not torch.equal(out, x)
    assert bool((out.masked_select(torch.arange(29) >= lengths[:, None, None]) == 0).all())
    again = from_dict(policy.to_dict())
    assert torch.equal(again(x, generator=_gen()), out)


def test_rand_augment_magnitude_zero_is_the_identity():
    x = _series()
    assert torch.equal(ModalityRandAugment("timeseries", num_ops=3, magnitude=0)(x, generator=_gen()), x)


def test_list_ops_cli(capsys):
    assert main(["list", "ops", "--modality", "timeseries"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in OPS)
