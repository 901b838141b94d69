"""Summary statistics over seeds: confidence intervals, paired tests, multiple comparisons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from augbench.extras import missing_extra

try:
    from scipy import stats
except ModuleNotFoundError as error:
    raise missing_extra(error, "the benchmark statistics") from None

from augbench.errors import ConfigError

__all__ = ["mean_ci", "paired_difference", "paired_p_value", "seeds_for_power", "holm_adjusted", "holm",
           "probability_best"]


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


def paired_p_value(values: Mapping[int, float], reference: Mapping[int, float]) -> float:
    """Two-sided p-value of the paired t-test of ``values - reference`` over shared seeds.

    The differences ``d_s = values[s] - reference[s]`` over the ``n`` seeds present in both give
    ``t = mean(d) / (std(d, ddof=1) / sqrt(n))`` with ``n - 1`` degrees of freedom and
    ``p = 2 * P(T > |t|)``, as ``scipy.stats.ttest_rel``.

    Args:
        values: metric per seed of the method under test.
        reference: metric per seed of the reference method (e.g. the baseline).

    Returns:
        The p-value in [0, 1]. ``nan`` with fewer than 2 shared seeds or if a paired value is
        not finite. When every difference is the same number the variance is 0 and the t statistic
        is undefined (scipy returns ``nan``); here the evidence is taken as exact: ``0.0`` if
        that number is nonzero (the method moves every seed by the same amount), ``1.0`` if it
        is 0 (no difference at all).

    >>> round(paired_p_value({0: 0.90, 1: 0.80, 2: 0.70}, {0: 0.85, 1: 0.75, 2: 0.66}), 4)
    0.0051
    >>> paired_p_value({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5}), paired_p_value({0: 1.0, 1: 2.0}, {0: 0.0, 1: 1.0})
    (1.0, 0.0)
    """
    seeds = sorted(set(values) & set(reference))
    n = len(seeds)
    if n < 2:
        return math.nan
    differences = [values[s] - reference[s] for s in seeds]
    if not all(math.isfinite(d) for d in differences):
        return math.nan
    if all(d == differences[0] for d in differences):
        return 0.0 if differences[0] != 0 else 1.0
    mean = math.fsum(differences) / n
    variance = math.fsum((d - mean) ** 2 for d in differences) / (n - 1)
    t = mean / math.sqrt(variance / n)
    return min(1.0, 2.0 * float(stats.t.sf(abs(t), n - 1)))


def seeds_for_power(
    values: Mapping[int, float],
    reference: Mapping[int, float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    limit: int = 1000,
) -> float:
    """Seeds a paired t-test needs to detect the observed difference with probability ``power``.

    Takes the observed paired differences ``d_s = values[s] - reference[s]`` at face value (their
    mean and standard deviation are the effect to detect) and returns the smallest ``n >= 2``
    whose two-sided paired t-test at level ``alpha`` rejects with probability ``>= power``:
    ``P(|T'| > t_{1-alpha/2, n-1})`` for ``T'`` noncentral t with ``n - 1`` degrees of freedom and
    noncentrality ``sqrt(n) * mean(d) / std(d)``. A planning figure, as noisy as the few seeds it
    comes from.

    Args:
        values, reference: metric per seed of the method and of the reference.
        alpha: test level; power: wanted probability of rejecting; limit: largest ``n`` tried.

    Returns:
        The number of seeds; ``inf`` when the mean difference is 0 or more than ``limit`` seeds
        would be needed; ``nan`` with fewer than 2 shared seeds. Identical nonzero differences
        (no variance) need the minimum, 2.

    >>> seeds_for_power({0: 0.86, 1: 0.88, 2: 0.86}, {0: 0.81, 1: 0.84, 2: 0.80})
    4
    >>> seeds_for_power({0: 0.85, 1: 0.82, 2: 0.80}, {0: 0.81, 1: 0.84, 2: 0.80})
    167
    >>> seeds_for_power({0: 0.82, 1: 0.84}, {0: 0.84, 1: 0.82})
    inf
    """
    seeds = sorted(set(values) & set(reference))
    if len(seeds) < 2:
        return math.nan
    differences = np.array([values[s] - reference[s] for s in seeds], dtype=np.float64)
    mean, spread = float(differences.mean()), float(differences.std(ddof=1))
    if mean == 0:
        return math.inf
    if spread == 0:
        return 2
    effect = abs(mean) / spread
    for n in range(2, limit + 1):
        critical = stats.t.ppf(1 - alpha / 2, n - 1)
        noncentrality = effect * math.sqrt(n)
        achieved = stats.nct.sf(critical, n - 1, noncentrality) + stats.nct.cdf(-critical, n - 1, noncentrality)
        if achieved >= power:
            return n
    return math.inf


def holm_adjusted(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values of one family of hypotheses (the methods of one table).

    With the ``m`` finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted
    value is ``min(1, max_{j <= i} (m - j + 1) * p_(j))``: monotone in the raw p-value, never
    below it and never above Bonferroni's ``min(1, m * p)``. Rejecting where it is ``<= alpha``
    is Holm's step-down test at family-wise error rate ``alpha`` (Holm 1979, "A simple
    sequentially rejective multiple test procedure"; ``statsmodels`` ``method="holm"``).

    Args:
        p_values: raw p-value in [0, 1] per method; ``nan`` (e.g. a single seed) is not a test.

    Returns:
        Adjusted p-value per method, in input order; ``nan`` stays ``nan`` and does not count
        in ``m``.

    Raises:
        ConfigError: if ``p_values`` is empty or a p-value lies outside [0, 1].

    >>> adjusted = holm_adjusted({"cutmix": 0.01, "mixup": 0.04, "augmix": 0.03, "solo": float("nan")})
    >>> {name: round(p, 4) for name, p in adjusted.items()}
    {'cutmix': 0.03, 'mixup': 0.06, 'augmix': 0.06, 'solo': nan}
    """
    if not p_values:
        raise ConfigError("holm_adjusted got no p-values; pass {method: p_value} for at least one method")
    for name, p in p_values.items():
        if not (0.0 <= p <= 1.0 or math.isnan(p)):
            raise ConfigError(f"holm_adjusted: p-value of {name!r} is {p}; p-values must lie in [0, 1] (or be nan)")
    tested = sorted((p, position) for position, p in enumerate(p_values.values()) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, position) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[position] = running
    return dict(zip(p_values, adjusted))


def holm(p_values: Mapping[str, float], alpha: float = 0.05) -> dict[str, bool]:
    """Holm–Bonferroni step-down test: which methods' null hypotheses are rejected at level ``alpha``.

    Controls the family-wise error rate (the chance of any false rejection among the methods of
    one table) at ``alpha``. Sorted ascending, ``p_(i)`` is rejected while every
    ``p_(j) <= alpha / (m - j + 1)`` for ``j <= i``; equivalently, where
    :func:`holm_adjusted` is ``<= alpha``.

    Args:
        p_values: raw p-value in [0, 1] per method; ``nan`` is never rejected and does not
            count in ``m``.
        alpha: family-wise error rate, in (0, 1).

    Returns:
        ``True`` per rejected method (a significant difference), in input order.

    Raises:
        ConfigError: if ``p_values`` is empty, a p-value lies outside [0, 1] or ``alpha`` is
            not in (0, 1).

    >>> holm({"cutmix": 0.01, "mixup": 0.04, "augmix": 0.03})
    {'cutmix': True, 'mixup': False, 'augmix': False}
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"holm: alpha={alpha} is outside (0, 1); pass a family-wise error rate such as 0.05")
    return {name: p <= alpha for name, p in holm_adjusted(p_values).items()}


def probability_best(
    values: Mapping[str, Mapping[int, float]],
    *,
    higher_is_better: bool = True,
    samples: int = 10000,
    seed: int = 0,
) -> dict[str, float]:
    """Probability that each method is the best, by a bootstrap over seeds.

    Each bootstrap sample draws seeds with replacement and takes every method's mean over them;
    the method with the best mean wins that sample, and a tie splits it equally. With at least
    2 seeds shared by all methods the draw is paired: the same seeds for every method, over the
    shared seeds only (other seeds are ignored), so a seed's split and initialisation cancel as
    in :func:`paired_difference`. With fewer than 2 shared seeds, each method's own seeds are
    resampled independently (``n`` draws from its ``n`` seeds).

    Args:
        values: metric per seed, per method (e.g. ``{"cutmix": {0: 0.95, 1: 0.94}, ...}``).
        higher_is_better: ``True`` for accuracy, ``False`` for error or NLL.
        samples: number of bootstrap samples, at least 1.
        seed: seed of ``numpy.random.default_rng``; same inputs and seed, same result.

    Returns:
        Probability per method, in input order; they sum to 1.

    Raises:
        ConfigError: if ``values`` is empty, a method has no seeds or a non-finite value, or
            ``samples < 1``.

    Memory is ``O(methods * samples * seeds)`` floats in the paired case.

    >>> probability_best({"cutmix": {0: 0.95, 1: 0.93}, "baseline": {0: 0.94, 1: 0.92}})
    {'cutmix': 1.0, 'baseline': 0.0}
    >>> probability_best({"a": {0: 0.9, 1: 0.8}, "b": {0: 0.9, 1: 0.8}})
    {'a': 0.5, 'b': 0.5}
    """
    if not values:
        raise ConfigError("probability_best got no methods; pass {method: {seed: value}} for at least one method")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"probability_best: samples={samples!r} must be an integer >= 1, e.g. 10000")
    for name, by_seed in values.items():
        if not by_seed:
            raise ConfigError(f"probability_best: method {name!r} has no seeds; drop it or add its results")
        for s, value in by_seed.items():
            if not math.isfinite(value):
                raise ConfigError(f"probability_best: {name!r} seed {s} is {value}; drop that run or fix its metric")
    rng = np.random.default_rng(seed)
    shared = sorted(set.intersection(*(set(by_seed) for by_seed in values.values())))
    if len(shared) >= 2:
        table = np.array([[by_seed[s] for s in shared] for by_seed in values.values()], dtype=np.float64)
        drawn = rng.integers(0, len(shared), size=(samples, len(shared)))
        means = table[:, drawn].mean(axis=-1).T  # (samples, methods)
    else:
        columns = []
        for by_seed in values.values():
            own = np.array(list(by_seed.values()), dtype=np.float64)
            columns.append(own[rng.integers(0, len(own), size=(samples, len(own)))].mean(axis=-1))
        means = np.stack(columns, axis=1)
    best = means.max(axis=1, keepdims=True) if higher_is_better else means.min(axis=1, keepdims=True)
    winners = means == best
    shares = winners / winners.sum(axis=1, keepdims=True)
    return {name: float(p) for name, p in zip(values, shares.mean(axis=0))}
