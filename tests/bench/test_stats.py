"""Seed statistics: Student-t intervals, paired t-test, Holm correction, probability of being best."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from augbench.bench.stats import holm, holm_adjusted, mean_ci, paired_p_value, probability_best, seeds_for_power
from augbench.errors import ConfigError


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


# paired_p_value


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_p_value_matches_scipy_ttest_rel(n: int) -> None:
    rng = np.random.default_rng(n)
    seed_effect = rng.normal(0.9, 0.05, n)
    values = dict(enumerate(seed_effect + rng.normal(0.01, 0.01, n)))
    reference = dict(enumerate(seed_effect))
    expected = stats.ttest_rel(list(values.values()), list(reference.values())).pvalue
    assert paired_p_value(values, reference) == pytest.approx(expected, rel=1e-9)


def test_p_value_uses_only_shared_seeds() -> None:
    values = {0: 0.91, 1: 0.88, 2: 0.95, 7: 0.10}
    reference = {0: 0.90, 1: 0.89, 2: 0.92, 9: 0.99}
    expected = stats.ttest_rel([0.91, 0.88, 0.95], [0.90, 0.89, 0.92]).pvalue
    assert paired_p_value(values, reference) == pytest.approx(expected, rel=1e-9)


def test_p_value_needs_two_pairs() -> None:
    assert math.isnan(paired_p_value({}, {}))
    assert math.isnan(paired_p_value({0: 0.9, 1: 0.8}, {1: 0.7, 2: 0.6}))


def test_p_value_of_constant_differences() -> None:
    assert paired_p_value({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.5, 1: 1.5, 2: 2.5}) == 0.0
    assert paired_p_value({0: 0.7, 1: 0.8}, {0: 0.7, 1: 0.8}) == 1.0


def test_p_value_of_non_finite_value_is_nan() -> None:
    assert math.isnan(paired_p_value({0: math.nan, 1: 0.8, 2: 0.9}, {0: 0.7, 1: 0.8, 2: 0.7}))
    assert math.isnan(paired_p_value({0: math.inf, 1: 0.8, 2: 0.9}, {0: 0.7, 1: 0.8, 2: 0.7}))


# holm / holm_adjusted


def test_holm_hand_computed_example() -> None:
    p_values = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}
    # sorted d, a, c, b with multipliers 4, 3, 2, 1: 0.02, 0.03, 0.06, max(0.06, 0.04)
    assert holm_adjusted(p_values) == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    # step-down: 0.005 <= 0.05/4, 0.01 <= 0.05/3, then 0.03 > 0.05/2 stops
    assert holm(p_values) == {"a": True, "b": False, "c": False, "d": True}


def test_holm_adjusted_is_capped_at_one() -> None:
    # sorted c, a, b: 0.06, min(1, 1.0), max(1.0, 0.6)
    assert holm_adjusted({"a": 0.5, "b": 0.6, "c": 0.02}) == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.06})


def _statsmodels_holm(p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels.stats.multitest.multipletests(method="holm"), re-derived from its definition."""
    order = np.argsort(p)
    p_sorted = p[order]
    m = len(p)
    not_reject = p_sorted > alpha / np.arange(m, 0, -1)
    first = np.nonzero(not_reject)[0]
    if first.size:
        not_reject[first[0] :] = True
    corrected = np.minimum(np.maximum.accumulate(p_sorted * np.arange(m, 0, -1)), 1.0)
    reject, adjusted = np.empty(m, bool), np.empty(m)
    reject[order], adjusted[order] = ~not_reject, corrected
    return reject, adjusted


@pytest.mark.parametrize("trial", range(20))
def test_holm_matches_statsmodels_definition(trial: int) -> None:
    rng = np.random.default_rng(trial)
    m = int(rng.integers(1, 12))
    p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 2)
    alpha = float(rng.choice([0.01, 0.05, 0.1]))
    names = [f"method{i}" for i in range(m)]
    reject, adjusted = _statsmodels_holm(p, alpha)
    p_values = dict(zip(names, p.tolist()))
    assert list(holm_adjusted(p_values).values()) == pytest.approx(adjusted.tolist())
    assert list(holm(p_values, alpha).values()) == reject.tolist()


@pytest.mark.parametrize("trial", range(20))
def test_holm_between_unadjusted_and_bonferroni(trial: int) -> None:
    rng = np.random.default_rng(100 + trial)
    m = int(rng.integers(1, 12))
    p_values = {f"method{i}": float(p) for i, p in enumerate(rng.uniform(0, 0.1, m))}
    adjusted = holm_adjusted(p_values)
    rejected = holm(p_values)
    for name, p in p_values.items():
        assert p <= adjusted[name] <= min(1.0, m * p) + 1e-15
        assert (p * m <= 0.05) <= rejected[name] <= (p <= 0.05)


def test_holm_adjusted_is_monotone_in_raw_p() -> None:
    p_values = {f"m{i}": p for i, p in enumerate([0.2, 0.001, 0.04, 0.03, 0.5, 0.011])}
    adjusted = holm_adjusted(p_values)
    ranked = sorted(p_values, key=p_values.__getitem__)
    assert [adjusted[name] for name in ranked] == sorted(adjusted.values())


