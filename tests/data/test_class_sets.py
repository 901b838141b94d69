"""The metric-learning protocol: disjoint train_classes / test_classes in the data spec."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from augbench.bench.experiment import parse_experiment
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError

TRAIN, TEST = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]


def _classes(split) -> set[int]:
    return set(split.labels.unique().tolist())


def test_every_training_stream_holds_train_classes_and_the_test_split_only_test_classes() -> None:
    spec = DataSpec(train_classes=TRAIN, test_classes=TEST, val_size=50, train_size=300, unlabeled="rest")
    data = prepare_run_data("digits", spec, seed=0)
    for name in ("labeled", "unlabeled", "val"):
        assert _classes(data.streams[name]) == set(TRAIN), name
    assert _classes(data.evals["test"]) == set(TEST)
    assert _classes(data.evals["val"]) == set(TRAIN)
    ids = {name: set(split.ids.tolist()) for name, split in {**data.streams, **data.evals}.items()}
    assert not ids["labeled"] & ids["unlabeled"] and not ids["val"] & (ids["labeled"] | ids["unlabeled"])
    assert not ids["test"] & (ids["labeled"] | ids["unlabeled"] | ids["val"])
    pool_labels = load_dataset("digits").labels.bincount()
    # every sample of a test class is in the test split; every train-class sample in some training stream
    assert len(data.evals["test"]) == int(pool_labels[TEST].sum())
    assert len(data.streams["labeled"]) + len(data.streams["unlabeled"]) + len(data.evals["val"]) == int(pool_labels[TRAIN].sum())


def test_labels_keep_their_dataset_values_and_num_classes_stays() -> None:
    data = prepare_run_data("digits", DataSpec(train_classes=[7, 2], test_classes=[0, 9]), seed=0)
    assert data.num_classes == 10
    assert _classes(data.streams["labeled"]) == {2, 7} and _classes(data.evals["test"]) == {0, 9}


def test_train_size_null_takes_every_train_class_sample_and_test_size_subsets_the_test_classes() -> None:
    data = prepare_run_data("digits", DataSpec(train_classes=TRAIN, test_classes=TEST, test_size=200), seed=3)
    assert len(data.evals["test"]) == 200 and _classes(data.evals["test"]) == set(TEST)
    again = prepare_run_data("digits", DataSpec(train_classes=TRAIN, test_classes=TEST, test_size=200), seed=4)
    assert torch.equal(again.evals["test"].ids, data.evals["test"].ids)  # the test subset never depends on the seed
    assert torch.equal(data.streams["labeled"].labels.bincount(minlength=10)[TEST], torch.zeros(5, dtype=torch.int64))


def test_class_sets_are_sorted_tuples_and_absent_from_the_identity_when_unset() -> None:
    spec = DataSpec(train_classes=[3, 1, 2], test_classes=[0])
    assert spec.train_classes == (1, 2, 3) and spec.test_classes == (0,)
    assert DataSpec.from_dict(spec.identity()) == spec
    assert "train_classes" not in DataSpec(train_size=5).identity()  # old run keys do not change
    plain = RunSpec.create(dataset="digits", model="harness_cnn", method="baseline", label="b", seed=0,
                           data=DataSpec(train_size=100))
    split = RunSpec.create(dataset="digits", model="harness_cnn", method="baseline", label="b", seed=0,
                           data=DataSpec(train_size=100, train_classes=[0, 1], test_classes=[2, 3]))
    assert plain.key != split.key


@pytest.mark.parametrize(("options", "message"), [
    ({"train_classes": [0, 1]}, "data key 'train_classes' needs its partner: give both train_classes and test_classes"),
    ({"test_classes": [5]}, "data key 'test_classes' needs its partner"),
    ({"train_classes": [], "test_classes": [5]}, "'train_classes': expected a non-empty list of distinct class indices"),
    ({"train_classes": [0, 0], "test_classes": [5]}, "distinct class indices"),
    ({"train_classes": [0, -1], "test_classes": [5]}, "class indices >= 0"),
    ({"train_classes": "0-4", "test_classes": [5]}, "expected a non-empty list"),
    ({"train_classes": [0, 1.5], "test_classes": [5]}, "expected a non-empty list"),
    ({"train_classes": [0, 1, 2], "test_classes": [2, 3]}, r"share classes \[2\]; the class sets must be disjoint"),
])
def test_bad_class_sets_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        DataSpec(**options)
    assert len(str(info.value).splitlines()) == 1


def test_a_class_the_dataset_lacks_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"'test_classes': class 12 has no samples in 'digits' \(its classes are 0..9\)"):
        prepare_run_data("digits", DataSpec(train_classes=TRAIN, test_classes=[5, 12]), seed=0)


def test_an_experiment_passes_the_class_sets_through() -> None:
    experiment = parse_experiment({
        "datasets": ["digits"], "methods": ["contrastive_metric"], "seeds": 1, "evaluations": [],
        "train_classes": TRAIN, "test_classes": TEST,
    })
    assert experiment.data.train_classes == tuple(TRAIN) and experiment.data.test_classes == tuple(TEST)
    (run,) = experiment.runs()
    assert run.data.identity()["test_classes"] == tuple(TEST)
    with pytest.raises(ConfigError, match="share classes"):
        parse_experiment({"datasets": ["digits"], "methods": ["contrastive_metric"], "train_classes": [1],
                          "test_classes": [1]})


MNIST = Path(os.environ["AUGBENCH_DATA"]) / "mnist"


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="needs shared/data/mnist")
def test_a_dataset_with_its_own_test_split_filters_both_splits() -> None:
    data = prepare_run_data("mnist", DataSpec(train_size=200, test_size=300, train_classes=TRAIN, test_classes=TEST),
                            seed=0, data_root=str(MNIST))
    assert _classes(data.streams["labeled"]) == set(TRAIN) and len(data.streams["labeled"]) == 200
    assert _classes(data.evals["test"]) == set(TEST) and len(data.evals["test"]) == 300
