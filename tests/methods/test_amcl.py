"""AMCL (card: shared/methods/contrastive.md, AMCL).

The card's falsifiers: temperatures inside [lo, hi] and not pinned at a bound (a sign error in
Omega), the equation's simple form with one head and a fixed temperature, independent heads,
the hardest negative chosen correctly; plus SimCLR's views (one keyed call) and the logged
temperatures. Tiny models (a 4-channel ConvNet on 8x8 digits), few steps.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError, InputValueError
from augbench.methods import AMCL, MethodContext, SimCLR, build_method, resolve_method
from augbench.methods.amcl import (PairTemperature, amcl_loss, fitted_temperature, hardest_pairs, omega,
                                   temperature_fit_loss)
from augbench.models import ConvNet
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

DIGITS_CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:64], dataset.labels[:64]


def amcl(**options: object) -> AMCL:
    return build_method({"type": "amcl", "augment": DIGITS_CROP, "color_strength": 0.0, **options},
                        MethodContext(10, (1, 8, 8)))


def context(method: SimCLR, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 16.0 - 0.5, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, ids: Tensor) -> Batch:
    return Batch({"labeled": StreamBatch(images, labels, ids, passes=0, pool_size=1000)})


def features_of(method: AMCL, ctx: TrainContext, images: Tensor, labels: Tensor) -> Tensor:
    ctx.batch = batch(images, labels, torch.arange(len(labels)))
    return ctx.model.forward_features(ctx.normalize(method.views(ctx))).flatten(1)


# -- pairs and the loss ----------------------------------------------------------------------------


def test_hardest_negative_is_the_most_similar_view_of_another_sample() -> None:
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    pairs = hardest_pairs(first, second)
    unit = nnf.normalize(torch.cat([first, second]), dim=1)
    sample = torch.arange(12) % 6
    for anchor in range(12):
        (positive,) = [j for j in range(12) if j != anchor and sample[j] == sample[anchor]]
        negatives = [j for j in range(12) if sample[j] != sample[anchor]]
        similarities = torch.stack([unit[anchor] @ unit[j] for j in negatives])
        assert pairs.positive[anchor] == positive
        assert pairs.negative[anchor] == negatives[int(similarities.argmax())]
        torch.testing.assert_close(pairs.negative_similarity[anchor], similarities.max())
        torch.testing.assert_close(pairs.positive_similarity[anchor], unit[anchor] @ unit[positive])
    # a near-copy of another sample's view is the hardest negative even when the positive is far
    second[3] = first[2] + 1e-3
    assert hardest_pairs(first, second).negative[2] == 9  # row B + 3 holds sample 3's second view
    with pytest.raises(InputValueError, match="B >= 2"):
        hardest_pairs(first[:1], second[:1])


def test_one_head_with_a_fixed_temperature_is_the_simple_form(digits: tuple[Tensor, Tensor]) -> None:
    method = amcl(heads=1, temperature_bounds=[0.2, 0.2])
    ctx = context(method)
    images, labels = digits
    with torch.no_grad():
        features = features_of(method, ctx, images[:10], labels[:10])
        terms = method.objective(features, ctx)
        z = nnf.normalize(ctx.modules["projector"](features), dim=1)
    assert torch.equal(terms["positive_tau"][0], torch.full((20,), 0.2))
    sample = torch.arange(20) % 10
    expected = []
    for anchor in range(20):
        similarity = z[anchor] @ z.T
        positive = similarity[(sample == sample[anchor]) & (torch.arange(20) != anchor)].squeeze()
        hardest = similarity[sample != sample[anchor]].max()
        expected.append((hardest - positive) / 0.2)  # the Omega terms cancel
    torch.testing.assert_close(terms["amcl"][0], torch.stack(expected).mean(), rtol=1e-5, atol=1e-5)


def test_loss_is_the_paper_equation_and_omega_uses_the_projection_dimension() -> None:
    s_pos, s_neg = torch.tensor([0.9, 0.3]), torch.tensor([0.5, 0.4])
    t_pos, t_neg = torch.tensor([0.05, 0.5]), torch.tensor([0.1, 1.5])
    omega_pos, omega_neg = 64 * t_pos.log() + 1 / t_pos, 64 * t_neg.log() + 1 / t_neg
    expected = -s_pos / t_pos + s_neg / t_neg + 0.1 * omega_pos - 0.1 * omega_neg
    torch.testing.assert_close(amcl_loss(s_pos, s_neg, t_pos, t_neg, 0.1, 128), expected)
    tau = torch.tensor(2.0 / 128, requires_grad=True)  # Omega's minimum is at 2 / m
    omega(tau, 128).backward()
    assert abs(float(tau.grad)) < 1e-3
    assert fitted_temperature(torch.tensor(1.0), 0.1, 128) == pytest.approx(2 / 128)


def test_the_step_is_the_equation_divided_by_the_mean_pair_weight(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    for normalize in (True, False):
        method = amcl(normalize_step=normalize)
        ctx = context(method)
        with torch.no_grad():
            terms = method.objective(features_of(method, ctx, images[:12], labels[:12]), ctx)
        for head in range(3):
            weight = torch.cat([1 / terms["positive_tau"][head], 1 / terms["negative_tau"][head]]).mean()
            expected = terms["amcl"][head] / weight if normalize else terms["amcl"][head]
            torch.testing.assert_close(terms["step"][head], expected)


# -- temperatures -------------------------------------------------------------------------------


def test_temperatures_stay_within_the_bounds_even_when_phi_saturates() -> None:
    module = PairTemperature(4, 8, (1e-5, 2.0))
    generator = torch.Generator().manual_seed(1)
    anchors, others = torch.randn(64, 4, generator=generator), torch.randn(64, 4, generator=generator)
    with torch.no_grad():
        for scale in (1.0, 1e4):  # scores of +-1e4 and more: the sigmoid saturates both ways
            for parameter in module.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
            tau = module(anchors, others)
            assert tau.shape == (64,) and bool(((tau >= 1e-5) & (tau <= 2.0)).all())
        module.phi[-1].weight.zero_()
        for score, bound in ((-1e4, 1e-5), (1e4, 2.0)):
            module.phi[-1].bias.fill_(score)
            assert torch.allclose(module(anchors, others), torch.full((64,), bound))  # reaches a bound, never past it


def _fit_phi(objective: str, steps: int = 300) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Optimise a head's phi alone (fixed embeddings) on ``objective``; returns the similarities
    and temperatures of the positives and hardest negatives."""
    generator = torch.Generator().manual_seed(2)
    base = torch.randn(32, 16, generator=generator)
    first = base + 0.5 * torch.randn(32, 16, generator=generator)
    second = base + 0.5 * torch.randn(32, 16, generator=generator)
    pairs = hardest_pairs(first, second)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        module = PairTemperature(16, 32, (1e-5, 2.0))
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(steps):
        tau_pos = module(pairs.unit, pairs.unit[pairs.positive])
        tau_neg = module(pairs.unit, pairs.unit[pairs.negative])
        loss_of = temperature_fit_loss if objective == "fit" else amcl_loss
        loss = loss_of(pairs.positive_similarity, pairs.negative_similarity, tau_pos, tau_neg, 0.1, 16).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return pairs.positive_similarity, pairs.negative_similarity, tau_pos.detach(), tau_neg.detach()


