"""EMA copies: the update rule, frozen weights, copied buffers and the cosine momentum ramp."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from augbench.errors import InputValueError
from augbench.models import MomentumEncoder, cosine_momentum


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def test_copy_is_frozen_in_eval_mode_and_independent_of_the_online_model() -> None:
    online = small_net()
    ema = MomentumEncoder(online)
    assert not ema.model.training
    assert not any(p.requires_grad for p in ema.model.parameters())
    assert all(p.requires_grad for p in online.parameters())
    for copied, source in zip(ema.model.parameters(), online.parameters()):
        torch.testing.assert_close(copied, source)
        assert copied.data_ptr() != source.data_ptr()


def test_update_follows_the_ema_rule() -> None:
    online = small_net()
    ema = MomentumEncoder(online)
    for step, momentum in enumerate((0.9, 0.5, 0.0)):
        with torch.no_grad():
            for p in online.parameters():
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(step)))
        before = [p.clone() for p in ema.model.parameters()]
        ema.update(online, momentum)
        for old, new, source in zip(before, ema.model.parameters(), online.parameters()):
            torch.testing.assert_close(new, momentum * old + (1 - momentum) * source.detach())
    # Momentum 0 makes the copy equal to the online model; momentum 1 leaves it unchanged.
    frozen = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.mul_(2)
    ema.update(online, 1.0)
    for old, new in zip(frozen, ema.model.parameters()):
        torch.testing.assert_close(new, old)


def test_update_copies_buffers_and_gradients_reach_only_the_inputs() -> None:
    online = small_net()
    ema = MomentumEncoder(online)
    online.train()(torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(1)))  # moves BN statistics
    ema.update(online, 0.99)
    for copied, source in zip(ema.model.buffers(), online.buffers()):
        torch.testing.assert_close(copied, source)
    inputs = torch.randn(2, 1, 4, 4, requires_grad=True)
    ema.model(inputs).sum().backward()
    assert inputs.grad is not None
    assert all(p.grad is None for p in ema.model.parameters())


def test_model_keeps_its_type() -> None:
    online = nn.Linear(3, 2)
    assert isinstance(MomentumEncoder(online).model, nn.Linear)


def test_update_rejects_momentum_outside_the_unit_interval() -> None:
    ema = MomentumEncoder(nn.Linear(2, 2))
    with pytest.raises(InputValueError, match=r"momentum=1.5 must be in \[0, 1\]"):
        ema.update(nn.Linear(2, 2), 1.5)


def test_cosine_momentum_ramp_endpoints_and_midpoint() -> None:
    assert cosine_momentum(0, 10, 0.5, 0.9) == pytest.approx(0.5)
    assert cosine_momentum(5, 10, 0.5, 0.9) == pytest.approx(0.7)
    assert cosine_momentum(10, 10, 0.5, 0.9) == pytest.approx(0.9)
    # Clipped outside [0, T]; increasing in between.
    assert cosine_momentum(-3, 10, 0.5, 0.9) == pytest.approx(0.5)
    assert cosine_momentum(25, 10, 0.5, 0.9) == pytest.approx(0.9)
    ramp = [cosine_momentum(t, 10, 0.996, 1.0) for t in range(11)]
    assert all(a < b for a, b in zip(ramp, ramp[1:]))
