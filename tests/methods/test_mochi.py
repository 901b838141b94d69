"""MoCHi (card: shared/methods/mixing.md, "MoCHi"; issue 14 item 4).

The card's falsifiers and mechanism checks: synthetic negatives are unit vectors, built without
gradient (none reaches the query through h'), mixed from each query's top-N queue keys only
(two distinct ones for h, the query and one for h' with its weight b below beta_max), appended
to that query's logits and never enqueued; mean q.h and q.h' exceed the mean q.n of the top-N;
with s = s' = 0 the run is MoCo's bit for bit; the warm-up is MoCo.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.data import load_dataset
from augbench.errors import ConfigError
from augbench.losses import info_nce
from augbench.methods import MethodContext, MoCHi, MoCo, build_method
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}
SMALL = {"queue_size": 64, "projection_dim": 8, "hidden_dim": 16, "momentum": 0.9, "augment": CROP}
MIXING = {"hard_negatives": 8, "mixed": 6, "query_mixed": 5, "warmup_epochs": 0}

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:96], dataset.labels[:96]


def build(name: str, **options: object) -> MoCo:
    extra = {**MIXING, **options} if name == "mochi" else options
    return build_method({"type": name, **SMALL, **extra}, MethodContext(10, (1, 8, 8)))


def context(method: MoCo, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8), width=0.25)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 255 * 3 - 1, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, start: int, size: int = 16, passes: int = 0) -> Batch:
    ids = torch.arange(start, start + size)
    return Batch({"labeled": StreamBatch(images[ids], labels[ids], ids, passes=passes, pool_size=1000)})


def one_hot_queue(batch_size: int = 4, size: int = 32, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Queue key ``n`` = basis vector ``e_n``, so ``q . n`` is ``q``'s coordinate ``n`` and a mix
    shows which keys it came from; queries with distinct positive coordinates."""
    generator = torch.Generator().manual_seed(seed)
    queries = nnf.normalize(torch.rand(batch_size, size, generator=generator) + 0.05, dim=1)
    queue = torch.eye(size)
    return queries, queries @ queue.T, queue


# -- the synthetic negatives ---------------------------------------------------------------------


def test_mixed_negatives_are_unit_and_come_from_two_distinct_top_n_keys() -> None:
    method = build("mochi", hard_negatives=5, mixed=200, query_mixed=0)
    queries, similarity, queue = one_hot_queue()
    mixed, query_mixed, hardest = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(1))
    assert mixed.shape == (4, 200, 32) and query_mixed.shape == (4, 0, 32)
    torch.testing.assert_close(mixed.norm(dim=2), torch.ones(4, 200))
    top = similarity.topk(5, dim=1).indices
    assert torch.equal(hardest, top)
    for b in range(4):
        support = mixed[b] > 1e-6  # (200, 32): the two keys each mix is made of
        assert torch.equal(support.sum(1), torch.full((200,), 2))  # two different keys, a in (0, 1)
        used = support.any(0).nonzero().flatten()
        assert set(used.tolist()) == set(top[b].tolist())  # only the top-N, and (200 draws) all of it


def test_query_mixes_use_one_top_n_key_and_a_query_weight_below_beta_max() -> None:
    for beta_max in (0.5, 0.2):
        method = build("mochi", hard_negatives=6, mixed=0, query_mixed=300, beta_max=beta_max)
        queries, similarity, queue = one_hot_queue(seed=2)
        _, query_mixed, hardest = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(3))
        torch.testing.assert_close(query_mixed.norm(dim=2), torch.ones(4, 300))
        # h' Z = b q + (1 - b) e_j: h' / q is b / Z everywhere but at the key j
        ratio = query_mixed / queries[:, None]
        scale = ratio.median(dim=2).values  # b / Z
        key = (ratio - scale[..., None]).abs().argmax(dim=2)  # j
        assert all(set(key[b].tolist()) <= set(hardest[b].tolist()) for b in range(4))
        key_part = query_mixed.gather(2, key[..., None]).squeeze(2) - scale * queries.gather(1, key)  # (1 - b) / Z
        weight = scale / (scale + key_part)  # b
        assert float(weight.min()) >= 0.0 and float(weight.max()) <= beta_max + 1e-5
        assert float(weight.max()) > 0.8 * beta_max  # U(0, beta_max), not a smaller range


def test_synthetic_negatives_are_harder_than_the_top_n_on_average() -> None:
    method = build("mochi", hard_negatives=8, mixed=64, query_mixed=64)
    generator = torch.Generator().manual_seed(4)
    queries = nnf.normalize(torch.randn(16, 8, generator=generator), dim=1)
    queue = nnf.normalize(torch.randn(64, 8, generator=generator), dim=1)
    similarity = queries @ queue.T
    mixed, query_mixed, hardest = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(5))
    top_n = similarity.gather(1, hardest).mean()
    assert torch.einsum("bd,bmd->bm", queries, mixed).mean() > top_n
    assert torch.einsum("bd,bmd->bm", queries, query_mixed).mean() > top_n