def test_optimising_phi_alone_keeps_temperatures_inside_the_bounds() -> None:
    s_pos, s_neg, tau_pos, tau_neg = _fit_phi("fit")
    for similarity, tau in ((s_pos, tau_pos), (s_neg, tau_neg)):
        assert float(tau.min()) > 1e-2 and float(tau.max()) < 1.9  # away from lo = 1e-5 and hi = 2
        # the fit approaches each pair's own likelihood optimum 2 (1 - s + beta) / (beta m)
        target = fitted_temperature(similarity, 0.1, 16)
        assert float(((tau - target).abs() / target).median()) < 0.2
    assert float(s_pos.mean()) > float(s_neg.mean()) and float(tau_pos.mean()) < float(tau_neg.mean())


def test_the_paper_equation_itself_pins_the_temperatures_at_the_bounds() -> None:
    """Why phi is fitted to the pairs' likelihood: minimising the equation over tau runs to a bound."""
    s_pos, _, tau_pos, _ = _fit_phi("paper")
    assert float(s_pos.min()) > 0.1  # every positive is more similar than beta
    assert float(((tau_pos < 1e-3) | (tau_pos > 1.9)).float().mean()) > 0.8  # at lo = 1e-5 or hi = 2
    # the gradient sign over a grid of tau in (lo, hi): the equation's never changes (no interior
    # optimum, for a positive of s = 0.5 or a negative of s = 0.3); the fit's changes exactly once
    tau = torch.logspace(-5, math.log10(2.0), 200, dtype=torch.float64).requires_grad_()
    s = torch.full_like(tau, 0.5), torch.full_like(tau, 0.3)
    far = torch.full_like(tau, 1.0)  # the other pair's temperature, held fixed
    for objective, sign_changes in ((amcl_loss, 0), (temperature_fit_loss, 1)):
        for positive in (True, False):
            taus = (tau, far) if positive else (far, tau)
            (grad,) = torch.autograd.grad(objective(*s, *taus, 0.1, 128).sum(), tau)
            assert int((grad.sign().diff() != 0).sum()) == sign_changes, (objective.__name__, positive)


