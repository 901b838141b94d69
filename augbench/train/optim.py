"""Optimisers and learning-rate schedules by name, built from specs.

``build_optimizer({"type": "sgd", "lr": 0.1}, model.parameters())`` and
``build_schedule("cosine", optimizer, total_steps)``: the run supplies the parameters, the
optimiser and the number of steps as registry *context*, so a spec only holds options. Unknown
names and options are rejected by :class:`~augbench.registry.Registry`; option values are
checked here, each with a one-line :class:`~augbench.errors.ConfigError` naming the option.

Every schedule is stepped once per optimiser step (not per epoch); ``total_steps`` is the
number of optimiser steps of the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR

from augbench.errors import ConfigError, InputTypeError
from augbench.registry import Registry, Spec

__all__ = ["LARS", "OPTIMIZERS", "SCHEDULES", "build_optimizer", "build_schedule"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
"""Parameters to optimise, or torch param groups (dicts with ``params`` and per-group options)."""

OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
SCHEDULES: Registry[LRScheduler] = Registry("schedule")


def _require(ok: bool, who: str, name: str, value: Any, requirement: str) -> None:
    if not ok:
        raise ConfigError(f"{who}: {name}={value!r} {requirement}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_common(who: str, lr: float, weight_decay: float, momentum: float | None = None) -> None:
    _require(_is_number(lr) and lr > 0, who, "lr", lr, "must be a number > 0")
    _require(_is_number(weight_decay) and weight_decay >= 0, who, "weight_decay", weight_decay, "must be a number >= 0")
    if momentum is not None:
        _require(_is_number(momentum) and 0 <= momentum < 1, who, "momentum", momentum, "must be a number in [0, 1)")


def _betas(who: str, betas: Sequence[float]) -> tuple[float, float]:
    pair = tuple(betas) if isinstance(betas, Sequence) and not isinstance(betas, str) else (betas,)
    _require(
        len(pair) == 2 and all(_is_number(beta) and 0 <= beta < 1 for beta in pair), who, "betas", betas,
        "must be two numbers in [0, 1), e.g. (0.9, 0.999)",
    )
    return float(pair[0]), float(pair[1])


class LARS(Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (LARS).

    For each parameter ``p`` with gradient ``g``, per step:

    ``u = g + weight_decay * p``;
    ``local_lr = trust_coefficient * ||p|| / ||u||`` if both norms are > 0, else 1;
    ``buf = momentum * buf + local_lr * u`` (``buf = local_lr * u`` on the first step);
    ``p = p - lr * buf``.

    With ``exclude_bias_and_norm`` (a per-group option), parameters with at most one dimension
    (biases, batch/layer-norm scales and shifts) get neither weight decay nor adaptation:
    ``u = g`` and ``local_lr = 1``, as in SimCLR and BYOL. ``lr`` multiplies the momentum buffer,
    as in ``torch.optim.SGD`` (SimCLR's TensorFlow version folds it into the buffer, which
    differs only while ``lr`` changes). The norms stay on the device: no host sync.

    Reference: You et al., "Large Batch Training of Convolutional Networks", 2017
    (arXiv:1708.03888); Chen et al. (SimCLR, arXiv:2002.05709) and Grill et al. (BYOL,
    arXiv:2006.07733) for the bias/norm exclusion.

    Args:
        params: parameters or param groups.
        lr: base learning rate, > 0.
        momentum: in [0, 1).
        weight_decay: >= 0, added to the gradient before the trust ratio.
        trust_coefficient: ``eta`` > 0 of the local learning rate.
        exclude_bias_and_norm: leave 0-D/1-D parameters out of weight decay and adaptation.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 0.3,
        momentum: float = 0.9,
        weight_decay: float = 1e-6,
        trust_coefficient: float = 0.001,
        exclude_bias_and_norm: bool = True,
    ) -> None:
        _check_common("LARS", lr, weight_decay, momentum)
        _require(
            _is_number(trust_coefficient) and trust_coefficient > 0,
            "LARS", "trust_coefficient", trust_coefficient, "must be a number > 0",
        )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "trust_coefficient": trust_coefficient,
            "exclude_bias_and_norm": exclude_bias_and_norm,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter with a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise InputTypeError("LARS: sparse gradients are not supported; use dense parameters")
                update = param.grad
                if not (group["exclude_bias_and_norm"] and param.ndim <= 1):
                    update = update.add(param, alpha=group["weight_decay"])
                    param_norm = torch.linalg.vector_norm(param)
                    update_norm = torch.linalg.vector_norm(update)
                    local_lr = torch.where(
                        (param_norm > 0) & (update_norm > 0),
                        group["trust_coefficient"] * param_norm / update_norm,
                        torch.ones_like(param_norm),
                    )
                    update = update.mul(local_lr)
                if group["momentum"] > 0:
                    state = self.state[param]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = update.clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                    update = state["momentum_buffer"]
                param.add_(update, alpha=-group["lr"])
        return loss


@OPTIMIZERS.register("sgd")
def sgd(
    params: Params, lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4, nesterov: bool = False
) -> torch.optim.SGD:
    """``torch.optim.SGD``; the defaults are the benchmark's (lr 0.05, momentum 0.9, wd 5e-4)."""
    who = "optimizer 'sgd'"
    _check_common(who, lr, weight_decay, momentum)
    _require(not nesterov or momentum > 0, who, "nesterov", nesterov, "needs momentum > 0")
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


