"""Invariance-constrained learning card (augbench/methods/mcmc_invariance.py): MH chains over G + a dual variable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from contextlib import AbstractContextManager

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError, InputValueError
from augbench.methods import MCMCInvariance, Method, MethodContext, Supervised, UniformInvariance, build_method
from augbench.methods.mcmc_invariance import ChainSample, dual_ascent, metropolis_hastings
from augbench.models import HarnessCNN
from augbench.policies.build import build_transform
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step
from augbench.train.views import PreparedViews

DIGITS = MethodContext(10, (1, 8, 8))
POOL = 1797


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def method(name: str = "mcmc_invariance", **options: object) -> MCMCInvariance:
    built = build_method({"type": name, **options}, DIGITS)
    assert isinstance(built, MCMCInvariance)
    return built


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8))


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def make_ctx(model: nn.Module, seed: int = 3) -> TrainContext:
    return TrainContext(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), device=torch.device("cpu"),
        num_classes=10, generator=torch.Generator().manual_seed(0), normalize=normalize, total_steps=10, seed=seed,
    )


def batch_of(digits: Any, index: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(digits.train_images[index], digits.train_labels[index], index, passes, POOL)})


def chain_of(sampler: MCMCInvariance, ctx: TrainContext, batch: Batch) -> ChainSample:
    ctx.batch = batch
    return sampler.sample(ctx)


@pytest.fixture(scope="module")
def clean_model(
    make_context: Callable[..., TrainContext], fit: Callable[[Method, TrainContext, int], None]
) -> nn.Module:
    """The harness CNN after 15 epochs of un-augmented training on 200 digits: invariant to nothing."""
    ctx = make_context(seed=0)
    fit(Supervised(), ctx, 15)
    return ctx.model


# -- the acceptance rule ------------------------------------------------------------------------


def test_higher_loss_is_always_accepted_lower_loss_with_the_loss_ratio() -> None:
    count = 40_000
    current = torch.ones(count)
    proposal = torch.cat([torch.full((count // 2,), 2.0), torch.full((count // 2,), 0.25)])
    uniforms = torch.rand(1, count, generator=torch.Generator().manual_seed(0))
    state, accepted = metropolis_hastings(torch.stack([current, proposal]), uniforms)
    higher, lower = accepted[0].chunk(2)
    assert bool(higher.all())  # min(1, 2 / 1) = 1
    assert abs(float(lower.float().mean()) - 0.25) < 0.015  # min(1, 0.25 / 1); 4 sigma = 0.009
    assert torch.equal(state, accepted[0].long())
    equal, _ = metropolis_hastings(torch.ones(2, 100), torch.rand(1, 100, generator=torch.Generator().manual_seed(1)))
    assert bool((equal == 1).all())  # a ratio of 1 always moves


def test_long_chains_sample_elements_in_proportion_to_their_loss() -> None:
    # Two elements with losses 1 and 3, uniform independent proposals, 15 transitions: the chain's
    # law is within (1/3)^15 of the target pi = (1/4, 3/4). An inverted ratio would give (3/4, 1/4).
    chains, steps = 40_000, 16
    generator = torch.Generator().manual_seed(0)
    ops = torch.randint(0, 2, (steps, chains), generator=generator)
    losses = torch.tensor([1.0, 3.0])[ops]
    state, _ = metropolis_hastings(losses, torch.rand(steps - 1, chains, generator=generator))
    final = ops[state, torch.arange(chains)]
    assert abs(float(final.float().mean()) - 0.75) < 0.012  # 4 sigma = 0.009


def test_zero_losses_never_divide() -> None:
    losses = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    _, accepted = metropolis_hastings(losses, torch.zeros(1, 2))
    assert accepted.tolist() == [[False, True]]  # 0/0 stays, x/0 moves (the reference's nan_to_num)
    with pytest.raises(InputValueError, match=r"\(T - 1, B\)"):
        metropolis_hastings(losses, torch.zeros(2, 2))


def test_acceptance_rate_is_strictly_between_0_and_1_on_a_toy_model(clean_model: nn.Module, digits: Any) -> None:
    sampler, ctx = method(), make_ctx(clean_model)
    chain = chain_of(sampler, ctx, batch_of(digits, torch.arange(200)))
    rate = float(chain.accepted.float().mean())
    assert chain.accepted.shape == (1, 200) and 0.2 < rate < 0.95
    assert bool((chain.losses > 0).all()) and chain.losses.std() > 0.1  # a real spread of proposal losses


def test_mh_oversamples_the_transforms_the_model_is_not_invariant_to(clean_model: nn.Module, digits: Any) -> None:
    sampler, ctx = method(steps=4), make_ctx(clean_model)
    names = sampler.proposals.names
    finals, initials, final_loss, initial_loss = [], [], [], []
    for passes in range(5):  # 1,000 chains
        chain = chain_of(sampler, ctx, batch_of(digits, torch.arange(200), passes))
        finals.append(chain.ops)
        initials.append(chain.initial_ops)
        final_loss.append(chain.losses[chain.state, torch.arange(200)])
        initial_loss.append(chain.losses[0])
    final, initial = torch.cat(finals), torch.cat(initials)
    share = {name: float((final == index).float().mean()) for index, name in enumerate(names)}
    assert abs(float((initial == names.index("identity")).float().mean()) - 1 / 6) < 0.04  # the initial draw is uniform
    assert share["identity"] < 0.10 and share["vflip"] > 0.22  # low-loss identity left, high-loss flips sought
    assert float(torch.cat(final_loss).mean()) > 1.5 * float(torch.cat(initial_loss).mean())


# -- the dual variable --------------------------------------------------------------------------


def test_dual_ascent_rises_above_the_margin_and_falls_to_zero_below_it() -> None:
    gamma = torch.tensor(0.0)
    for _ in range(5):
        gamma = dual_ascent(gamma, torch.tensor(1.0), epsilon=0.4, dual_lr=0.1)
    assert float(gamma) == pytest.approx(0.3)
    falling = [float(gamma := dual_ascent(gamma, torch.tensor(0.1), epsilon=0.4, dual_lr=0.1)) for _ in range(15)]
    assert all(b < a for a, b in zip(falling, falling[1:]) if a > 0)
    assert falling[-1] == 0.0 and min(falling) >= 0.0  # projected onto gamma >= 0


def test_gamma_follows_the_constraint_violation_in_training(digits: Any) -> None:
    sampler, ctx = method(epsilon=0.01, dual_lr=0.5), make_ctx(harness())
    sampler.setup(ctx)
    gammas, augmented = [], []
    for step in range(4):
        train_step(sampler, batch_of(digits, torch.arange(step * 20, step * 20 + 20)), ctx)
        logged = ctx.log.means()
        gammas.append(sampler.gamma)
        augmented.append(logged["augmented_loss"])
    expected = 0.0
    for value, loss in zip(gammas, augmented):
        expected = max(0.0, expected + 0.5 * (loss - 0.01))
        assert value == pytest.approx(expected, rel=1e-5)
    assert all(b > a for a, b in zip(gammas, gammas[1:]))  # loss > epsilon: gamma rises
    sampler.epsilon = 50.0  # now every augmented loss is below the margin
    for step in range(10):
        train_step(sampler, batch_of(digits, torch.arange(step * 20, step * 20 + 20)), ctx)
    assert sampler.gamma == 0.0


def test_primal_loss_is_clean_plus_gamma_times_augmented(digits: Any) -> None:
    sampler, ctx = method(epsilon=0.1, dual_lr=0.2), make_ctx(harness())
    sampler.setup(ctx)
    first = train_step(sampler, batch_of(digits, torch.arange(30)), ctx)
    logged = ctx.log.means()
    assert logged["gamma"] == 0.0 and float(first.loss.detach()) == pytest.approx(logged["clean_loss"])  # gamma_0 = 0
    gamma = sampler.gamma
    assert gamma == pytest.approx(0.2 * (logged["augmented_loss"] - 0.1), rel=1e-5)
    second = train_step(sampler, batch_of(digits, torch.arange(30, 60)), ctx)
    logged = ctx.log.means()
    assert logged["gamma"] == pytest.approx(gamma)
    assert float(second.loss.detach()) == pytest.approx(logged["clean_loss"] + gamma * logged["augmented_loss"], rel=1e-5)


# -- the chains: restart, keyed replay, batched application -------------------------------------


def test_chains_restart_per_example_every_step(clean_model: nn.Module, digits: Any) -> None:
    index = torch.arange(100)
    carried, ctx = method(), make_ctx(clean_model)
    before = chain_of(carried, ctx, batch_of(digits, index, passes=0))
    after = chain_of(carried, ctx, batch_of(digits, index, passes=1))
    fresh = chain_of(method(), make_ctx(clean_model), batch_of(digits, index, passes=1))
    assert torch.equal(after.ops, fresh.ops) and torch.equal(after.inputs, fresh.inputs)  # no state carried over
    keys = ctx.keys("labeled", 0)
    assert torch.equal(after.initial_ops, carried.proposals.draw(keys, ctx.seed)[0])  # g_0: a fresh uniform draw
    assert bool((after.initial_ops != before.ops).any())  # not the previous step's final state


def test_keyed_replay_is_independent_of_batch_order_and_chunking(clean_model: nn.Module, digits: Any) -> None:
    index = torch.arange(60)
    permutation = torch.randperm(60, generator=torch.Generator().manual_seed(5))
    sampler, ctx = method(steps=3), make_ctx(clean_model)
    chain = chain_of(sampler, ctx, batch_of(digits, index))
    shuffled = chain_of(sampler, ctx, batch_of(digits, index[permutation]))
    assert torch.equal(shuffled.ops, chain.ops[permutation])
    assert torch.equal(shuffled.inputs, chain.inputs[permutation])
    assert torch.allclose(shuffled.losses, chain.losses[:, permutation], atol=1e-5)
    batches = [batch_of(digits, index[:30]), batch_of(digits, index[30:])]
    ctx.prepared = PreparedViews(sampler.keyed_views(), batches, ctx.seed, ctx.timer)  # the loop's chunked views
    chunked = torch.cat([chain_of(sampler, ctx, part).inputs for part in batches])
    ctx.prepared = None
    assert torch.equal(chunked, chain.inputs)
    other = chain_of(sampler, make_ctx(clean_model, seed=4), batch_of(digits, index))
    assert not torch.equal(other.initial_ops, chain.initial_ops)  # another seed, other draws


def test_each_element_is_applied_batched_with_the_samples_own_draw(clean_model: nn.Module, digits: Any) -> None:
    sampler, ctx = method(), make_ctx(clean_model)
    chain = chain_of(sampler, ctx, batch_of(digits, torch.arange(120)))
    moved = chain.state
    assert torch.equal(moved, chain.accepted[0].long())
    assert bool((moved == 1).any()) and bool((moved == 0).any())
    for row in range(120):  # the reference: each sample alone through its chosen element, with its key
        name = sampler.proposals.names[int(chain.ops[row])]
        transform = build_transform(sampler.space[name])
        key = ctx.keys("labeled", int(moved[row]))[row : row + 1]
        alone = digits.train_images[row : row + 1]
        expected = alone if transform is None else transform(alone, keys=key, seed=ctx.seed)
        assert torch.equal(chain.inputs[row : row + 1], expected), name


def test_scoring_is_one_no_grad_pass_in_train_mode() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.Linear(16, 10))
    calls: list[bool] = []
    model.register_forward_hook(lambda module, args, out: calls.append(out.requires_grad))
    sampler, ctx = method(steps=3), make_ctx(model)
    sampler.setup(ctx)
    images = torch.randint(0, 256, (8, 1, 8, 8), dtype=torch.uint8)
    batch = Batch.labeled(images, torch.arange(8) % 10)
    running = model[2].running_mean.clone()
    ctx.batch = batch
    chain = sampler.sample(ctx)
    assert calls == [False] and chain.losses.shape == (3, 8) and model.training  # one pass of 3 x 8, no grad
    assert not torch.equal(model[2].running_mean, running)  # train-mode BN: the proposal batch updated it
    train_step(sampler, batch, ctx)
    assert calls[1:] == [False, True, True]  # scoring, then clean and augmented passes with grad


# -- the uniform control ------------------------------------------------------------------------


def test_uniform_control_samples_g_uniformly_without_scoring(digits: Any) -> None:
    sampler = method("mcmc_invariance_uniform", epsilon=0.01, dual_lr=0.5)
    assert isinstance(sampler, UniformInvariance)
    model = harness()
    calls: list[int] = []
    model.register_forward_hook(lambda module, args, out: calls.append(out.shape[0]))
    ctx = make_ctx(model)
    sampler.setup(ctx)
    chain = chain_of(sampler, ctx, batch_of(digits, torch.arange(200)))
    assert calls == [] and chain.accepted.numel() == 0 and torch.equal(chain.ops, chain.initial_ops)
    train_step(sampler, batch_of(digits, torch.arange(200)), ctx)
    logged = ctx.log.means()
    assert calls == [200, 200] and "acceptance_rate" not in logged
    shares = [logged[f"op_frequency_{name}"] for name in sampler.proposals.names]
    assert sum(shares) == pytest.approx(1.0) and max(shares) - min(shares) < 0.1
    assert sampler.gamma == pytest.approx(0.5 * (logged["augmented_loss"] - 0.01), rel=1e-5)  # the same dual schedule


def test_train_run_logs_the_per_epoch_curves() -> None:
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "mcmc_invariance", "epsilon": 0.3, "dual_lr": 0.05},
        seed=0, data=DataSpec(train_size=60, test_size=100), epochs=2, batch_size=20, evaluations=(),
    )
    result = train_run(spec)
    curves = {(epoch, name): value for _, epoch, name, value in result.curves}
    for name in ("acceptance_rate", "gamma", "augmented_loss", "clean_loss", "op_frequency_vflip"):
        assert {(0, name), (1, name)} <= set(curves)
    assert 0 < curves[(1, "acceptance_rate")] < 1 and curves[(1, "gamma")] > 0
    assert sum(value for (epoch, name), value in curves.items() if epoch == 1 and name.startswith("op_frequency_")) \
        == pytest.approx(1.0)
    assert 0 < result.metrics["augmentation_time_fraction"] < 1


# -- the space and bad input --------------------------------------------------------------------


def test_the_space_is_a_set_indexed_by_sorted_name(clean_model: nn.Module, digits: Any) -> None:
    space = {"vflip": {"type": "VerticalFlip", "p": 1.0}, "identity": None, "rotate": {"type": "RandomAffine", "degrees": 30}}
    reordered = dict(reversed(list(space.items())))
    first, second = method(space=space), method(space=reordered)
    assert first.proposals.names == ("identity", "rotate", "vflip")
    batch = batch_of(digits, torch.arange(50))
    one, two = chain_of(first, make_ctx(clean_model), batch), chain_of(second, make_ctx(clean_model), batch)
    assert torch.equal(one.inputs, two.inputs) and torch.equal(one.ops, two.ops)


@pytest.mark.parametrize("epsilon", [0, -0.5, float("nan"), True])
def test_a_margin_that_is_not_positive_is_refused_in_one_line(epsilon: object) -> None:
    for name in ("mcmc_invariance", "mcmc_invariance_uniform"):
        with pytest.raises(ConfigError, match=r"epsilon=.* must be a finite margin > 0.*validation split") as error:
            method(name, epsilon=epsilon)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 1}, "use method mcmc_invariance_uniform"),
        ({"steps": 17}, r"steps=17 must be an integer in 2\.\.16"),
        ({"dual_lr": 0.0}, "dual_lr=0.0 must be a finite step size > 0"),
        ({"space": {}}, "must be a non-empty mapping"),
        ({"space": [None]}, "must be a non-empty mapping"),
        ({"space": {"crop": {"type": "RandomResizedCrop", "size": 4}}}, "'crop' turns samples"),
        ({"space": {"spin": {"type": "Spin"}}}, "space element 'spin' is not a valid transform spec"),
        ({"space": {"rot": {"type": "RandomAffine", "degrees": [30, 10]}}}, "space element 'rot' is not a valid"),
        ({"steps_count": 2}, "unknown option 'steps_count'"),
    ],
)
def test_bad_options_are_refused_in_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        method(**options)
    assert "\n" not in str(error.value)


def test_the_uniform_control_takes_no_steps_and_other_modalities_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown option 'steps'"):
        method("mcmc_invariance_uniform", steps=2)
    with pytest.raises(ConfigError, match="modality 'timeseries'"):
        build_method("mcmc_invariance", MethodContext(2, (1, 50), "timeseries"))


def test_cross_entropy_scores_match_a_direct_computation(clean_model: nn.Module, digits: Any) -> None:
    sampler, ctx = method(), make_ctx(clean_model)
    chain = chain_of(sampler, ctx, batch_of(digits, torch.arange(40)))
    with torch.no_grad():
        direct = nnf.cross_entropy(clean_model(normalize(chain.inputs)), digits.train_labels[:40], reduction="none")
    assert torch.allclose(chain.losses[chain.state, torch.arange(40)], direct, atol=1e-5)
