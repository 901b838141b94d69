"""The feature-noise patch data model of Zou, Cao, Li and Gu (ICML 2023), "The Benefits of Mixup
for Feature Learning": common and rare class features hidden among noise patches.

A sample is ``P`` patches of dimension ``d`` (stored as a ``timeseries`` batch ``(N, P, d)``:
channels = patches, steps = patch coordinates). For a sample of class ``y``:

- one *feature patch* (at a uniformly random position) holds the class's **common** feature
  ``v_y`` with probability ``1 - rho`` or its **rare** feature ``u_y`` with probability ``rho``;
- one *feature-noise patch* (another random position) holds ``alpha * v_k`` for a uniformly drawn
  other class ``k != y``: a weak copy of a wrong class's common feature, so a model that has not
  learned ``u_y`` mistakes rare-feature samples for class ``k``;
- the other ``P - 2`` patches are Gaussian noise ``N(0, noise_std^2)`` in the coordinates
  orthogonal to every feature (the feature coordinates of noise patches are exactly 0).

Features are orthogonal, of norm ``feature_norm``: ``v_k = feature_norm * e_k`` and
``u_k = feature_norm * e_{K + k}`` (``e_i`` the coordinate axes, ``K`` classes), see
:func:`feature_directions`. Labels are balanced in distribution (uniform draws).

Followed from the paper (as summarised in shared/methods/mixing.md): patches, one feature patch
with a common/rare feature per class, feature noise of strength ``alpha`` and Gaussian noise
patches orthogonal to the features. Not verified against the paper's text: its exact scalings
(``d``, ``P``, ``sigma_p``, ``alpha`` as functions of ``n``), whether feature noise carries a
rare or a common feature, and the label set (the paper's theory is binary; ``num_classes`` may
be larger here).

Deterministic: a split is a pure function of ``(seed, split, sizes, options)``; the train and
test splits come from different generator streams of the same seed.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from augbench.data.base import DATASETS, Dataset
from augbench.errors import ConfigError

__all__ = ["load_feature_noise", "feature_directions", "rare_mask", "make_feature_noise"]

_SPLIT_STREAM = {"train": 0, "test": 1}


def feature_directions(num_classes: int, dim: int) -> tuple[Tensor, Tensor]:
    """Unit common and rare feature directions: ``(K, d)`` float32 each, rows ``e_k`` and ``e_{K+k}``."""
    eye = torch.eye(dim)
    return eye[:num_classes].clone(), eye[num_classes : 2 * num_classes].clone()


def rare_mask(inputs: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``(N,)`` bool: which samples carry their class's rare feature (exact for this data model:
    only a feature patch is non-zero along ``u_y``).

    Shape: inputs ``(N, P, d)`` float, labels ``(N,)`` int64 in ``[0, K)`` with ``2K <= d``.
    """
    _, rare = feature_directions(num_classes, inputs.shape[-1])
    along_rare = inputs @ rare.to(inputs.device, inputs.dtype).T  # (N, P, K)
    own = along_rare.gather(2, labels.view(-1, 1, 1).expand(-1, inputs.shape[1], 1)).squeeze(2)  # (N, P)
    return own.abs().amax(1) > 0


def _check(name: str, value: object, low: float, high: float | None, integer: bool, fix: str) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int))
    if bad or value < low or (high is not None and value > high):
        interval = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"feature_noise: {name}={value!r} must be {'an integer' if integer else 'a number'} {interval}; {fix}")


