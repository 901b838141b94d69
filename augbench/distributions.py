"""Batched draws that accept a ``torch.Generator`` or a :class:`~augbench.keyed.KeyedGenerator`.

Every draw here is built from uniform numbers of :func:`rand`, so it works unchanged with keyed
randomness (each sample's numbers depend on its key only). ``torch.distributions`` cannot be
used for this: its samplers take no generator.
"""

from __future__ import annotations

import math
from typing import Union

import torch
from torch import Tensor

from augbench.keyed import KeyedGenerator

__all__ = ["AnyGenerator", "rand", "normal", "log_gamma", "gamma", "beta", "dirichlet"]

AnyGenerator = Union[torch.Generator, KeyedGenerator]

_GAMMA_TRIES = 12  # Marsaglia-Tsang accepts > 95 % of proposals; all 12 fail with p < 1e-15


def rand(shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Uniform float32 numbers in [0, 1) of ``shape`` on the generator's device."""
    if isinstance(generator, KeyedGenerator):
        return generator.rand(shape)
    return torch.rand(shape, generator=generator, device=generator.device)


def normal(shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Standard normal numbers of ``shape`` (Box-Muller on two uniform draws)."""
    u1 = rand(shape, generator).clamp_(min=1e-7)
    u2 = rand(shape, generator)
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)


def log_gamma(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Logarithms of Gamma(concentration, 1) draws of ``shape``, float64 (Marsaglia and Tsang).

    Proposal ``v = (1 + c x)^3`` with ``x ~ N(0, 1)``, ``d = a - 1/3``, ``c = 1 / sqrt(9 d)``,
    accepted when ``log u < x^2 / 2 + d - d v + d log v``; ``a < 1`` uses
    ``Gamma(a) = Gamma(a + 1) U^(1/a)``, added in log space so tiny concentrations (0.01)
    neither underflow nor give ``0 / 0``. A fixed number of proposals is drawn for every element
    and the first accepted one is used (no data-dependent loop), which keeps the number of draws,
    and so keyed randomness, independent of the outcome.

    Reference:
        Marsaglia and Tsang, "A simple method for generating gamma variables", ACM TOMS 2000.
    """
    if concentration <= 0:
        raise ValueError(f"gamma concentration must be > 0, got {concentration}")
    boosted = concentration < 1.0
    a = concentration + 1.0 if boosted else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    proposals = (*shape, _GAMMA_TRIES)
    x = normal(proposals, generator).double()
    u = rand(proposals, generator).double().clamp_(min=1e-12)
    v = (1.0 + c * x) ** 3
    log_v = torch.log(v.clamp(min=torch.finfo(torch.float64).tiny))
    accept = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * log_v)
    first = accept.to(torch.uint8).argmax(-1, keepdim=True)
    result = math.log(d) + log_v.gather(-1, first).squeeze(-1)
    if boosted:
        result = result + torch.log(rand(shape, generator).double().clamp_(min=1e-12)) / concentration
    return result


def gamma(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Gamma(concentration, 1) draws of ``shape``, float32 (see :func:`log_gamma`)."""
    return log_gamma(concentration, shape, generator).exp().float()


def beta(alpha: float, beta_: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Beta(alpha, beta_) draws of ``shape``, float32 in [0, 1], as ``Ga / (Ga + Gb)`` in log space."""
    return torch.sigmoid(log_gamma(alpha, shape, generator) - log_gamma(beta_, shape, generator)).float()


def dirichlet(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Symmetric Dirichlet weights, float32: ``shape[:-1]`` independent vectors over ``shape[-1]`` entries."""
    return torch.softmax(log_gamma(concentration, shape, generator), dim=-1).float()
