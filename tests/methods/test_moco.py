"""MoCo v2 (card: shared/methods/contrastive.md, SimCLR's view pipeline; issue 14 item 4).

The checklist: the key encoder takes no gradient and follows the query encoder by the momentum
rule; the queue is first in, first out, holds the step's keys after the step and wraps around;
the step's InfoNCE equals a hand computation over the positive key and the queue; the views
come from one keyed call; bad options and batches are refused in one line naming the fix.
Tiny models (a width-0.25 harness CNN on 8x8 digits), a queue of 64 keys, a few steps.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.data import load_dataset
from augbench.errors import ConfigError, InputValueError
from augbench.losses import info_nce
from augbench.methods import MethodContext, MoCo, build_method, resolve_method
from augbench.methods.moco import KeyQueue
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}
SMALL = {"queue_size": 64, "projection_dim": 8, "hidden_dim": 16, "momentum": 0.9, "augment": CROP}

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:96], dataset.labels[:96]


def moco(**options: object) -> MoCo:
    return build_method({"type": "moco", **SMALL, **options}, MethodContext(10, (1, 8, 8)))


def context(method: MoCo, seed: int = 0, lr: float = 0.05) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8), width=0.25)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 255 * 3 - 1, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, start: int, size: int = 16, passes: int = 0) -> Batch:
    ids = torch.arange(start, start + size)
    return Batch({"labeled": StreamBatch(images[ids], labels[ids], ids, passes=passes, pool_size=1000)})


# -- the key encoder -------------------------------------------------------------------------------


def test_key_encoder_gets_no_gradient_and_moves_by_the_momentum_rule(digits: tuple[Tensor, Tensor]) -> None:
    method = moco(momentum=0.8)
    ctx = context(method)
    key_net = method.key_encoder.model
    assert ctx.modules["key_encoder"] is key_net and not key_net.training
    assert all(not p.requires_grad for p in key_net.parameters())
    optimised = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in optimised for p in key_net.parameters())
    assert all(id(p) in optimised for p in ctx.modules["projector"].parameters())
    images, labels = digits
    for start in (0, 16):
        before = [p.detach().clone() for p in key_net.parameters()]
        train_step(method, batch(images, labels, start), ctx)
        assert all(p.grad is None for p in key_net.parameters())
        online = [*ctx.model.parameters(), *ctx.modules["projector"].parameters()]
        for key, old, query in zip(key_net.parameters(), before, online, strict=True):
            torch.testing.assert_close(key, 0.8 * old + 0.2 * query.detach(), rtol=0, atol=1e-6)
    assert not torch.equal(next(key_net.parameters()), next(ctx.model.parameters()))  # it lags behind


def test_views_come_from_one_keyed_call_and_labels_are_never_read(digits: tuple[Tensor, Tensor]) -> None:
    method = moco()
    ctx = context(method)
    calls: list[Tensor] = []
    pipeline = method.augment

    def recording(images: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
        calls.append(keys.clone())
        return pipeline(images, keys=keys, seed=seed)

    method.augment = recording
    images, labels = digits
    ctx.batch = batch(images, labels, 0)
    with torch.no_grad():
        loss = method.training_step(ctx.batch, ctx).loss
        assert len(calls) == 1 and torch.equal(calls[0], torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))
        ctx.batch = Batch({"labeled": StreamBatch(ctx.batch["labeled"].inputs, torch.zeros(16, dtype=torch.long),
                                                  ctx.batch["labeled"].ids, pool_size=1000)})
        torch.testing.assert_close(method.training_step(ctx.batch, ctx).loss, loss)


# -- the queue -------------------------------------------------------------------------------------


def test_queue_is_first_in_first_out_and_wraps_around() -> None:
    queue = KeyQueue(6, 2, torch.Generator().manual_seed(0))
    start = queue.keys.clone()
    torch.testing.assert_close(start.norm(dim=1), torch.ones(6))  # random unit keys until filled
    assert float(queue.fill()) == 0.0
    rows = torch.arange(10.0).repeat_interleave(2).view(10, 2)  # row r = (r, r)
    queue.enqueue(rows[:4])
    assert torch.equal(queue.keys[:4], rows[:4]) and torch.equal(queue.keys[4:], start[4:])
    assert int(queue.pointer) == 4 and float(queue.fill()) == pytest.approx(4 / 6)
    queue.enqueue(rows[4:8])  # wraps: rows 4, 5 at the end, 6, 7 over the oldest (0, 1)
    assert torch.equal(queue.oldest_first(), rows[2:8]) and int(queue.pointer) == 2 and float(queue.fill()) == 1.0
    queue.enqueue(rows[8:9])  # a short batch keeps the order
    assert torch.equal(queue.oldest_first(), rows[3:9])


def test_the_steps_keys_are_enqueued_after_the_step(digits: tuple[Tensor, Tensor]) -> None:
    method = moco()
    ctx = context(method)
    images, labels = digits
    for step, start in enumerate((0, 16, 32)):
        ctx.batch = batch(images, labels, start)
        with torch.no_grad():  # the key encoder before the step, on the step's (replayed) key view
            expected = method.key_encoder.model(ctx.normalize(method.views(ctx)[1]))
        before = method.queue.keys.clone()
        method.training_step(ctx.batch, ctx)
        assert torch.equal(method.queue.keys, before)  # nothing is enqueued inside the step
        ctx.step += 1
        method.on_after_step(ctx)
        torch.testing.assert_close(method.queue.keys[16 * step:16 * (step + 1)], expected)
        torch.testing.assert_close(method.queue.keys[:16 * step], before[:16 * step], rtol=0, atol=0)
        torch.testing.assert_close(method.queue.keys.norm(dim=1), torch.ones(64))
    assert float(method.queue.fill()) == pytest.approx(48 / 64)


# -- the loss ------------------------------------------------------------------------------------


def _hand_info_nce(queries: Tensor, keys: Tensor, negatives: Tensor, temperature: float,
                   extra: Tensor | None = None) -> Tensor:
    """eq. (1) of the MoCo paper, query by query, with Python sums."""
    total = 0.0
    for b in range(len(queries)):
        positive = math.exp(float(queries[b] @ keys[b]) / temperature)
        others = [float(queries[b] @ n) for n in negatives]
        if extra is not None:
            others += [float(queries[b] @ n) for n in extra[b]]
        total += -math.log(positive / (positive + sum(math.exp(s / temperature) for s in others)))
    return torch.tensor(total / len(queries))


def test_info_nce_equals_a_hand_computation() -> None:
    generator = torch.Generator().manual_seed(3)

    def unit(*shape: int) -> Tensor:
        return nnf.normalize(torch.randn(*shape, generator=generator), dim=-1)

    queries, keys, negatives, extra = unit(5, 4), unit(5, 4), unit(7, 4), unit(5, 3, 4)
    torch.testing.assert_close(info_nce(queries, keys, negatives, 0.2), _hand_info_nce(queries, keys, negatives, 0.2))
    torch.testing.assert_close(info_nce(queries, keys, negatives, 0.5, extra),
                               _hand_info_nce(queries, keys, negatives, 0.5, extra))
    empty = torch.zeros(5, 0, 4)
    assert torch.equal(info_nce(queries, keys, negatives, 0.2, empty), info_nce(queries, keys, negatives, 0.2))
    with pytest.raises(InputValueError, match=r"extra_negatives \(5, 4\) must be \(B, M, D\)"):
        info_nce(queries, keys, negatives, 0.2, extra[:, 0])
    with pytest.raises(InputValueError, match="negatives"):
        info_nce(queries, keys, unit(7, 3), 0.2)


def test_the_steps_loss_is_infonce_against_the_queue(digits: tuple[Tensor, Tensor]) -> None:
    method = moco(temperature=0.3)
    ctx = context(method)
    images, labels = digits
    for start in (0, 16, 32, 48, 64):  # fill the queue with real keys first
        train_step(method, batch(images, labels, start), ctx)
    ctx.batch = batch(images, labels, 80)
    with torch.no_grad():
        loss = method.training_step(ctx.batch, ctx).loss
        query_images, key_images = method.views(ctx)
        features = ctx.model.forward_features(ctx.normalize(query_images)).flatten(1)
        queries = nnf.normalize(ctx.modules["projector"](features), dim=1)
        keys = method.key_encoder.model(ctx.normalize(key_images))
    torch.testing.assert_close(loss, _hand_info_nce(queries, keys, method.queue.keys, 0.3))
    wrong = keys.roll(1, 0)  # another sample's key as the positive
    assert abs(float(loss) - float(_hand_info_nce(queries, wrong, method.queue.keys, 0.3))) > 1e-3


def test_training_lowers_the_loss_and_finds_positives_above_chance(digits: tuple[Tensor, Tensor]) -> None:
    method = moco(momentum=0.9)
    ctx = context(method, lr=0.05)
    images, labels = digits
    epochs: list[dict[str, float]] = []
    for epoch in range(6):
        ctx.epoch = epoch
        for start in range(0, 96, 16):
            train_step(method, batch(images, labels, start, passes=epoch), ctx)
        epochs.append(ctx.log.means())
    assert epochs[0]["queue_fill"] < 1.0 and epochs[-1]["queue_fill"] == 1.0
    assert epochs[-1]["positive_accuracy"] > 5 / 65  # chance is 1 / (K + 1)
    assert epochs[-1]["positive_similarity"] > epochs[-1]["negative_similarity"]


# -- options and bad input -----------------------------------------------------------------------


def test_spec_has_moco_v2_defaults() -> None:
    spec = resolve_method("moco")
    assert spec["temperature"] == 0.2 and spec["momentum"] == 0.999 and spec["queue_size"] == 65536
    assert spec["projection_dim"] == 128 and spec["augment"]["transforms"][0]["scale"] == [0.2, 1.0]


@pytest.mark.parametrize(("options", "message"), [
    ({"temperature": 0}, "moco: temperature=0 must be a positive number"),
    ({"momentum": 1.0}, r"moco: momentum=1.0 must be a number in \[0, 1\)"),
    ({"queue_size": 0}, "moco: queue_size=0 must be a positive integer"),
    ({"augment": None, "color_strength": 0.0}, "^moco: augment=None with no colour jitter"),
])
def test_bad_options_are_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        moco(**options)
    assert len(str(info.value).splitlines()) == 1


def test_queue_not_a_multiple_of_the_batch_and_a_batch_of_one_are_refused(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    method = moco(queue_size=40)
    ctx = context(method)
    with pytest.raises(ConfigError, match="queue_size=40 is not a multiple of the batch size 16; use queue_size: 48"):
        train_step(method, batch(images, labels, 0), ctx)
    method = moco()
    ctx = context(method)
    with pytest.raises(ConfigError, match="a step of 1 sample is too small.*batch_size >= 2"):
        train_step(method, batch(images, labels, 0, size=1), ctx)
    train_step(method, batch(images, labels, 0), ctx)  # the run's batch size: 16 divides 64
    train_step(method, batch(images, labels, 16, size=6), ctx)  # a short last batch wraps around
    assert int(method.queue.pointer) == 22


def test_predict_is_refused_and_the_encoder_must_have_features() -> None:
    method = moco()
    with pytest.raises(ConfigError, match="moco trains an encoder.*linear_probe or knn"):
        method.predict(torch.nn.Identity(), torch.zeros(1, 1, 8, 8), lambda x: x)
    bare = TrainContext(torch.nn.Linear(64, 10), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
                        torch.device("cpu"), 10, torch.Generator(), lambda x: x, 10)
    with pytest.raises(ConfigError, match="moco: Linear has no forward_features"):
        method.setup(bare)
