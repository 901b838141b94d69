"""Data specs: a pool split into labeled / unlabeled / target streams and fixed evaluation splits."""

from __future__ import annotations

import pytest
import torch

from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import AugbenchError, ConfigError


def _ids(split) -> set[int]:
    return set(split.ids.tolist())


def test_labeled_per_class_and_unlabeled_rest_are_disjoint_from_the_fixed_test_split() -> None:
    data = prepare_run_data("digits", DataSpec(labeled_per_class=5, unlabeled="rest", test_size=300), seed=1)
    labeled, unlabeled, test = data.streams["labeled"], data.streams["unlabeled"], data.evals["test"]
    assert torch.equal(labeled.labels.bincount(minlength=10), torch.full((10,), 5))
    assert len(labeled) + len(unlabeled) + len(test) == 1797
    assert not (_ids(labeled) & _ids(unlabeled)) and not (_ids(test) & (_ids(labeled) | _ids(unlabeled)))
    other = prepare_run_data("digits", DataSpec(labeled_per_class=5, unlabeled="rest", test_size=300), seed=2)
    assert _ids(other.evals["test"]) == _ids(test)  # the test split never depends on the seed
    assert _ids(other.streams["labeled"]) != _ids(labeled)  # the labeled subset does


def test_an_unlabeled_count_and_a_target_domain() -> None:
    spec = DataSpec(train_size=100, unlabeled=50, target={"dataset": {"type": "digits"}, "test_size": 200, "train_size": 300})
    data = prepare_run_data("digits", spec, seed=0)
    assert (len(data.streams["unlabeled"]), len(data.streams["target"]), len(data.evals["target_test"])) == (50, 300, 200)
    assert spec.streams == ("labeled", "unlabeled", "target")


def test_without_unlabeled_the_remainder_is_the_test_split_as_before() -> None:
    data = prepare_run_data("digits", DataSpec(train_size=500, val_size=100), seed=0)
    assert len(data.streams["labeled"]) == 500 and len(data.evals["val"]) == 100
    assert len(data.evals["test"]) == 1797 - 600 and set(data.streams) == {"labeled", "val"}
    assert data.streams["val"] is data.evals["val"]  # the validation split is also a stream (MADAug reads it)


@pytest.mark.parametrize(("spec", "message"), [
    (DataSpec(labeled_per_class=200, unlabeled="rest"), r"labeled_per_class=200 exceeds class \d of 'digits', which has \d+"),
    (DataSpec(train_size=1797), "train_size=1797 exceeds"),
    (DataSpec(), "'digits' has no test split of its own; give train_size"),
    (DataSpec(train_size=100, unlabeled=5000), "unlabeled=5000 exceeds"),
    (DataSpec(train_size=100, target={"dataset": "mnist", "data_root": "/nonexistent"}), "mnist: .*/nonexistent"),
])
def test_impossible_splits_are_one_line(spec: DataSpec, message: str) -> None:
    with pytest.raises(AugbenchError, match=message) as info:
        prepare_run_data("digits", spec, seed=0)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize(("options", "message"), [
    ({"unlabeled": "all"}, "'unlabeled': expected 'rest' or a positive count"),
    ({"ratio": 0}, "'ratio'"),
    ({"labeled_per_class": -1}, "'labeled_per_class'"),
    ({"target": {"dataset": "digits", "size": 3}}, "unknown key 'size'"),
    ({"target": {"dataset": "digitz"}}, "unknown dataset 'digitz'"),
])
def test_bad_data_keys_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataSpec(**options)
