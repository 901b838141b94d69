"""Generator-aware Gamma/Beta/Dirichlet draws (augbench/distributions.py), plain and keyed."""

from __future__ import annotations

import pytest
import torch

from augbench.distributions import beta, dirichlet, log_gamma
from augbench.keyed import KeyedGenerator


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (0.2, 0.2), (2.0, 5.0), (0.01, 0.01), (50.0, 50.0)])
def test_beta_moments(a: float, b: float) -> None:
    draws = beta(a, b, (100_000,), torch.Generator().manual_seed(0)).double()
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert draws.mean().item() == pytest.approx(mean, abs=4 * (var / 100_000) ** 0.5 + 1e-4)
    assert draws.var().item() == pytest.approx(var, rel=0.03)
    assert bool(((draws >= 0) & (draws <= 1)).all())


def test_beta_one_one_is_uniform() -> None:
    draws = beta(1.0, 1.0, (50_000,), torch.Generator().manual_seed(1))
    quantiles = torch.quantile(draws, torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9]))
    assert torch.allclose(quantiles, torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9]), atol=0.01)


def test_gamma_mean() -> None:
    for shape in (0.3, 1.0, 4.0):
        draws = log_gamma(shape, (50_000,), torch.Generator().manual_seed(2)).exp()
        assert draws.mean().item() == pytest.approx(shape, rel=0.03)


def test_beta_dtype_shape_and_empty() -> None:
    generator = torch.Generator().manual_seed(0)
    assert beta(1.0, 1.0, (5,), generator).dtype == torch.float32
    assert beta(1.0, 1.0, (0,), generator).shape == (0,)


def test_seeded_and_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    first = beta(0.5, 0.5, (1000,), torch.Generator().manual_seed(3))
    second = beta(0.5, 0.5, (1000,), torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    assert torch.equal(state, torch.get_rng_state())


def test_dirichlet_rows_sum_to_one_with_mean_one_over_k() -> None:
    weights = dirichlet(1.0, (20_000, 4), torch.Generator().manual_seed(4))
    assert torch.allclose(weights.sum(1), torch.ones(20_000), atol=1e-5)
    assert torch.allclose(weights.mean(0), torch.full((4,), 0.25), atol=0.01)


def test_keyed_draws_follow_the_key_not_the_batch() -> None:
    ids = torch.tensor([5, 17, 3, 99])
    whole = beta(0.4, 0.4, (4,), KeyedGenerator(ids, seed=7))
    part = beta(0.4, 0.4, (2,), KeyedGenerator(ids[[3, 1]], seed=7))
    assert torch.equal(whole[[3, 1]], part)
