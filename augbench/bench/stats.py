"""Summary statistics over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

__all__ = ["mean_ci"]


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval.

    Args:
        values: one value per seed.
        confidence: coverage of the interval.

    Returns:
        ``(mean, half_width)``; the half-width is ``nan`` for fewer than two values.

    >>> mean, half_width = mean_ci([1.0, 2.0, 3.0])
    >>> mean, round(half_width, 4)
    (2.0, 2.4841)
    """
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
