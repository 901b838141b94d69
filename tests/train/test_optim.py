"""Optimiser and schedule registries: convergence, LARS against hand computation, exact cosine, errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from augbench.errors import ConfigError
from augbench.registry import OptionError
from augbench.train.optim import LARS, OPTIMIZERS, SCHEDULES, build_optimizer, build_schedule


def quadratic() -> tuple[nn.Parameter, nn.Parameter, Callable[[], torch.Tensor]]:
    """A convex least-squares problem with a 2-D weight and a 1-D bias."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(32, 4, generator=generator)
    targets = inputs @ torch.randn(4, 2, generator=generator) + 0.5
    weight = nn.Parameter(torch.randn(4, 2, generator=generator))
    bias = nn.Parameter(torch.zeros(2))

    def loss() -> torch.Tensor:
        return 0.5 * ((inputs @ weight + bias - targets) ** 2).mean()

    return weight, bias, loss


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_reduces_a_convex_quadratic(name: str) -> None:
    weight, bias, loss = quadratic()
    optimizer = build_optimizer(name, [weight, bias])
    initial = loss().item()
    for _ in range(200):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.85 * initial


def test_sgd_defaults_are_the_benchmarks() -> None:
    optimizer = build_optimizer("sgd", [nn.Parameter(torch.zeros(2))])
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.05, 0.9, 5e-4, False)


def test_resolved_specs_build_again() -> None:
    resolved = OPTIMIZERS.resolve("adam", context=("params",))
    assert resolved == {"type": "adam", "lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.0}
    optimizer = build_optimizer(resolved, [nn.Parameter(torch.zeros(2))])
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)


# --- LARS -----------------------------------------------------------------------------------


def test_lars_local_lr_matches_a_hand_computation_over_two_steps() -> None:
    lr, momentum, weight_decay, eta = 0.5, 0.9, 0.1, 0.01
    p = [3.0, 4.0]
    g = [1.0, -2.0]
    param = nn.Parameter(torch.tensor([p], dtype=torch.float64))
    optimizer = LARS([param], lr=lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=eta)

    def norm(v: list[float]) -> float:
        return math.sqrt(sum(x * x for x in v))

    buffer = [0.0, 0.0]
    for step in range(2):
        param.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        update = [gi + weight_decay * pi for gi, pi in zip(g, p)]
        local_lr = eta * norm(p) / norm(update)  # step 0: 0.01 * 5 / sqrt(4.25)
        scaled = [local_lr * u for u in update]
        buffer = scaled if step == 0 else [momentum * b + s for b, s in zip(buffer, scaled)]
        p = [pi - lr * b for pi, b in zip(p, buffer)]
        torch.testing.assert_close(param.detach(), torch.tensor([p], dtype=torch.float64))
    torch.testing.assert_close(
        optimizer.state[param]["momentum_buffer"], torch.tensor([buffer], dtype=torch.float64)
    )


def test_lars_uses_local_lr_one_when_a_norm_is_zero() -> None:
    param = nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
    optimizer = LARS([param], lr=0.1, momentum=0.0, weight_decay=0.5)
    param.grad = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    optimizer.step()  # ||p|| = 0: a plain SGD step
    torch.testing.assert_close(param.detach(), -0.1 * param.grad)
    before = param.detach().clone()
    param.grad = -0.5 * before  # cancels the weight decay: ||update|| = 0, so nothing moves
    optimizer.step()
    torch.testing.assert_close(param.detach(), before)
    assert "momentum_buffer" not in optimizer.state[param]


def test_lars_excludes_biases_and_norm_parameters() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    lr, weight_decay = 0.1, 0.5
    params = dict(model.named_parameters())
    before = {name: p.detach().clone() for name, p in params.items()}
    optimizer = LARS(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay, trust_coefficient=0.001)
    model(torch.randn(8, 3)).pow(2).sum().backward()
    grads = {name: p.grad.clone() for name, p in params.items()}
    optimizer.step()
    for name in ("0.bias", "1.weight", "1.bias"):  # 1-D: plain momentum SGD, no weight decay
        torch.testing.assert_close(params[name].detach(), before[name] - lr * grads[name])
    weight, grad = before["0.weight"], grads["0.weight"]
    update = grad + weight_decay * weight
    local_lr = 0.001 * weight.norm() / update.norm()
    torch.testing.assert_close(params["0.weight"].detach(), weight - lr * local_lr * update)


def test_lars_can_adapt_every_parameter_per_group() -> None:
    bias = nn.Parameter(torch.tensor([3.0, 4.0]))
    optimizer = build_optimizer(
        {"type": "lars", "lr": 1.0, "momentum": 0.0, "weight_decay": 0.0},
        [{"params": [bias], "exclude_bias_and_norm": False}],
    )
    bias.grad = torch.tensor([6.0, 8.0])
    optimizer.step()
    # local lr = 0.001 * 5 / 10, so the step is 5e-4 * grad.
    torch.testing.assert_close(bias.detach(), torch.tensor([3.0, 4.0]) - 5e-4 * torch.tensor([6.0, 8.0]))


# --- schedules ------------------------------------------------------------------------------


