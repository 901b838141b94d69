"""MCLRec and its SASRec+CL baseline CL4SRec (card: shared/methods/contrastive.md, MCLRec).

The card's checklist: two data-augmented views (crop / mask / reorder) from one batched keyed
engine call; two MLP augmenters d -> d/2 -> d/4 -> d with GELU; L_meta = InfoNCE(z1, z4) +
InfoNCE(z2, z3) + InfoNCE(z3, z4) with dot products, T = 1, plus the margin regulariser; the
first-order alternation (a) encoder with the augmenters frozen, (b) augmenters with the encoder
untouched, (c) encoder again; beta = lam = 0 is SASRec's loss. Tiny SASRec (d = 16, L = 12).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError
from augbench.losses import dot_nt_xent, nt_xent, view_pair_logits
from augbench.methods import CL4SRec, MCLRec, MethodContext, Supervised, build_method
from augbench.methods.mclrec import ModelAugmenter, margin_regulariser, reference_margins
from augbench.models.convnet import ConvNet
from augbench.models.sasrec import SASRec
from augbench.train.context import Batch, TrainContext
from augbench.train.loop import train_step

VOCAB, LENGTH, DIM = 30, 12, 16
CONTEXT = MethodContext(VOCAB, (LENGTH,), "sequence")


@pytest.fixture(autouse=True)
def one_thread() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def histories(batch: int = 8, seed: int = 0) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(2, VOCAB, (batch, LENGTH), generator=generator)
    lengths = torch.randint(2, LENGTH + 1, (batch,), generator=generator)
    inputs[torch.arange(LENGTH) < (LENGTH - lengths)[:, None]] = 0  # left padding
    return inputs, torch.randint(2, VOCAB, (batch,), generator=generator)


def context(method: CL4SRec, dropout: float = 0.0, seed: int = 0, lr: float = 1e-2) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SASRec(num_classes=VOCAB, vocab_size=VOCAB, input_shape=(LENGTH,), dim=DIM, blocks=1, dropout=dropout)
    ctx = TrainContext(model, torch.optim.Adam(model.parameters(), lr=lr), torch.device("cpu"), VOCAB,
                       torch.Generator().manual_seed(seed + 1), lambda ids: ids, 10, seed=seed, modality="sequence")
    method.setup(ctx)
    return ctx


def mclrec(**options: object) -> MCLRec:
    return build_method({"type": "mclrec", **options}, CONTEXT)


def snapshot(module: torch.nn.Module) -> list[Tensor]:
    return [parameter.detach().clone() for parameter in module.parameters()]


def same(first: list[Tensor], second: list[Tensor]) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first, second))


class Counting:
    """Wraps a transform and records each call's batch size."""

    def __init__(self, transform: object) -> None:
        self.transform = transform
        self.calls: list[int] = []

    def __call__(self, inputs: Tensor, **kwargs: object) -> Tensor:
        self.calls.append(inputs.shape[0])
        return self.transform(inputs, **kwargs)


@pytest.mark.parametrize("name", ["cl4srec", "mclrec"])
def test_both_views_come_from_one_keyed_engine_call_per_step(name: str) -> None:
    method = build_method({"type": name}, CONTEXT)
    ctx = context(method)
    counting = Counting(method.views)
    method.views = counting
    inputs, labels = histories()
    train_step(method, Batch.labeled(inputs, labels), ctx)
    assert counting.calls == [2 * len(inputs)]  # (a), (b) and (c) share the step's views


def test_views_are_keyed_per_sample_and_mix_crop_mask_and_reorder() -> None:
    method = mclrec()
    inputs = torch.randint(2, VOCAB, (300, LENGTH), generator=torch.Generator().manual_seed(1))  # full rows
    keys = torch.arange(600)
    views = method.views(torch.cat([inputs, inputs]), keys=keys, seed=0)
    again = method.views(torch.cat([inputs[:10], inputs[:10]]), keys=torch.cat([keys[:10], keys[300:310]]), seed=0)
    assert torch.equal(again[:10], views[:10]) and torch.equal(again[10:], views[300:310])
    first, second = views.chunk(2)
    assert (first != second).any(1).float().mean() > 0.5  # two different views per history
    masked = (views == 1).any(1)
    cropped = (views != 0).sum(1) < (torch.cat([inputs, inputs]) != 0).sum(1)
    reordered = ~masked & ~cropped & (views.sort(1).values == torch.cat([inputs, inputs]).sort(1).values).all(1)
    for share in (masked, cropped, reordered):  # each op about a third of the views
        assert 0.2 < share.float().mean() < 0.47


