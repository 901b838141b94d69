"""Stratified splits and the embedded digits dataset."""

from __future__ import annotations

import pytest
import torch

from augbench.data import load_dataset, stratified_split
from augbench.errors import ConfigError


def test_digits_shape_and_range() -> None:
    digits = load_dataset("digits")
    assert digits.inputs.shape == (1797, 1, 8, 8) and digits.inputs.dtype == torch.uint8
    assert int(digits.inputs.max()) == 255 and int(digits.inputs.min()) == 0
    assert digits.num_classes == 10


def test_split_is_stratified_disjoint_and_seeded() -> None:
    labels = load_dataset("digits").labels
    train, test = stratified_split(labels, 500, seed=0)
    assert len(train) == 500 and len(test) == 1297
    assert not set(train.tolist()) & set(test.tolist())
    counts = torch.bincount(labels[train], minlength=10)
    expected = torch.bincount(labels, minlength=10).double() * 500 / len(labels)
    assert ((counts - expected).abs() <= 1).all()
    assert torch.equal(stratified_split(labels, 500, seed=0)[0], train)
    assert not torch.equal(stratified_split(labels, 500, seed=1)[0], train)


def test_bad_train_size() -> None:
    labels = load_dataset("digits").labels
    with pytest.raises(ConfigError, match="train_size=5"):
        stratified_split(labels, 5, seed=0)