def lrs(schedule: torch.optim.lr_scheduler.LRScheduler, optimizer: torch.optim.Optimizer, steps: int) -> list[float]:
    """The lr used at optimiser steps 0 .. steps - 1."""
    values = []
    for _ in range(steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return values


def sgd(lr: float = 0.05) -> torch.optim.Optimizer:
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


@pytest.mark.parametrize("total_steps", [1, 7, 600])
def test_cosine_equals_the_benchmarks_original_lambda_exactly(total_steps: int) -> None:
    reference_optimizer, optimizer = sgd(), sgd()
    reference = torch.optim.lr_scheduler.LambdaLR(
        reference_optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )
    schedule = build_schedule("cosine", optimizer, total_steps)
    assert lrs(schedule, optimizer, total_steps + 3) == lrs(reference, reference_optimizer, total_steps + 3)


def test_cosine_warmup_is_linear_then_decays_to_the_final_fraction() -> None:
    optimizer = sgd(lr=1.0)
    schedule = build_schedule({"type": "cosine", "warmup_steps": 4, "final_lr_fraction": 0.1}, optimizer, 20)
    values = lrs(schedule, optimizer, 22)
    assert values[:5] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert values[12] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the 16 cosine steps
    assert values[20:] == pytest.approx([0.1, 0.1])
    assert all(a >= b for a, b in zip(values[4:], values[5:]))


def test_cosine_schedule_state_round_trips() -> None:
    optimizer = sgd()
    schedule = build_schedule({"type": "cosine", "warmup_steps": 2}, optimizer, 10)
    lrs(schedule, optimizer, 3)
    restored_optimizer = sgd()
    restored = build_schedule({"type": "cosine", "warmup_steps": 5}, restored_optimizer, 50)
    restored.load_state_dict(schedule.state_dict())
    restored_optimizer.load_state_dict(optimizer.state_dict())
    assert lrs(restored, restored_optimizer, 7) == lrs(schedule, optimizer, 7)


def test_constant_keeps_the_base_lr() -> None:
    optimizer = sgd(lr=0.3)
    assert lrs(build_schedule("constant", optimizer, 5), optimizer, 8) == [0.3] * 8


def test_step_decays_at_fractions_of_the_run() -> None:
    optimizer = sgd(lr=1.0)
    values = lrs(build_schedule("step", optimizer, 100), optimizer, 100)
    assert values[49] == 1.0
    assert values[50] == pytest.approx(0.1)
    assert values[74] == pytest.approx(0.1)
    assert values[75] == pytest.approx(0.01)


# --- errors ---------------------------------------------------------------------------------


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unknown_optimizer_and_option_raise_one_line() -> None:
    params = [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ConfigError) as error:
        build_optimizer("adamww", params)
    assert "did you mean 'adamw'" in one_line(error)
    with pytest.raises(OptionError) as error:
        build_optimizer({"type": "sgd", "learning_rate": 0.1}, params)
    assert "'learning_rate'" in one_line(error) and "lr" in one_line(error)
    with pytest.raises(OptionError, match="set by the run"):
        build_optimizer({"type": "sgd", "params": params}, params)


def test_unknown_schedule_and_option_raise_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        build_schedule("cosin", sgd(), 10)
    assert "did you mean 'cosine'" in one_line(error)
    with pytest.raises(OptionError) as error:
        build_schedule({"type": "cosine", "warmup": 3}, sgd(), 10)
    assert "'warmup'" in one_line(error) and "warmup_steps" in one_line(error)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_lr_names_the_option(name: str, lr: float) -> None:
    with pytest.raises(ConfigError) as error:
        build_optimizer({"type": name, "lr": lr}, [nn.Parameter(torch.zeros(1))])
    assert f"lr={lr}" in one_line(error)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"type": "sgd", "momentum": 1.0}, "momentum=1.0"),
        ({"type": "sgd", "momentum": 0.0, "nesterov": True}, "nesterov=True needs momentum > 0"),
        ({"type": "adamw", "weight_decay": -1.0}, "weight_decay=-1.0"),
        ({"type": "adam", "betas": [0.9]}, "betas=\\[0.9\\]"),
        ({"type": "lars", "trust_coefficient": 0.0}, "trust_coefficient=0.0"),
        ({"type": "lars", "lr": "fast"}, "lr='fast'"),
    ],
)
def test_out_of_range_optimizer_options_raise_config_error(spec: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_optimizer(spec, [nn.Parameter(torch.zeros(1))])


@pytest.mark.parametrize(
    ("spec", "total_steps", "match"),
    [
        ("cosine", 0, "total_steps=0"),
        ({"type": "cosine", "warmup_steps": 10}, 10, "warmup_steps=10"),
        ({"type": "cosine", "final_lr_fraction": 1.5}, 10, "final_lr_fraction=1.5"),
        ({"type": "step", "milestones": [0.75, 0.5]}, 10, "milestones="),
        ({"type": "step", "milestones": [0.5, 1.0]}, 10, "milestones="),
        ({"type": "step", "gamma": 0.0}, 10, "gamma=0.0"),
        ("constant", 2.5, "total_steps=2.5"),
    ],
)
def test_out_of_range_schedule_options_raise_config_error(spec, total_steps, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_schedule(spec, sgd(), total_steps)


def test_registries_hold_the_documented_names() -> None:
    assert OPTIMIZERS.names() == ["adam", "adamw", "lars", "sgd"]
    assert SCHEDULES.names() == ["constant", "cosine", "step"]