def make_feature_noise(
    size: int,
    generator: torch.Generator,
    *,
    dim: int,
    patches: int,
    num_classes: int,
    rho: float,
    alpha: float,
    noise_std: float,
    feature_norm: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw ``size`` samples of the data model (see the module docstring) from ``generator``.

    Returns: inputs ``(size, P, d)`` float32, labels ``(size,)`` int64, rare ``(size,)`` bool.
    """
    rows = torch.arange(size)
    labels = torch.randint(0, num_classes, (size,), generator=generator)
    rare = torch.rand(size, generator=generator) < rho
    inputs = noise_std * torch.randn(size, patches, dim, generator=generator)
    inputs[:, :, : 2 * num_classes] = 0.0  # noise lives orthogonal to every feature
    other = (labels + torch.randint(1, num_classes, (size,), generator=generator)) % num_classes
    feature_at = torch.randint(0, patches, (size,), generator=generator)
    noise_at = (feature_at + torch.randint(1, patches, (size,), generator=generator)) % patches
    feature = torch.zeros(size, dim)
    feature[rows, torch.where(rare, num_classes + labels, labels)] = feature_norm
    feature_noise = torch.zeros(size, dim)
    feature_noise[rows, other] = alpha * feature_norm
    inputs[rows, feature_at] = feature
    inputs[rows, noise_at] = feature_noise
    return inputs, labels, rare


@DATASETS.register("feature_noise")
def load_feature_noise(
    split: Literal["train", "test"] = "train",
    train_size: int = 500,
    test_size: int = 2000,
    dim: int = 200,
    patches: int = 4,
    num_classes: int = 2,
    rho: float = 0.1,
    alpha: float = 0.3,
    noise_std: float = 0.5,
    feature_norm: float = 2.0,
    seed: int = 0,
) -> Dataset:
    """The synthetic common/rare feature-noise data of Zou et al. 2023 (see the module docstring).

    Args:
        split: ``"train"`` or ``"test"`` (independent draws of the same distribution).
        train_size, test_size: samples per split, >= 1.
        dim: patch dimension ``d``, >= 2 * num_classes (the feature coordinates).
        patches: patches per sample ``P``, >= 2 (a feature patch and a feature-noise patch).
        num_classes: ``K`` >= 2 (the paper's theory: 2).
        rho: probability of the rare feature, in [0, 1].
        alpha: feature-noise strength relative to ``feature_norm``, in [0, 1).
        noise_std: standard deviation of the Gaussian noise patches, >= 0.
        feature_norm: norm of every feature vector, > 0.
        seed: the data seed (the same for every run seed: the data is fixed, training varies).

    Shape: inputs ``(N, P, d)`` float32 (modality ``timeseries``), labels ``(N,)`` int64.

    Raises:
        ConfigError: an option out of range (one line naming it and the fix).
    """
    if split not in _SPLIT_STREAM:
        raise ConfigError(f"feature_noise: split={split!r} must be 'train' or 'test'")
    _check("train_size", train_size, 1, None, True, "pass a positive sample count")
    _check("test_size", test_size, 1, None, True, "pass a positive sample count")
    _check("num_classes", num_classes, 2, None, True, "pass 2 (the paper's setting) or more")
    _check("dim", dim, 2 * num_classes, None, True, "the first 2 * num_classes coordinates hold the features")
    _check("patches", patches, 2, None, True, "a sample needs a feature patch and a feature-noise patch")
    _check("rho", rho, 0.0, 1.0, False, "rho is the rare-feature probability")
    _check("alpha", alpha, 0.0, 0.999, False, "feature noise must be weaker than the feature")
    _check("noise_std", noise_std, 0.0, None, False, "pass 0 for no noise")
    _check("feature_norm", feature_norm, 1e-9, None, False, "pass a positive norm, e.g. 2.0")
    _check("seed", seed, 0, None, True, "pass a non-negative integer")
    generator = torch.Generator().manual_seed(2 * seed + _SPLIT_STREAM[split])
    size = train_size if split == "train" else test_size
    inputs, labels, _ = make_feature_noise(
        size, generator, dim=dim, patches=patches, num_classes=num_classes, rho=rho, alpha=alpha,
        noise_std=noise_std, feature_norm=feature_norm,
    )
    names = tuple(f"class{k}" for k in range(num_classes))
    return Dataset("feature_noise", inputs, labels, names, modality="timeseries")