# -- heads ------------------------------------------------------------------------------------------


def test_heads_are_independent(digits: tuple[Tensor, Tensor]) -> None:
    method = amcl(heads=3)
    ctx = context(method)
    heads = method.head_modules(ctx)
    assert len(heads) == 3 and len(ctx.modules["temperatures"]) == 3
    assert len({id(p) for head in heads for p in head.parameters()}) == sum(len(list(h.parameters())) for h in heads)
    firsts = [head[0].weight for head in heads]
    assert not torch.equal(firsts[0], firsts[1]) and not torch.equal(firsts[1], firsts[2])  # own initialisation
    images, labels = digits
    features = features_of(method, ctx, images[:16], labels[:16]).detach()
    terms = method.objective(features, ctx)
    terms["amcl"][0].backward()
    assert all(p.grad is None or not p.grad.any() for head in heads[1:] for p in head.parameters())
    assert any(p.grad is not None and p.grad.any() for p in heads[0].parameters())
    with torch.no_grad():
        heads[2][0].weight.mul_(-1.0)  # change head 3 only
        changed = method.objective(features, ctx)
    for head in range(2):
        torch.testing.assert_close(changed["amcl"][head], terms["amcl"][head].detach())
    assert not torch.allclose(changed["amcl"][2], terms["amcl"][2].detach())


def test_first_head_is_simclrs_projector_and_phi_has_its_own_optimiser() -> None:
    method, reference = amcl(), build_method({"type": "simclr", "augment": DIGITS_CROP, "color_strength": 0.0},
                                             MethodContext(10, (1, 8, 8)))
    ctx, simclr_ctx = context(method, seed=4), context(reference, seed=4)
    for a, b in zip(ctx.modules["projector"].parameters(), simclr_ctx.modules["projector"].parameters()):
        assert torch.equal(a, b)
    main = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    phi = list(ctx.modules["temperatures"].parameters())
    assert not any(id(p) in main for p in phi)
    assert all(id(p) in main for head in method.head_modules(ctx) for p in head.parameters())
    (extra,) = ctx.extra_optimizers
    assert {id(p) for group in extra.param_groups for p in group["params"]} == {id(p) for p in phi}


def test_views_come_from_simclrs_one_keyed_call(digits: tuple[Tensor, Tensor]) -> None:
    method = amcl()
    ctx = context(method)
    calls: list[Tensor] = []
    pipeline = method.augment

    def recording(images: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
        calls.append(keys.clone())
        return pipeline(images, keys=keys, seed=seed)

    method.augment = recording
    images, labels = digits
    ctx.batch = batch(images[:16], labels[:16], torch.arange(100, 116))
    method.training_step(ctx.batch, ctx)
    assert len(calls) == 1 and torch.equal(calls[0], torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))


# -- options and end to end --------------------------------------------------------------------------


def test_spec_defaults_follow_the_card() -> None:
    spec = resolve_method("amcl")
    assert spec["heads"] == 3 and spec["beta"] == 0.1 and spec["temperature_bounds"] == [1e-5, 2.0]
    assert spec["temperature_hidden"] == 128 and spec["projection_dim"] == 128 and "temperature" not in spec


@pytest.mark.parametrize(("options", "match"), [
    ({"heads": 0}, "heads=0"),
    ({"beta": 0.0}, "beta=0.0"),
    ({"temperature_bounds": [0.5, 0.1]}, r"temperature_bounds=\[0.5, 0.1\]"),
    ({"temperature_bounds": [0.0, 1.0]}, "0 < lo <= hi"),
    ({"temperature_hidden": 1.5}, "temperature_hidden=1.5"),
    ({"temperature_lr": -1.0}, "temperature_lr=-1.0"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        amcl(**options)
    assert len(str(info.value).splitlines()) == 1


def test_end_to_end_logs_temperatures_away_from_the_bounds_and_learns_to_find_positives() -> None:
    spec = RunSpec.create(dataset="digits", model={"type": "convnet", "base_channels": 8},
                          method={"type": "amcl", "augment": DIGITS_CROP, "color_strength": 0.0}, seed=0, epochs=4,
                          data=DataSpec(train_size=200, test_size=300), evaluations=())
    result = train_run(spec)
    assert set(result.metrics) >= {"test_linear_probe_accuracy", "test_knn_accuracy"}
    curve = {(epoch, name): value for _, epoch, name, value in result.curves}
    assert all(math.isfinite(value) for value in curve.values())
    for epoch in range(4):
        for name in ("positive_temperature", "negative_temperature"):
            assert 1e-3 < curve[(epoch, name)] < 1.9  # lo = 1e-5, hi = 2
    chance = 1 / (2 * 50 - 1)
    assert curve[(3, "positive_accuracy")] > 5 * chance