def test_augmenters_have_the_card_widths_and_unit_outputs() -> None:
    augmenter = ModelAugmenter(64)
    widths = [(layer.in_features, layer.out_features) for layer in augmenter.layers if isinstance(layer, torch.nn.Linear)]
    assert widths == [(64, 32), (32, 16), (16, 64)]
    assert sum(isinstance(layer, torch.nn.GELU) for layer in augmenter.layers) == 2
    out = augmenter(torch.randn(5, 64))
    assert torch.allclose(out.norm(dim=1), torch.ones(5))


def test_update_a_gives_the_augmenters_no_gradient_and_they_stay_out_of_the_run_optimiser() -> None:
    method = mclrec(beta=0.5)
    ctx = context(method)
    augmenters = ctx.modules["augmenters"]
    held = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert not held & {id(p) for p in augmenters.parameters()}
    inputs, labels = histories()
    ctx.batch = Batch.labeled(inputs, labels)
    views = ctx.augment(method.views, "labeled", (1, 2))
    before = snapshot(augmenters)
    loss = method.encoder_loss(inputs, views, labels, ctx)
    loss.backward()
    assert all(p.grad is None for p in augmenters.parameters())
    assert ctx.model.head.items.weight.grad is not None and ctx.model.head.items.weight.grad.abs().sum() > 0
    ctx.optimizer.step()
    assert same(before, snapshot(augmenters))


def test_update_b_moves_only_the_augmenters() -> None:
    method = mclrec(beta=0.5)
    ctx = context(method, dropout=0.2)
    augmenters = ctx.modules["augmenters"]
    inputs, labels = histories()
    ctx.batch = Batch.labeled(inputs, labels)
    views = ctx.augment(method.views, "labeled", (1, 2))
    encoder, learned = snapshot(ctx.model), snapshot(augmenters)
    meta = method.augmenter_step(views, ctx)
    assert math.isfinite(float(meta))
    assert same(encoder, snapshot(ctx.model)) and all(p.grad is None for p in ctx.model.parameters())
    assert not same(learned, snapshot(augmenters))


def test_a_full_step_trains_both_with_beta_and_leaves_the_augmenters_alone_without() -> None:
    inputs, labels = histories()
    for beta, moved in ((0.5, True), (0.0, False)):
        method = mclrec(beta=beta)
        ctx = context(method)
        encoder, learned = snapshot(ctx.model), snapshot(ctx.modules["augmenters"])
        train_step(method, Batch.labeled(inputs, labels), ctx)
        assert not same(encoder, snapshot(ctx.model))
        assert same(learned, snapshot(ctx.modules["augmenters"])) is not moved
        assert ctx.optimizer.state[ctx.model.head.bias]["step"] == 2  # updates (a) and (c)
        logged = ctx.log.means()
        assert ("augmenter_loss" in logged) is moved and ("meta_loss" in logged) is moved


def test_meta_loss_is_the_three_dot_product_info_nce_terms_plus_the_margins() -> None:
    method = mclrec(margin_weight=0.1)
    ctx = context(method)
    first, second = ctx.modules["augmenters"]
    z1, z2 = torch.randn(6, DIM), torch.randn(6, DIM)
    z3, z4 = first(z1), second(z2)
    pairs = ((z1, z4), (z2, z3), (z3, z4))
    expected = sum(dot_nt_xent(a, b, 1.0) for a, b in pairs)
    margins = 0.1 * sum(margin_regulariser(view_pair_logits(a, b)) for a, b in pairs)
    meta, margin = method.meta_loss(z1, z2, ctx, frozen=False)
    assert torch.allclose(meta, expected + margins) and torch.allclose(margin, margins)
    without = mclrec(margin_weight=0.0)
    without.setup(ctx)  # fresh augmenters; compare against them
    first, second = ctx.modules["augmenters"]
    z3, z4 = first(z1), second(z2)
    plain = sum(dot_nt_xent(a, b, 1.0) for a, b in ((z1, z4), (z2, z3), (z3, z4)))
    assert torch.allclose(without.meta_loss(z1, z2, ctx, frozen=True)[0], plain)


def reference_regulariser(logits: Tensor) -> float:
    """The official ``meta_contrast_rl_1``, one anchor at a time (positives, then negatives)."""
    rows, batch = logits.shape[0], logits.shape[0] // 2
    above, below, count = 0.0, 0.0, 0
    for i in range(rows):
        positive = float(logits[i, (i + batch) % rows])
        negatives = [float(logits[i, j]) for j in range(rows) if j not in (i, (i + batch) % rows)]
        low, high = min(positive, max(negatives)), max(positive, max(negatives))
        above += max(positive - low, 0.0)
        below += sum(max(high - n, 0.0) for n in negatives)
        count += len(negatives)
    return above / rows + below / count


