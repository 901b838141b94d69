"""Average accuracy and forgetting against hand-computed matrices and a loop over the definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import average_accuracy, forgetting


def reference_forgetting(matrix: np.ndarray) -> float:
    """Chaudhry et al. 2018, written as loops: f_j = max_{l < T-1} R[l, j] - R[T-1, j], averaged over j < T-1."""
    tasks = len(matrix)
    if tasks == 1:
        return 0.0
    drops = [max(matrix[l][j] for l in range(tasks - 1)) - matrix[tasks - 1][j] for j in range(tasks - 1)]
    return sum(drops) / len(drops)


def test_hand_example() -> None:
    R = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.9, 0.1], [0.7, 0.8, 0.95]])
    assert average_accuracy(R) == pytest.approx((0.7 + 0.8 + 0.95) / 3, abs=1e-7)
    # Task 0: best 0.9 (after task 0), final 0.7; task 1: best 0.9, final 0.8; task 2 is the last.
    assert forgetting(R) == pytest.approx((0.2 + 0.1) / 2, abs=1e-7)


def test_no_forgetting_and_backward_transfer() -> None:
    keeps = torch.tensor([[0.5, 0.0], [0.5, 0.6]], dtype=torch.float64)
    assert forgetting(keeps) == 0.0
    assert average_accuracy(keeps) == 0.55
    improves = torch.tensor([[0.5, 0.0], [0.7, 0.6]], dtype=torch.float64)
    assert forgetting(improves) == pytest.approx(-0.2)  # not clipped


def test_max_runs_over_all_earlier_rows() -> None:
    # Task 0 peaks after task 1 (row 1), not when it was learnt; row 0 is before task 1 was learnt.
    R = torch.tensor(
        [[60.0, 10.0, 0.0, 0.0], [80.0, 70.0, 5.0, 0.0], [50.0, 75.0, 90.0, 0.0], [40.0, 60.0, 85.0, 95.0]],
        dtype=torch.float64,
    )
    assert forgetting(R) == pytest.approx(((80 - 40) + (75 - 60) + (90 - 85)) / 3)  # percent in, percent out
    assert average_accuracy(R) == pytest.approx((40 + 60 + 85 + 95) / 4)


def test_single_task() -> None:
    assert forgetting(torch.tensor([[0.8]])) == 0.0
    assert average_accuracy(torch.tensor([[0.8]])) == pytest.approx(0.8)


@pytest.mark.parametrize("tasks", [2, 5, 10])
def test_matches_loop_reference(tasks: int) -> None:
    R = torch.rand(tasks, tasks, generator=torch.Generator().manual_seed(tasks), dtype=torch.float64)
    assert forgetting(R) == pytest.approx(reference_forgetting(R.numpy()), abs=1e-12)
    assert average_accuracy(R) == pytest.approx(float(np.mean(R.numpy()[-1])), abs=1e-12)


@pytest.mark.parametrize("metric", [average_accuracy, forgetting])
@pytest.mark.parametrize(
    ("matrix", "error", "message"),
    [
        (torch.ones(2, 3), InputValueError, r"must be \(T, T\)"),
        (torch.ones(3), InputValueError, r"must be \(T, T\)"),
        (torch.ones(0, 0), InputValueError, "T >= 1"),
        (torch.tensor([[0.5, float("nan")], [0.4, 0.6]]), InputValueError, "NaN or inf"),
        (torch.ones(2, 2, dtype=torch.int64), InputTypeError, r"matrix.double\(\)"),
        (np.ones((2, 2)), InputTypeError, "must be a tensor"),
    ],
)
def test_bad_inputs_raise_one_line(metric, matrix, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message) as info:
        metric(matrix)
    assert "\n" not in str(info.value)
