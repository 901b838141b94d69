"""The modality policy seam: op registry, ModalityRandAugment grouping, keyed order-independence."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, InputValueError
from augbench.policies import modal
from augbench.policies.modal import ModalityRandAugment, list_ops, modality_ops
from augbench.random import uniform
from augbench.serialization import from_dict
from augbench.transforms.base import Transform


class _ShiftForTest(Transform):
    """Adds a per-sample offset in [0, level) to a time series (a test op)."""

    modality = "timeseries"

    def __init__(self, level: float = 1.0) -> None:
        super().__init__()
        self.level = level

    def make_params(self, n, shape, generator):
        return {"offset": uniform(0.0, self.level, n, generator)}

    def transform(self, inputs, params, target):
        return inputs + params.offset.view(-1, 1, 1)


class _ScaleForTest(_ShiftForTest):
    def transform(self, inputs, params, target):
        return inputs * (1 + params.offset.view(-1, 1, 1))


@pytest.fixture
def test_ops(monkeypatch):
    monkeypatch.setitem(modal.MODALITY_OPS, "timeseries", {})
    modal.register_op("timeseries", "Shift", "offset 0 -> 1")(lambda level: _ShiftForTest(level))
    modal.register_op("timeseries", "Scale", "factor 1 -> 2")(lambda level: _ScaleForTest(level))
    return ("Shift", "Scale")


def test_groups_samples_by_op_and_matches_the_ops_alone(test_ops):
    policy = ModalityRandAugment("timeseries", num_ops=1, magnitude=10)
    x = torch.zeros(64, 1, 5) + 1.0
    params = policy.sample(x, torch.Generator().manual_seed(0))
    out = policy.apply(x, params)
    op = params.op[:, 0]
    assert 0 < int((op == 0).sum()) < 64  # both ops present
    shift = params["0_0"].offset
    scale = params["0_1"].offset
    expected = torch.where((op == 0).view(-1, 1, 1), x + shift.view(-1, 1, 1), x * (1 + scale.view(-1, 1, 1)))
    assert torch.equal(out, expected)


def test_magnitude_zero_is_identity(test_ops):
    x = torch.randn(16, 2, 7)
    assert torch.equal(ModalityRandAugment("timeseries", num_ops=3, magnitude=0)(x), x)


def test_keyed_draws_do_not_depend_on_the_batch(test_ops):
    policy = ModalityRandAugment("timeseries", num_ops=2, magnitude=7)
    x = torch.randn(20, 1, 9)
    keys = torch.arange(100, 120)
    whole = policy(x, keys=keys, seed=3)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    part = policy(x[perm], keys=keys[perm], seed=3)
    assert torch.allclose(whole[perm], part)
    assert not torch.allclose(whole, x)


def test_round_trip_and_listing(test_ops):
    policy = ModalityRandAugment("timeseries", num_ops=2, magnitude=5, ops=["Scale"])
    again = from_dict(policy.to_dict())
    x = torch.randn(8, 1, 4)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(policy(x, g()), again(x, g()))
    assert list_ops("timeseries") == [("Shift", "offset 0 -> 1"), ("Scale", "factor 1 -> 2")]
    assert ("Rotate", "0 -> 30 (random sign)") in list_ops("image")


def test_bad_names_and_layouts(test_ops):
    with pytest.raises(ConfigError, match="unknown timeseries ops"):
        ModalityRandAugment("timeseries", ops=["Nope"])
    with pytest.raises(ConfigError, match="unknown modality"):
        modality_ops("smell")
    with pytest.raises(InputValueError, match=r"\(B, C, L\)"):
        ModalityRandAugment("timeseries")(torch.randn(4, 5))
    with pytest.raises(InputValueError, match="NaN"):
        ModalityRandAugment("timeseries")(torch.full((2, 1, 3), float("nan")))
    with pytest.raises(InputValueError, match="empty"):
        ModalityRandAugment("timeseries")(torch.randn(2, 1, 0))
    assert ModalityRandAugment("timeseries")(torch.randn(0, 1, 3)).shape == (0, 1, 3)
