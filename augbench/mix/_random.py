"""Generator-aware Beta draws for the mixers.

``torch.distributions.Beta`` samples from torch's global RNG and takes no generator, so the
mixers draw Beta variates from two Gamma variates built here from normal and uniform draws of
the explicit generator only (Marsaglia and Tsang's rejection method). Everything runs in
float64 on the generator's device and in log space, so small concentrations (``alpha = 0.01``)
neither underflow nor give ``0 / 0``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["beta", "log_gamma_variates"]


def log_gamma_variates(concentration: float, n: int, generator: torch.Generator) -> Tensor:
    """Logarithms of ``n`` draws from Gamma(``concentration``, 1).

    Marsaglia and Tsang (2000) for shape ``a >= 1``: propose ``v = (1 + c x)^3`` with
    ``x ~ N(0, 1)``, ``d = a - 1/3``, ``c = 1 / sqrt(9 d)``, and accept ``d v`` when
    ``log u < x^2 / 2 + d - d v + d log v``. Shapes ``a < 1`` use
    ``Gamma(a) = Gamma(a + 1) * U^(1/a)``. Rejected proposals are redrawn in rounds over the
    whole pending set (acceptance is above 95 %), never one sample at a time.

    Args:
        concentration: shape ``a > 0``.
        n: number of draws, ``>= 0``.
        generator: the only source of randomness.

    Returns:
        ``(n,)`` float64 on the generator's device.

    Reference:
        Marsaglia and Tsang, "A simple method for generating gamma variables", ACM TOMS 2000.
    """
    device = generator.device
    shape = concentration + 1.0 if concentration < 1.0 else concentration
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    result = torch.empty(n, dtype=torch.float64, device=device)
    pending = torch.arange(n, device=device)
    while pending.numel():
        x = torch.randn(pending.numel(), generator=generator, dtype=torch.float64, device=device)
        u = torch.rand(pending.numel(), generator=generator, dtype=torch.float64, device=device)
        v = (1.0 + c * x) ** 3
        log_v = torch.log(v.clamp(min=torch.finfo(torch.float64).tiny))
        accepted = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        result[pending[accepted]] = math.log(d) + log_v[accepted]
        pending = pending[~accepted]
    if concentration < 1.0:
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=device)
        result += torch.log(u) / concentration
    return result


def beta(a: float, b: float, n: int, generator: torch.Generator) -> Tensor:
    """``n`` draws from Beta(``a``, ``b``) as ``Ga / (Ga + Gb)`` with Gamma variates ``Ga``, ``Gb``.

    Args:
        a: first shape parameter, > 0 (the mean is ``a / (a + b)``).
        b: second shape parameter, > 0.
        n: number of draws, ``>= 0``.
        generator: the only source of randomness.

    Returns:
        ``(n,)`` float32 in [0, 1] on the generator's device.
    """
    log_ratio = log_gamma_variates(a, n, generator) - log_gamma_variates(b, n, generator)
    return torch.sigmoid(log_ratio).to(torch.float32)
