"""Summary statistics over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

__all__ = ["mean_ci", "paired_difference"]


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


def paired_difference(
    values: dict[int, float], reference: dict[int, float], confidence: float = 0.95
) -> tuple[float, float, int]:
    """Seed-matched difference ``values - reference``: mean, CI half-width and number of pairs.

    Only seeds present in both are used, so a seed's shared split and initialisation cancel.

    >>> mean, half_width, pairs = paired_difference({0: 0.9, 1: 0.8, 2: 0.7}, {0: 0.85, 1: 0.75, 2: 0.66})
    >>> round(mean, 4), round(half_width, 4), pairs
    (0.0467, 0.0143, 3)
    """
    seeds = sorted(set(values) & set(reference))
    if not seeds:
        return math.nan, math.nan, 0
    mean, half_width = mean_ci([values[s] - reference[s] for s in seeds], confidence)
    return mean, half_width, len(seeds)
