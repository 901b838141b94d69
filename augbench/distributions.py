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

__all__ = ["AnyGenerator", "rand", "normal", "gamma", "beta", "dirichlet"]

AnyGenerator = Union[torch.Generator, KeyedGenerator]

_GAMMA_TRIES = 12  # Marsaglia-Tsang accepts > 95 % of proposals; 12 tries fail with p < 1e-15


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


def gamma(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Gamma(concentration, 1) numbers of ``shape``, vectorised Marsaglia-Tsang.

    ``concentration < 1`` uses the boost ``G(a) = G(a + 1) * U**(1 / a)``. A fixed number of
    proposals is drawn for every element (no data-dependent loop); the first accepted one is
    used, which keeps the draw count, and so keyed randomness, independent of the outcome.
    """
    if concentration <= 0:
        raise ValueError(f"gamma concentration must be > 0, got {concentration}")
    boosted = concentration < 1.0
    a = concentration + 1.0 if boosted else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    proposals = (*shape, _GAMMA_TRIES)
    z = normal(proposals, generator)
    u = rand(proposals, generator).clamp_(min=1e-12)
    v = (1.0 + c * z) ** 3
    accept = (v > 0) & (torch.log(u) < 0.5 * z**2 + d - d * v + d * torch.log(v.clamp(min=1e-12)))
    first = accept.to(torch.uint8).argmax(-1, keepdim=True)
    sample = (d * v).gather(-1, first).squeeze(-1)
    if boosted:
        sample = sample * rand(shape, generator).clamp_(min=1e-12) ** (1.0 / concentration)
    return sample


def beta(alpha: float, beta_: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Beta(alpha, beta_) numbers of ``shape`` as ``G1 / (G1 + G2)``."""
    first = gamma(alpha, shape, generator)
    second = gamma(beta_, shape, generator)
    return first / (first + second).clamp_(min=1e-12)


def dirichlet(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Symmetric Dirichlet weights: ``shape[:-1]`` independent vectors over ``shape[-1]`` entries."""
    draws = gamma(concentration, shape, generator)
    return draws / draws.sum(-1, keepdim=True).clamp_(min=1e-12)
