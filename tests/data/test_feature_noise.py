"""The feature-noise data model (Zou et al. 2023): statistics, structure, determinism, errors."""

from __future__ import annotations

import pytest
import torch

from augbench.data import load_dataset
from augbench.data.feature_noise import feature_directions, make_feature_noise, rare_mask
from augbench.errors import ConfigError

OPTIONS = dict(dim=40, patches=5, num_classes=3, rho=0.1, alpha=0.3, noise_std=0.5, feature_norm=2.0)


@pytest.fixture(scope="module")
def sample() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return make_feature_noise(20_000, torch.Generator().manual_seed(0), **OPTIONS)


def test_rare_fraction_and_class_balance_match_the_model(sample) -> None:
    inputs, labels, rare = sample
    assert inputs.shape == (20_000, 5, 40) and inputs.dtype == torch.float32 and labels.dtype == torch.int64
    assert abs(rare.float().mean().item() - 0.1) < 0.01  # 5 standard errors of 0.0021
    assert torch.bincount(labels, minlength=3).float().div(20_000).sub(1 / 3).abs().max() < 0.015
    assert torch.equal(rare_mask(inputs, labels, 3), rare)


def test_one_feature_patch_one_feature_noise_patch_rest_orthogonal_noise(sample) -> None:
    inputs, labels, rare = sample
    common, rare_dirs = feature_directions(3, 40)
    own = torch.where(rare[:, None], rare_dirs[labels], common[labels]) * 2.0  # (N, d)
    is_feature = (inputs == own[:, None, :]).all(2)  # (N, P)
    assert torch.equal(is_feature.sum(1), torch.ones_like(labels))
    # the feature-noise patch: alpha * v_k of a class k != y, nothing else
    along_common = inputs[:, :, :3]  # (N, P, K)
    noise_patch = (~is_feature) & (along_common.abs().sum(2) > 0)
    assert torch.equal(noise_patch.sum(1), torch.ones_like(labels))
    values = along_common[noise_patch]  # (N, K)
    other = values.argmax(1)
    assert torch.all(other != labels) and torch.allclose(values.max(1).values, torch.full((len(labels),), 0.6))
    assert torch.all(inputs[noise_patch][:, 3:] == 0)
    # the other patches: Gaussian noise with zero feature coordinates and the given std
    noise = inputs[~is_feature & ~noise_patch]
    assert torch.all(noise[:, :6] == 0)
    assert abs(noise[:, 6:].std().item() - 0.5) < 0.01 and abs(noise[:, 6:].mean().item()) < 0.01


def test_splits_are_deterministic_and_independent() -> None:
    first = load_dataset("feature_noise", train_size=50, dim=20)
    again = load_dataset("feature_noise", train_size=50, dim=20)
    test = load_dataset("feature_noise", split="test", test_size=50, dim=20)
    other_seed = load_dataset("feature_noise", train_size=50, dim=20, seed=1)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.inputs, test.inputs) and not torch.equal(first.inputs, other_seed.inputs)
    assert first.modality == "timeseries" and first.input_shape == (4, 20) and first.num_classes == 2


@pytest.mark.parametrize(
    "options, word",
    [({"rho": 1.5}, "rho"), ({"dim": 3}, "dim"), ({"patches": 1}, "patches"), ({"alpha": 1.0}, "alpha"),
     ({"num_classes": 1}, "num_classes"), ({"split": "val"}, "split"), ({"train_size": 0}, "train_size"),
     ({"feature_norm": 0.0}, "feature_norm")],
)
def test_bad_options_raise_one_line(options: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        load_dataset("feature_noise", **options)
