"""Stratified train/test splits driven by an explicit seed."""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import ConfigError

__all__ = ["stratified_split"]


def stratified_split(labels: Tensor, train_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Split indices into a class-stratified training subset of ``train_size`` and the rest.

    Each class contributes ``round(train_size * class_fraction)`` samples (largest
    remainders fix the total), drawn with a generator seeded by ``seed``.

    Args:
        labels: ``(N,)`` int64 class indices.
        train_size: number of training samples, ``num_classes <= train_size < N``.
        seed: seed of the draw; the same seed gives the same split.

    Returns:
        ``(train_indices, test_indices)``, int64, sorted, disjoint, covering ``range(N)``.
    """
    total = labels.shape[0]
    classes, counts = labels.unique(return_counts=True)
    if not len(classes) <= train_size < total:
        raise ConfigError(
            f"train_size={train_size} must be between the number of classes ({len(classes)}) and "
            f"the dataset size - 1 ({total - 1})"
        )
    exact = counts.double() * train_size / total
    quota = exact.floor().long()
    shortfall = train_size - int(quota.sum())
    quota[torch.argsort(exact - quota, descending=True)[:shortfall]] += 1
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=generator)
    shuffled = labels[order]
    chosen = torch.zeros(total, dtype=torch.bool)
    for cls, take in zip(classes.tolist(), quota.tolist()):
        chosen[order[shuffled == cls][:take]] = True
    return chosen.nonzero().squeeze(1), (~chosen).nonzero().squeeze(1)
