"""audio_mixup: Mixup of waveforms."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import AugbenchError
from augbench.mix import MIXERS, AudioMixup, Mixer


def test_blends_waveforms_and_targets_with_the_same_lam():
    mixer = MIXERS.build("audio_mixup", num_classes=3, alpha=0.4)
    x = torch.randn(6, 2, 100, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    result = mixer(x, labels, generator=torch.Generator().manual_seed(1))
    lam = result.lam.view(-1, 1, 1)
    torch.testing.assert_close(result.inputs, lam * x + (1 - lam) * x[result.index])
    assert torch.all(result.index != torch.arange(6))
    torch.testing.assert_close(result.targets.sum(1), torch.ones(6))
    torch.testing.assert_close(result.targets[torch.arange(6), labels] >= result.lam - 1e-6, torch.ones(6, dtype=torch.bool))


def test_round_trip_empty_batch_and_wrong_layout():
    mixer = AudioMixup(num_classes=3, alpha=0.4, per_sample=False)
    assert isinstance(Mixer.from_dict(mixer.to_dict()), AudioMixup)
    assert mixer(torch.zeros(0, 1, 50), torch.zeros(0, dtype=torch.int64)).inputs.shape == (0, 1, 50)
    with pytest.raises(AugbenchError, match="audio"):
        mixer(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]))