def test_margin_regulariser_is_zero_when_the_margins_hold_and_matches_the_official_form() -> None:
    logits = view_pair_logits(torch.randn(4, 3), torch.randn(4, 3))
    rows = logits.shape[0]
    positives = logits.gather(1, torch.arange(rows).roll(rows // 2)[:, None]).squeeze(1)
    finite = logits.masked_fill(torch.eye(rows, dtype=torch.bool), 0.0)
    satisfied = (positives + 0.1, finite.min(1).values - 0.1)  # every p <= m_pos, every n >= m_neg
    assert float(margin_regulariser(logits, satisfied)) == 0.0
    violated = (positives - 1.0, satisfied[1])
    assert math.isclose(float(margin_regulariser(logits, violated)), 1.0, rel_tol=1e-6)
    assert math.isclose(float(margin_regulariser(logits)), reference_regulariser(logits), rel_tol=1e-5)
    # the official margins hold when each positive is below all negatives and those tie: 0
    tied = torch.zeros(4, 4).masked_fill(torch.eye(4, dtype=torch.bool), float("-inf"))
    tied[torch.arange(4), torch.arange(4).roll(2)] = -1.0
    low, high = reference_margins(tied)
    assert torch.equal(low, torch.full((4,), -1.0)) and torch.equal(high, torch.zeros(4))
    assert float(margin_regulariser(tied)) == 0.0
    assert float(margin_regulariser(view_pair_logits(torch.ones(1, 2), torch.ones(1, 2)))) == 0.0  # B = 1


def test_dot_nt_xent_is_the_reference_info_nce_and_nt_xent_with_cosine() -> None:
    z1, z2 = torch.randn(5, 4), torch.randn(5, 4)
    z = torch.cat([z1, z2])
    similarity = z @ z.T
    rows = []
    for i in range(10):
        partner = (i + 5) % 10
        negatives = [similarity[i, j] for j in range(10) if j not in (i, partner)]
        rows.append(torch.stack([similarity[i, partner], *negatives]))
    reference = nnf.cross_entropy(torch.stack(rows), torch.zeros(10, dtype=torch.int64))
    assert torch.allclose(dot_nt_xent(z1, z2), reference)
    assert torch.allclose(dot_nt_xent(z1, z2, 0.5, cosine=True), nt_xent(z1, z2, 0.5))


@pytest.mark.parametrize("name", ["cl4srec", "mclrec"])
def test_lam_and_beta_zero_reduce_to_sasrec_cross_entropy(name: str) -> None:
    options = {"lam": 0.0, **({"beta": 0.0} if name == "mclrec" else {})}
    method = build_method({"type": name, **options}, CONTEXT)
    ctx = context(method)
    inputs, labels = histories()
    batch = Batch.labeled(inputs, labels)
    ctx.batch = batch
    supervised = Supervised().training_step(batch, ctx).loss
    if name == "mclrec":
        loss = method.encoder_loss(inputs, ctx.augment(method.views, "labeled", (1, 2)), labels, ctx)
    else:
        loss = method.training_step(batch, ctx).loss
    assert torch.allclose(loss, supervised, atol=1e-6)
    assert torch.allclose(supervised, nnf.cross_entropy(ctx.model(inputs), labels))


def test_contrast_pulls_the_two_views_of_a_history_together() -> None:
    method = build_method({"type": "cl4srec", "lam": 1.0}, CONTEXT)
    ctx = context(method, lr=1e-2)
    inputs, labels = histories(32, seed=3)
    batch = Batch.labeled(inputs, labels)  # the same keys every step: the same two views
    losses = []
    for _ in range(30):
        train_step(method, batch, ctx)
        losses.append(ctx.log.means()["cl_loss"])
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < math.log(2 * len(inputs) - 1)  # below chance: positives are found


def test_bad_options_and_inputs_fail_with_one_line() -> None:
    with pytest.raises(ConfigError, match="beta"):
        mclrec(beta=-1.0)
    with pytest.raises(ConfigError, match="crop_eta"):
        build_method({"type": "cl4srec", "crop_eta": 0.0}, CONTEXT)
    with pytest.raises(ConfigError, match="similarity"):
        build_method({"type": "cl4srec", "similarity": "l2"}, CONTEXT)
    with pytest.raises(ConfigError, match="item sequences"):
        build_method({"type": "mclrec"}, MethodContext(10, (1, 8, 8), "image"))
    method = mclrec()
    model = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(0), lambda x: x, 10)
    with pytest.raises(ConfigError, match="sasrec"):
        method.setup(ctx)