def test_no_gradient_reaches_the_query_through_the_synthetic_negatives(digits: tuple[Tensor, Tensor]) -> None:
    method = build("mochi")
    ctx = context(method)
    images, labels = digits
    ctx.batch = batch(images, labels, 0)
    queries, keys = method.embed(ctx)
    negatives = method.queue.keys
    similarity = (queries @ negatives.T).detach()
    generator_state = ctx.generator.get_state()
    extra = method.extra_negatives(queries, similarity, negatives, ctx)
    assert extra.shape == (16, 11, 8) and not extra.requires_grad and extra.grad_fn is None
    loss = info_nce(queries, keys, negatives, method.temperature, extra)
    (grad,) = torch.autograd.grad(loss, queries)
    # the same loss with the negatives rebuilt from the same draws as constants
    ctx.generator.set_state(generator_state)
    constants = method.extra_negatives(queries.detach().clone(), similarity, negatives, ctx)
    assert torch.equal(constants, extra)
    again = queries.detach().requires_grad_()
    (expected,) = torch.autograd.grad(info_nce(again, keys, negatives, method.temperature, constants), again)
    torch.testing.assert_close(grad, expected, rtol=0, atol=0)


def test_draws_come_from_the_run_generator() -> None:
    method = build("mochi")
    queries, similarity, queue = one_hot_queue()
    first = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(7))
    same = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(7))
    other = method.synthesize(queries, similarity, queue, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, same))
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])


# -- the step ------------------------------------------------------------------------------------


def test_synthetic_negatives_are_not_enqueued_and_are_logged(digits: tuple[Tensor, Tensor]) -> None:
    method = build("mochi")
    ctx = context(method)
    images, labels = digits
    for start in (0, 16, 32, 48):
        ctx.batch = batch(images, labels, start)
        with torch.no_grad():
            expected = method.key_encoder.model(ctx.normalize(method.views(ctx)[1]))
        train_step(method, ctx.batch, ctx)
        torch.testing.assert_close(method.queue.keys[start:start + 16], expected)  # only the keys
    assert int(method.queue.filled) == 64
    logs = ctx.log.means()
    assert logs["mixed_similarity"] > logs["hard_negative_similarity"]  # the card's mechanism check
    assert logs["query_mixed_similarity"] > logs["hard_negative_similarity"]


def _run(method: MoCo, images: Tensor, labels: Tensor) -> tuple[list[Tensor], TrainContext]:
    ctx = context(method, seed=2)
    losses = []
    for epoch in range(2):
        ctx.epoch = epoch
        for start in range(0, 96, 16):
            losses.append(train_step(method, batch(images, labels, start, passes=epoch), ctx).loss.detach())
    return losses, ctx


def test_no_mixes_is_moco_bit_for_bit(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    plain, plain_ctx = _run(build("moco"), images, labels)
    mixed_none, none_ctx = _run(build("mochi", mixed=0, query_mixed=0), images, labels)
    assert all(torch.equal(a, b) for a, b in zip(plain, mixed_none, strict=True))
    for name in ("projector", "key_encoder", "queue"):
        for a, b in zip(plain_ctx.modules[name].state_dict().values(), none_ctx.modules[name].state_dict().values()):
            assert torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip(plain_ctx.model.parameters(), none_ctx.model.parameters()))
    with_mixes, _ = _run(build("mochi"), images, labels)
    assert not torch.equal(with_mixes[1], plain[1])  # the mixes do change the loss


def test_warmup_epochs_are_plain_moco(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    plain, _ = _run(build("moco"), images, labels)
    warm, ctx = _run(build("mochi", warmup_epochs=1), images, labels)
    assert all(torch.equal(a, b) for a, b in zip(plain[:6], warm[:6]))  # epoch 0: no mixing
    assert not torch.equal(plain[6], warm[6])
    assert isinstance(ctx.log.means()["hard_negative_similarity"], float)


# -- options -------------------------------------------------------------------------------------


def test_defaults_are_the_papers() -> None:
    method = build_method("mochi", MethodContext(10, (3, 32, 32)))
    assert isinstance(method, MoCHi) and isinstance(method, MoCo)
    assert (method.hard_negatives, method.mixed, method.query_mixed, method.beta_max) == (1024, 512, 256, 0.5)


@pytest.mark.parametrize(("options", "message"), [
    ({"hard_negatives": 1}, "mochi: hard_negatives=1 must be an integer >= 2"),
    ({"hard_negatives": 65}, "mochi: hard_negatives=65 exceeds queue_size=64; use hard_negatives <= 64"),
    ({"mixed": -1}, "mochi: mixed=-1 must be an integer >= 0"),
    ({"query_mixed": 1.5}, "mochi: query_mixed=1.5 must be an integer >= 0"),
    ({"beta_max": 0.0}, r"mochi: beta_max=0.0 must be a number in \(0, 1\]"),
    ({"beta_max": 1.5}, r"mochi: beta_max=1.5 must be a number in \(0, 1\]"),
    ({"warmup_epochs": -2}, "mochi: warmup_epochs=-2 must be an integer >= 0"),
    ({"temperature": -1}, "mochi: temperature=-1 must be a positive number"),
])
def test_bad_options_are_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build("mochi", **options)
    assert len(str(info.value).splitlines()) == 1


def test_queue_and_batch_errors_name_mochi(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    method = build("mochi", queue_size=40)
    ctx = context(method)
    with pytest.raises(ConfigError, match="^mochi: queue_size=40 is not a multiple of the batch size 16"):
        train_step(method, batch(images, labels, 0), ctx)
