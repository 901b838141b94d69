"""Student-t confidence intervals."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from augbench.bench.stats import mean_ci


def test_matches_scipy_interval() -> None:
    values = [0.91, 0.93, 0.95, 0.92, 0.97]
    mean, half = mean_ci(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / 5, scale=stats.sem(values))
    assert mean == pytest.approx((low + high) / 2)
    assert half == pytest.approx((high - low) / 2)


def test_single_value_has_no_interval() -> None:
    mean, half = mean_ci([0.5])
    assert mean == 0.5 and math.isnan(half)


def test_empty_is_an_error() -> None:
    with pytest.raises(ValueError):
        mean_ci([])
