"""The one-class protocol's data spec: ``inlier_class: k`` keeps only class k in the training
streams and every class in the val and test splits."""

from __future__ import annotations

import pytest
import torch

from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError


def test_training_streams_hold_only_the_inlier_class_and_the_test_split_every_class() -> None:
    data = prepare_run_data("digits", DataSpec(train_size=1000, val_size=200, inlier_class=3), seed=0)
    assert data.inlier_class == 3
    assert len(data.streams["labeled"]) > 50 and bool((data.streams["labeled"].labels == 3).all())
    for split in ("test", "val"):
        assert set(data.evals[split].labels.tolist()) == set(range(10))
    assert len(data.evals["test"]) == 1797 - 200 - 1000  # the rest of the pool, all classes
    plain = prepare_run_data("digits", DataSpec(train_size=1000, val_size=200), seed=0)
    assert torch.equal(data.evals["test"].ids, plain.evals["test"].ids)  # the same test split as without the protocol
    kept = plain.streams["labeled"].labels == 3
    assert torch.equal(data.streams["labeled"].ids, plain.streams["labeled"].ids[kept])


def test_the_unlabeled_stream_is_filtered_too() -> None:
    data = prepare_run_data("digits", DataSpec(labeled_per_class=5, unlabeled="rest", inlier_class=0), seed=1)
    assert set(data.streams["labeled"].labels.tolist()) == {0} and len(data.streams["labeled"]) == 5
    assert set(data.streams["unlabeled"].labels.tolist()) == {0}
    assert len(set(data.evals["test"].labels.tolist())) == 10


def test_an_inlier_class_the_dataset_lacks_is_one_line_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"class 12 does not exist in 'digits' \(its classes are 0..9\); pick one"):
        prepare_run_data("digits", DataSpec(train_size=1000, inlier_class=12), seed=0)


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_inlier_class_values_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="inlier_class"):
        DataSpec(train_size=100, inlier_class=value)


def test_inlier_class_conflicts_with_class_sets_and_stays_out_of_other_identities() -> None:
    with pytest.raises(ConfigError, match="conflict"):
        DataSpec(train_classes=(0, 1), test_classes=(2, 3), inlier_class=0)
    assert "inlier_class" not in DataSpec(train_size=100).identity()  # other runs keep their keys
    spec = DataSpec(train_size=100, inlier_class=4)
    assert spec.identity()["inlier_class"] == 4 and DataSpec.from_dict(spec.identity()) == spec