def test_holm_ignores_nan() -> None:
    p_values = {"a": 0.01, "single_seed": math.nan, "c": 0.04}
    adjusted = holm_adjusted(p_values)
    assert adjusted["a"] == pytest.approx(0.02) and adjusted["c"] == pytest.approx(0.04)  # m = 2, not 3
    assert math.isnan(adjusted["single_seed"])
    assert holm(p_values) == {"a": True, "single_seed": False, "c": True}
    all_nan = holm({"x": math.nan})
    assert all_nan == {"x": False}


def test_holm_keeps_input_order() -> None:
    assert list(holm({"z": 0.5, "a": 0.001, "m": 0.02})) == ["z", "a", "m"]


# probability_best


def _noisy(center: float, seeds: range, noise: float = 0.01, seed: int = 0) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    return {s: center + noise * float(rng.standard_normal()) for s in seeds}


def test_dominating_method_is_best() -> None:
    values = {"good": _noisy(0.9, range(5), seed=1), "bad": _noisy(0.5, range(5), seed=2)}
    probabilities = probability_best(values)
    assert probabilities["good"] > 0.99 and probabilities["bad"] < 0.01


def test_identical_methods_split_evenly() -> None:
    same = _noisy(0.8, range(6))
    assert probability_best({"a": same, "b": dict(same)}) == {"a": 0.5, "b": 0.5}


def test_identical_methods_without_shared_seeds_split_about_evenly() -> None:
    values = {"a": {0: 0.9, 1: 0.8, 2: 0.7}, "b": {3: 0.9, 4: 0.8, 5: 0.7}}
    probabilities = probability_best(values, samples=20000)
    assert probabilities["a"] == pytest.approx(0.5, abs=0.02)
    assert probabilities["b"] == pytest.approx(0.5, abs=0.02)


def test_pairing_cancels_seed_effects() -> None:
    seed_effect = _noisy(0.8, range(5), noise=0.1)
    better = {s: v + 0.01 for s, v in seed_effect.items()}
    assert probability_best({"better": better, "base": seed_effect})["better"] == 1.0
    # the same numbers on disjoint seeds cannot be paired, so the seed noise is not cancelled
    unpaired = {s + 10: v for s, v in seed_effect.items()}
    assert 0.5 < probability_best({"better": better, "base": unpaired})["better"] < 0.9


def test_probabilities_sum_to_one() -> None:
    values = {f"m{i}": _noisy(0.8, range(5), noise=0.05, seed=i) for i in range(4)}
    values["ragged"] = _noisy(0.8, range(3), noise=0.05, seed=9)
    probabilities = probability_best(values, samples=3000)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert list(probabilities) == list(values)


def test_probability_best_is_deterministic_under_a_seed() -> None:
    values = {"a": _noisy(0.8, range(4), noise=0.05, seed=3), "b": _noisy(0.8, range(4), noise=0.05, seed=4)}
    assert probability_best(values, seed=7) == probability_best(values, seed=7)
    assert probability_best(values, seed=7) != probability_best(values, seed=8)


def test_lower_is_better_flips() -> None:
    values = {f"m{i}": _noisy(0.1 * i, range(4), noise=0.1, seed=i) for i in range(3)}
    negated = {name: {s: -v for s, v in by_seed.items()} for name, by_seed in values.items()}
    assert probability_best(values, higher_is_better=False) == probability_best(negated)
    clear = {"low_error": _noisy(0.05, range(4), seed=5), "high_error": _noisy(0.3, range(4), seed=6)}
    assert probability_best(clear, higher_is_better=False)["low_error"] > 0.99
    assert probability_best(clear)["high_error"] > 0.99


def test_single_method_is_best() -> None:
    assert probability_best({"only": {0: 0.5}}) == {"only": 1.0}


# bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: holm({}), "no p-values"),
        (lambda: holm_adjusted({}), "no p-values"),
        (lambda: holm({"a": 0.01}, alpha=0.0), "alpha=0.0"),
        (lambda: holm({"a": 0.01}, alpha=1.0), "alpha=1.0"),
        (lambda: holm({"a": 0.01}, alpha=-0.1), "alpha=-0.1"),
        (lambda: holm({"a": 0.01}, alpha=math.nan), "alpha=nan"),
        (lambda: holm_adjusted({"a": 1.5}), "'a' is 1.5"),
        (lambda: probability_best({}), "no methods"),
        (lambda: probability_best({"a": {}}), "'a' has no seeds"),
        (lambda: probability_best({"a": {0: math.nan}}), "'a' seed 0 is nan"),
        (lambda: probability_best({"a": {0: 0.5}}, samples=0), "samples=0"),
    ],
)
def test_bad_input_raises_config_error_in_one_line(call, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


def test_seeds_for_power_matches_the_textbook_paired_t_sample_sizes() -> None:
    # effect size d = mean / sd of the paired differences; two-sided alpha 0.05, power 0.8:
    # d = 1 needs 10 pairs, d = 0.5 needs 34 (Cohen's tables / G*Power)
    zeros = {0: 0.0, 1: 0.0, 2: 0.0}
    assert seeds_for_power({0: 0.0, 1: 1.0, 2: 2.0}, zeros) == 10
    assert seeds_for_power({0: -0.5, 1: 0.5, 2: 1.5}, zeros) == 34
    assert seeds_for_power({0: 0.5}, {0: 0.0}) != seeds_for_power({0: 0.5}, {0: 0.0})  # nan: one pair says nothing
