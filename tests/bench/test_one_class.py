"""The one-class protocol in the benchmark: ``inlier_classes`` expands runs, the summary averages
a seed's classes, and ``one_class_auroc`` scores "not the inlier class" (hand cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from augbench.bench.experiment import parse_experiment
from augbench.bench.report import group_runs, metric_stat
from augbench.bench.run import RunResult
from augbench.bench.runner import summarize
from augbench.bench.store import Store
from augbench.data.streams import RunData, Split
from augbench.errors import ConfigError
from augbench.evaluation import EVALUATIONS, EvalContext
from augbench.methods import Method
from augbench.metrics.anomaly import nearest_cosine_score

BASE = {"datasets": ["digits"], "models": [{"type": "convnet", "base_channels": 4}], "methods": ["simclr"],
        "seeds": 2, "train_size": 1000, "evaluations": []}


def test_inlier_classes_expand_every_run_once_per_class() -> None:
    experiment = parse_experiment({**BASE, "inlier_classes": [0, 4, 7]})
    runs = experiment.runs()
    assert len(runs) == 2 * 3 and len({run.key for run in runs}) == 6
    assert [(run.seed, run.data.inlier_class) for run in runs] == [(s, k) for s in (0, 1) for k in (0, 4, 7)]
    assert parse_experiment({**BASE, "inlier_class": 5}).runs()[0].data.inlier_class == 5


@pytest.mark.parametrize(("extra", "match"), [
    ({"inlier_classes": []}, "non-empty list"),
    ({"inlier_classes": [1, 1]}, "distinct"),
    ({"inlier_classes": [0, -2]}, "class indices"),
    ({"inlier_classes": [0], "inlier_class": 1}, "conflict"),
])
def test_bad_inlier_classes_are_one_line(extra: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_experiment({**BASE, **extra})


def test_the_summary_and_the_report_average_a_seeds_classes_and_drop_incomplete_seeds(tmp_path: Path) -> None:
    experiment = parse_experiment({**BASE, "inlier_classes": [0, 4]})
    runs = experiment.runs()
    store = Store(str(tmp_path / "runs.db"))
    values = {(0, 0): 0.9, (0, 4): 0.7, (1, 0): 0.6}  # seed 1 lacks class 4
    for run in runs:
        if (run.seed, run.data.inlier_class) in values:
            store.save(RunResult(run, {"test_one_class_auroc": values[(run.seed, run.data.inlier_class)]}))
    rows = summarize(runs, store, "test_one_class_auroc")
    assert len(rows) == 1 and rows[0].seeds == 1
    assert rows[0].mean == pytest.approx(80.0)
    # The HTML report groups the classes into one section and averages them the same way.
    sections = group_runs(store.load_results())
    assert len(sections) == 1 and "inlier_class" not in sections[0].setup["data"]
    stat = metric_stat(sections[0].methods["simclr"], "test_one_class_auroc")
    assert stat is not None and stat.count == 1 and stat.mean == pytest.approx(0.8)  # AUROC is not shown in %


class _Flat(nn.Module):
    """An "encoder" whose features are the inputs themselves."""

    def forward_features(self, inputs: Tensor) -> Tensor:
        return inputs.flatten(1)


class _Scored(Method):
    def anomaly_score(self, model: nn.Module, inputs: Tensor, normalize: object) -> Tensor:
        return inputs[:, 0]  # the first coordinate as the score


def _context(method: Method, test_inputs: Tensor, test_labels: Tensor, inlier: int | None = 2) -> EvalContext:
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labeled = Split(bank, torch.full((2,), 2), torch.arange(2), 2)
    test = Split(test_inputs, test_labels, torch.arange(len(test_labels)), len(test_labels))
    data = RunData({"labeled": labeled}, {"test": test}, 10, (2,), "image", inlier_class=inlier)
    return EvalContext(method, _Flat(), {}, data, lambda x: x, torch.device("cpu"), 0)


def test_one_class_auroc_on_a_hand_case() -> None:
    # cos to the nearest bank row: 1, 0.9806, 0.7071, 0.9806 -> scores -1, -0.98, -0.71, -0.98
    inputs = torch.tensor([[2.0, 0.0], [1.0, 0.2], [1.0, 1.0], [0.2, 1.0]])
    labels = torch.tensor([2, 5, 7, 2])  # class 2 inliers: rows 0 and 3; anomalies: rows 1 and 2
    metrics, _ = EVALUATIONS.get("one_class_auroc")(_context(Method(), inputs, labels))
    # anomaly pairs (row 1 or 2 above row 0 or 3): 1 > 0: yes, 1 = 3: tie 1/2, 2 > 0: yes, 2 > 3: yes -> 3.5 / 4
    assert metrics == {"test_one_class_auroc": 0.875, "test_one_class_knn_auroc": 0.875}
    assert torch.allclose(nearest_cosine_score(inputs, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))[[0, 2]],
                          torch.tensor([-1.0, -(0.5 ** 0.5)]))
    scored, _ = EVALUATIONS.get("one_class_auroc")(_context(_Scored(), inputs, labels))
    # the method's own score (first coordinate: 2, 1, 1, 0.2) ranks anomalies 1, 2 against inliers 0, 3: 2 of 4
    assert scored == {"test_one_class_auroc": 0.5, "test_one_class_knn_auroc": 0.875}


def test_one_class_auroc_needs_the_protocol_and_both_kinds_of_test_samples() -> None:
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ConfigError, match="inlier_class"):
        EVALUATIONS.get("one_class_auroc")(_context(Method(), inputs, torch.tensor([2, 3]), inlier=None))
    with pytest.raises(ConfigError, match="samples of class 2 and of other classes"):
        EVALUATIONS.get("one_class_auroc")(_context(Method(), inputs, torch.tensor([2, 2])))