@OPTIMIZERS.register("adam")
def adam(
    params: Params, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999), weight_decay: float = 0.0
) -> torch.optim.Adam:
    """``torch.optim.Adam`` (Kingma & Ba, 2015), L2 weight decay added to the gradient."""
    who = "optimizer 'adam'"
    _check_common(who, lr, weight_decay)
    return torch.optim.Adam(params, lr=lr, betas=_betas(who, betas), weight_decay=weight_decay)


@OPTIMIZERS.register("adamw")
def adamw(
    params: Params, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999), weight_decay: float = 0.01
) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` (Loshchilov & Hutter, 2019), decoupled weight decay."""
    who = "optimizer 'adamw'"
    _check_common(who, lr, weight_decay)
    return torch.optim.AdamW(params, lr=lr, betas=_betas(who, betas), weight_decay=weight_decay)


@OPTIMIZERS.register("lars")
def lars(
    params: Params,
    lr: float = 0.3,
    momentum: float = 0.9,
    weight_decay: float = 1e-6,
    trust_coefficient: float = 0.001,
    exclude_bias_and_norm: bool = True,
) -> LARS:
    """:class:`LARS` (You et al., 2017) with SimCLR-style defaults."""
    return LARS(
        params,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        trust_coefficient=trust_coefficient,
        exclude_bias_and_norm=exclude_bias_and_norm,
    )


def _check_total_steps(who: str, total_steps: int) -> None:
    _require(
        _is_count(total_steps) and total_steps >= 1,
        who, "total_steps", total_steps, "must be an int >= 1 (optimiser steps of the run)",
    )


class _WarmupCosine:
    """LambdaLR factor: linear warmup to 1, then a cosine from 1 to ``final_lr_fraction``.

    A class rather than a closure so that ``LambdaLR.state_dict`` saves it.
    """

    def __init__(self, total_steps: int, warmup_steps: int, final_lr_fraction: float) -> None:
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.final_lr_fraction = final_lr_fraction

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = self.total_steps - self.warmup_steps
        # Same operation order as the benchmark's original lambda, so warmup 0 / final 0 is bit-identical.
        cosine = 0.5 * (1 + math.cos(math.pi * min(step - self.warmup_steps, span) / span))
        return self.final_lr_fraction + (1 - self.final_lr_fraction) * cosine


class _Constant:
    """LambdaLR factor 1 at every step (a class so that ``LambdaLR.state_dict`` saves it)."""

    def __call__(self, step: int) -> float:
        return 1.0


@SCHEDULES.register("cosine")
def cosine(optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, final_lr_fraction: float = 0.0) -> LambdaLR:
    """Linear warmup, then cosine decay to ``final_lr_fraction * lr`` at ``total_steps``.

    Factor of the base lr at step ``t`` (``W = warmup_steps``, ``T = total_steps``, ``f`` the final
    fraction): ``(t + 1) / W`` for ``t < W`` (no step at lr 0), then
    ``f + (1 - f) * 0.5 * (1 + cos(pi * min(t - W, T - W) / (T - W)))``. With ``W = 0`` and
    ``f = 0`` this is exactly the benchmark's original schedule (Loshchilov & Hutter, SGDR, 2017).

    Args:
        optimizer: the optimiser whose lr is scheduled.
        total_steps: optimiser steps of the run, >= 1.
        warmup_steps: in ``[0, total_steps)``.
        final_lr_fraction: in [0, 1].
    """
    who = "schedule 'cosine'"
    _check_total_steps(who, total_steps)
    _require(
        _is_count(warmup_steps) and 0 <= warmup_steps < total_steps,
        who, "warmup_steps", warmup_steps, f"must be an int in [0, total_steps={total_steps})",
    )
    _require(
        _is_number(final_lr_fraction) and 0 <= final_lr_fraction <= 1,
        who, "final_lr_fraction", final_lr_fraction, "must be a number in [0, 1]",
    )
    return LambdaLR(optimizer, _WarmupCosine(total_steps, warmup_steps, final_lr_fraction))


@SCHEDULES.register("constant")
def constant(optimizer: Optimizer, total_steps: int) -> LambdaLR:
    """The base lr at every step (``total_steps`` is only checked, for a uniform interface)."""
    _check_total_steps("schedule 'constant'", total_steps)
    return LambdaLR(optimizer, _Constant())


@SCHEDULES.register("step")
def step(
    optimizer: Optimizer, total_steps: int, milestones: Sequence[float] = (0.5, 0.75), gamma: float = 0.1
) -> MultiStepLR:
    """Multiply the lr by ``gamma`` at each milestone, given as a fraction of ``total_steps``.

    Milestone ``f`` falls at optimiser step ``round(f * total_steps)``.

    Args:
        optimizer: the optimiser whose lr is scheduled.
        total_steps: optimiser steps of the run, >= 1.
        milestones: increasing fractions in (0, 1).
        gamma: factor > 0 applied at each milestone.
    """
    who = "schedule 'step'"
    _check_total_steps(who, total_steps)
    fractions = tuple(milestones) if isinstance(milestones, Sequence) and not isinstance(milestones, str) else ()
    _require(
        len(fractions) > 0
        and all(_is_number(f) and 0 < f < 1 for f in fractions)
        and all(a < b for a, b in zip(fractions, fractions[1:])),
        who, "milestones", milestones, "must be increasing fractions of total_steps in (0, 1), e.g. (0.5, 0.75)",
    )
    _require(_is_number(gamma) and gamma > 0, who, "gamma", gamma, "must be a number > 0")
    return MultiStepLR(optimizer, milestones=[round(f * total_steps) for f in fractions], gamma=gamma)


def build_optimizer(spec: Spec, params: Params) -> Optimizer:
    """Build an optimiser spec for ``params`` (parameters or param groups).

    >>> layer = torch.nn.Linear(2, 1)
    >>> build_optimizer({"type": "adamw", "lr": 3e-4}, layer.parameters()).defaults["lr"]
    0.0003

    Raises:
        ConfigError: unknown optimiser, unknown option (one line each), or an option out of range.
    """
    return OPTIMIZERS.build(spec, context={"params": params})


def build_schedule(spec: Spec, optimizer: Optimizer, total_steps: int) -> LRScheduler:
    """Build a schedule spec for ``optimizer`` over ``total_steps`` optimiser steps.

    >>> optimizer = build_optimizer("sgd", torch.nn.Linear(2, 1).parameters())
    >>> build_schedule({"type": "cosine", "warmup_steps": 2}, optimizer, 10).get_last_lr()
    [0.025]

    Raises:
        ConfigError: unknown schedule, unknown option (one line each), or an option out of range.
    """
    return SCHEDULES.build(spec, context={"optimizer": optimizer, "total_steps": total_steps})
