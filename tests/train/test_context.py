"""The step's batch of named streams, the context's keys and the per-epoch log."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.train.context import KEY_VIEWS, Batch, EpochLog, StreamBatch, TrainContext


def _ctx() -> TrainContext:
    model = torch.nn.Linear(2, 2)
    return TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 2,
                        torch.Generator(), lambda x: x, 1, seed=3)


def test_unknown_stream_is_one_line_naming_the_streams_and_the_fix() -> None:
    batch = Batch.labeled(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"no stream 'unlabeled'; it has labeled\. Declare the stream") as info:
        batch["unlabeled"]
    assert len(str(info.value).splitlines()) == 1


def test_keys_follow_pass_pool_size_id_and_view() -> None:
    ctx = _ctx()
    with pytest.raises(ConfigError, match="only available inside training_step"):
        ctx.keys()
    ids = torch.tensor([4, 0, 9])
    ctx.batch = Batch({"unlabeled": StreamBatch(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long), ids, passes=2,
                                                pool_size=10)})
    assert torch.equal(ctx.keys("unlabeled", view=5), (2 * 10 + ids) * KEY_VIEWS + 5)
    assert len(set(torch.cat([ctx.keys("unlabeled", v) for v in range(KEY_VIEWS)]).tolist())) == 3 * KEY_VIEWS
    with pytest.raises(ConfigError, match="view must be in 0..15"):
        ctx.keys("unlabeled", view=16)


def test_add_module_joins_the_optimiser_only_when_trainable() -> None:
    ctx = _ctx()
    ctx.add_module("head", torch.nn.Linear(2, 3))
    ctx.add_module("ema", torch.nn.Linear(2, 2).requires_grad_(False), trainable=False)
    assert len(ctx.optimizer.param_groups) == 2 and set(ctx.modules) == {"head", "ema"}


def test_epoch_log_means_without_a_sync_per_step() -> None:
    log = EpochLog()
    for value in (1.0, 2.0, 6.0):
        log.add("loss", torch.tensor(value))
    log.add("rate", 0.5)
    assert log.means() == {"loss": 3.0, "rate": 0.5}
    assert log.means() == {}
