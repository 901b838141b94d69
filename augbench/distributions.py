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

from augbench.errors import InputTypeError, InputValueError
from augbench.keyed import KeyedGenerator

__all__ = [
    "AnyGenerator", "rand", "normal", "standard_normal", "log_gamma", "gamma", "beta", "dirichlet", "log_gamma_per_element",
    "beta_per_element",
]

AnyGenerator = Union[torch.Generator, KeyedGenerator]

_GAMMA_TRIES = 12  # Marsaglia-Tsang accepts > 95 % of proposals; all 12 fail with p < 1e-15
_GAMMA_EAGER = 4  # proposals evaluated first on the CPU; all 4 fail with p < 6e-6 per element
_GAMMA_LAZY_FROM = 2048  # fewer proposals than this: evaluating all of them costs no more


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


def standard_normal(shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Standard normal float32 numbers of ``shape`` (``shape[0]`` is the batch), the fast way for each generator.

    A ``torch.Generator`` draws them with ``torch.randn`` (as fast as uniform numbers). Keyed
    draws use Box-Muller on one uniform draw of the same size (two normals per pair of
    uniforms: the cosine and the sine branch, half the uniforms of :func:`normal`), so each
    sample's numbers depend on its key alone. For noise tensors (audio, image, series noise);
    :func:`normal` stays the draw of small parameter tensors, whose numbers it fixes."""
    if isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=generator.device)
    n, count = shape[0], math.prod(shape[1:])
    half = (count + 1) // 2
    u = rand((n, 2 * half), generator)
    # In place, on the uniforms' buffer and one output: the same operations (and bits) as
    # radius = sqrt(-2 log u1), angle = 2 pi u2, cat([radius cos, radius sin]), in fewer passes.
    radius = u[:, :half].clamp_(min=1e-7).log_().mul_(-2.0).sqrt_()
    angle = u[:, half:].mul_(2.0 * math.pi)
    normals = torch.empty_like(u)
    torch.cos(angle, out=normals[:, :half]).mul_(radius)
    torch.sin(angle, out=normals[:, half:]).mul_(radius)
    return normals[:, :count].view(shape)


def log_gamma(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Logarithms of Gamma(concentration, 1) draws of ``shape``, float64 (Marsaglia and Tsang).

    Proposal ``v = (1 + c x)^3`` with ``x ~ N(0, 1)``, ``d = a - 1/3``, ``c = 1 / sqrt(9 d)``,
    accepted when ``log u < x^2 / 2 + d - d v + d log v``; ``a < 1`` uses
    ``Gamma(a) = Gamma(a + 1) U^(1/a)``, added in log space so tiny concentrations (0.01)
    neither underflow nor give ``0 / 0``. A fixed number of proposals is drawn for every element
    and the first accepted one is used (no data-dependent number of draws), which keeps the
    number of draws, and so keyed randomness, independent of the outcome.

    Only the arithmetic is lazy: for larger draws on the CPU the first :data:`_GAMMA_EAGER`
    proposals of every element are evaluated, and all of them only when some element rejects
    those (about 0.3 % of 512-element draws at concentration 1, the worst case), which gives
    the same values as always evaluating every proposal. Other devices evaluate all proposals
    at once (no host synchronisation).

    Reference:
        Marsaglia and Tsang, "A simple method for generating gamma variables", ACM TOMS 2000.
    """
    return _log_gamma_from(concentration, *_gamma_uniforms(concentration, shape, generator, 1))[0]


def _gamma_uniforms(
    concentration: float, shape: tuple[int, ...], generator: AnyGenerator, count: int
) -> tuple[Tensor, ...]:
    """The uniforms of ``count`` successive :func:`log_gamma` draws, stacked on a new leading dim.

    One draw consumes, in this order, ``u1`` and ``u2`` (the normals of its proposals) and ``u``
    (their acceptance), each ``(*shape, tries)``, then ``(*shape,)`` for concentrations below 1.
    A CPU ``torch.Generator`` fills all of them with one call (the CPU generator fills tensors
    in order, so the numbers are those of the separate calls).
    """
    if concentration <= 0:
        raise ValueError(f"gamma concentration must be > 0, got {concentration}")
    boosted = concentration < 1.0
    proposals = (*shape, _GAMMA_TRIES)
    if isinstance(generator, torch.Generator) and generator.device.type == "cpu":
        size = math.prod(proposals)
        per_draw = 3 * size + (size // _GAMMA_TRIES if boosted else 0)
        flat = torch.rand((count, per_draw), generator=generator)
        parts = [flat[:, k * size : (k + 1) * size].view(count, *proposals) for k in range(3)]
        if boosted:
            parts.append(flat[:, 3 * size :].view(count, *shape))
        return tuple(parts)
    draws = []
    for _ in range(count):
        draws.append([rand(proposals, generator) for _ in range(3)] + ([rand(shape, generator)] if boosted else []))
    return tuple(torch.stack(part) for part in zip(*draws))


def _log_gamma_from(concentration: float, u1: Tensor, u2: Tensor, u: Tensor, boost: Tensor | None = None) -> Tensor:
    """:func:`log_gamma` from the uniforms of :func:`_gamma_uniforms` (any common leading shape)."""
    boosted = concentration < 1.0
    a = concentration + 1.0 if boosted else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    log_v = None
    if u.device.type == "cpu" and u.numel() > _GAMMA_LAZY_FROM:
        head = slice(0, _GAMMA_EAGER)
        head_log_v, head_accept = _proposals(u1[..., head], u2[..., head], u[..., head], d, c)
        if bool(head_accept.any(-1).all()):  # else some element needs its later proposals
            log_v = _first_accepted(head_log_v, head_accept)
    if log_v is None:
        log_v = _first_accepted(*_proposals(u1, u2, u, d, c))
    result = math.log(d) + log_v
    if boosted:
        result = result + torch.log(boost.double().clamp_(min=1e-12)) / concentration
    return result


def _proposals(u1: Tensor, u2: Tensor, u: Tensor, d: float, c: float) -> tuple[Tensor, Tensor]:
    """``log v`` (float64) and acceptance of Marsaglia-Tsang proposals from their three uniforms.

    ``x`` is :func:`normal`'s Box-Muller transform of ``u1``, ``u2`` (float32, then float64).
    """
    x = (torch.sqrt(-2.0 * torch.log(u1.clamp(min=1e-7))) * torch.cos(2.0 * math.pi * u2)).double()
    v = (1.0 + c * x) ** 3
    log_v = torch.log(v.clamp(min=torch.finfo(torch.float64).tiny))
    log_u = torch.log(u.double().clamp_(min=1e-12))
    accept = (v > 0) & (log_u < 0.5 * x * x + d - d * v + d * log_v)
    return log_v, accept


def _first_accepted(log_v: Tensor, accept: Tensor) -> Tensor:
    """``log v`` of the first accepted proposal along the last dim (proposal 0 if none is)."""
    first = accept.to(torch.uint8).argmax(-1, keepdim=True)
    return log_v.gather(-1, first).squeeze(-1)


def gamma(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Gamma(concentration, 1) draws of ``shape``, float32 (see :func:`log_gamma`)."""
    return log_gamma(concentration, shape, generator).exp().float()


def beta(alpha: float, beta_: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Beta(alpha, beta_) draws of ``shape``, float32 in [0, 1], as ``Ga / (Ga + Gb)`` in log space.

    ``Ga`` and ``Gb`` consume their uniforms in this order (all of ``Ga``'s first); with
    ``alpha == beta_`` both are computed in one pass over the stacked draws (the same values
    as two :func:`log_gamma` calls, with half the tensor operations).
    """
    if alpha != beta_:
        return torch.sigmoid(log_gamma(alpha, shape, generator) - log_gamma(beta_, shape, generator)).float()
    both = _log_gamma_from(alpha, *_gamma_uniforms(alpha, shape, generator, 2))
    return torch.sigmoid(both[0] - both[1]).float()


def dirichlet(concentration: float, shape: tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Symmetric Dirichlet weights, float32: ``shape[:-1]`` independent vectors over ``shape[-1]`` entries."""
    return torch.softmax(log_gamma(concentration, shape, generator), dim=-1).float()


def log_gamma_per_element(concentration: Tensor, generator: AnyGenerator) -> Tensor:
    """Logarithms of Gamma(concentration[i], 1) draws, one per element, float64 (Marsaglia and Tsang).

    :func:`log_gamma` with a concentration per element (a policy network's output) instead of
    one for the whole draw: the same proposals, acceptance test and ``a < 1`` boost, with every
    element's constants computed from its own concentration. The uniforms are drawn in
    :func:`log_gamma`'s order (``u1``, ``u2``, ``u`` of ``(*shape, tries)``, then the ``(*shape,)``
    boost uniforms), the boost uniforms for every element whatever its concentration, so the
    number of draws never depends on the values; an element's draw therefore equals
    :func:`log_gamma` at its concentration (for a keyed generator, or a CPU generator's first draw).
    The concentrations are constants here (no reparameterisation gradient).

    Args:
        concentration: ``(B, ...)`` floating tensor of concentrations > 0 and finite (not checked,
            which would cost a host sync); for a keyed generator ``B`` is the number of keys.
        generator: a ``torch.Generator`` on the concentration's device or a keyed generator.

    Shape:
        ``concentration``'s shape -> the same shape, float64.
    """
    if not isinstance(concentration, Tensor) or not concentration.is_floating_point():
        kind = f"dtype {concentration.dtype}" if isinstance(concentration, Tensor) else type(concentration).__name__
        raise InputTypeError(f"log_gamma_per_element: concentration must be a floating tensor, got {kind}")
    shape = tuple(concentration.shape)
    proposals = (*shape, _GAMMA_TRIES)
    u1, u2, u = (rand(proposals, generator) for _ in range(3))
    boost = rand(shape, generator)
    a = concentration.detach().double()
    boosted = a < 1.0
    d = torch.where(boosted, a + 1.0, a) - 1.0 / 3.0
    c = torch.rsqrt(9.0 * d)
    log_v = _first_accepted(*_proposals(u1, u2, u, d.unsqueeze(-1), c.unsqueeze(-1)))
    boost_term = torch.log(boost.double().clamp_(min=1e-12)) / a
    return torch.log(d) + log_v + torch.where(boosted, boost_term, torch.zeros_like(boost_term))


def beta_per_element(alpha: Tensor, beta_: Tensor, generator: AnyGenerator) -> Tensor:
    """Beta(alpha[i], beta_[i]) draws, one per element, float32 in [0, 1], as ``Ga / (Ga + Gb)``.

    :func:`beta` with per-element concentrations (:func:`log_gamma_per_element`; ``Ga``'s
    uniforms are drawn first). Values may round to exactly 0 or 1 in float32 when a
    concentration is very small.

    Args:
        alpha, beta_: floating tensors of one shape ``(B, ...)``, concentrations > 0 (not checked).
        generator: a ``torch.Generator`` or a keyed generator.

    Shape:
        ``(B, ...)`` each -> ``(B, ...)`` float32.
    """
    if isinstance(alpha, Tensor) and isinstance(beta_, Tensor) and alpha.shape != beta_.shape:
        raise InputValueError(
            f"beta_per_element: alpha {tuple(alpha.shape)} and beta_ {tuple(beta_.shape)} must have one shape"
        )
    log_ratio = log_gamma_per_element(alpha, generator) - log_gamma_per_element(beta_, generator)
    return torch.sigmoid(log_ratio).float()
