"""Policy Gradient-Driven Noise Mask card (augbench/methods/noise_mask.py): Beta masks from a policy, card surrogate."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import RunResult, train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec
from augbench.distributions import beta_per_element, log_gamma, log_gamma_per_element
from augbench.errors import ConfigError, InputValueError
from augbench.keyed import KeyedGenerator
from augbench.methods import MethodContext, NoiseMask, Supervised, build_method
from augbench.methods.noise_mask import (
    NoiseMaskPolicy,
    beta_log_density,
    noise_mask_loss,
    render_masks,
    sample_mask_cells,
)
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step
from augbench.train.optim import build_schedule

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
POOL = 1797
DIGITS_OPTIONS = {"grid": 4, "blur_kernel": 3, "blur_sigma": 1.0}


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def noise_mask(**options: object) -> NoiseMask:
    method = build_method({"type": "noise_mask", **DIGITS_OPTIONS, **options}, DIGITS)
    assert isinstance(method, NoiseMask)
    return method


class Recorder(nn.Module):
    """Wraps a model and keeps every input it saw."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.seen: list[Tensor] = []

    def forward(self, inputs: Tensor) -> Tensor:
        self.seen.append(inputs.detach().clone())
        return self.model(inputs)


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def make_ctx(model: nn.Module, lr: float = 0.05) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=normalize,
        total_steps=10,
        seed=3,
    )


def digits_batch(ids: Tensor | None = None, passes: int = 0) -> Batch:
    data = load_dataset("digits")
    ids = torch.arange(16) if ids is None else ids
    return Batch({"labeled": StreamBatch(data.inputs[ids], data.labels[ids], ids, passes=passes, pool_size=POOL)})


def ready(method: NoiseMask, model: nn.Module | None = None) -> TrainContext:
    ctx = make_ctx(Recorder(harness()) if model is None else model)
    method.setup(ctx)
    return ctx


def policy_of(ctx: TrainContext) -> NoiseMaskPolicy:
    policy = ctx.modules["policy"]
    assert isinstance(policy, NoiseMaskPolicy)
    return policy


# -- the surrogate: the card's formula -----------------------------------------------------------


def test_card_surrogate_is_the_mean_log_of_the_summed_densities_times_batch_ce() -> None:
    generator = torch.Generator().manual_seed(0)
    log_density = torch.randn(6, 16, generator=generator)
    logits = torch.randn(6, NUM_CLASSES, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (6,), generator=generator)
    loss, factor = noise_mask_loss(log_density, logits, labels, "card")
    density = log_density.exp()
    expected_factor = torch.log(density.sum(1))  # log of the *sum* of the per-cell densities
    torch.testing.assert_close(factor, expected_factor)
    torch.testing.assert_close(loss, expected_factor.mean() * nnf.cross_entropy(logits, labels))
    joint = log_density.sum(1)  # the joint log-probability, which the card does not use
    assert not torch.allclose(factor, joint, atol=0.5)


def test_joint_variant_is_baselined_reinforce_plus_plain_ce() -> None:
    generator = torch.Generator().manual_seed(1)
    log_density = torch.randn(6, 16, generator=generator, requires_grad=True)
    logits = torch.randn(6, NUM_CLASSES, generator=generator, requires_grad=True)
    labels = torch.randint(0, NUM_CLASSES, (6,), generator=generator)
    loss, _ = noise_mask_loss(log_density, logits, labels, "joint_log_prob")
    per_sample = nnf.cross_entropy(logits.detach(), labels, reduction="none")
    advantage = per_sample - per_sample.mean()
    expected = per_sample.mean() + (advantage * log_density.detach().sum(1)).mean()
    torch.testing.assert_close(loss.detach(), expected)
    loss.backward()
    plain = logits.detach().clone().requires_grad_(True)
    nnf.cross_entropy(plain, labels).backward()
    torch.testing.assert_close(logits.grad, plain.grad)  # the classifier sees plain CE
    torch.testing.assert_close(log_density.grad, (advantage / 6)[:, None].expand(6, 16))
    assert float(log_density.grad.sum()) == pytest.approx(0.0, abs=1e-5)  # the baseline centres the advantages


def test_beta_log_density_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(2)
    alpha_log, beta_log = torch.randn(4, 16, generator=generator), torch.randn(4, 16, generator=generator)
    cells = torch.rand(4, 16, generator=generator).clamp(1e-4, 1 - 1e-4)
    cells[:, 0], cells[:, 1] = 1e-5, 1 - 1e-5  # near the ends, where a clamp inside the density would show
    expected = torch.distributions.Beta(alpha_log.exp(), beta_log.exp()).log_prob(cells)
    torch.testing.assert_close(beta_log_density(cells, alpha_log, beta_log), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("surrogate", ["card", "joint_log_prob"])
def test_training_step_loss_is_the_formula_on_the_masked_batch(surrogate: str) -> None:
    method = noise_mask(surrogate=surrogate)
    ctx = ready(method)
    batch = digits_batch()
    before = copy.deepcopy(policy_of(ctx))  # train mode: the same batch statistics, bases before the update
    ctx.batch = batch
    loss = method.training_step(batch, ctx).loss
    labeled = batch["labeled"]
    inputs = normalize(labeled.inputs)
    with torch.no_grad():
        alpha_log, beta_log = before(inputs)
        cells = sample_mask_cells(alpha_log, beta_log, KeyedGenerator(ctx.keys("labeled", 1), ctx.seed))
        masks = render_masks(cells, 4, (8, 8), 3, 1.0)
        logits = ctx.model.model(inputs * masks)
        log_density = torch.distributions.Beta(alpha_log.exp(), beta_log.exp()).log_prob(cells)
    torch.testing.assert_close(ctx.model.seen[-1], inputs * masks)
    if surrogate == "card":
        expected = torch.log(log_density.exp().sum(1)).mean() * nnf.cross_entropy(logits, labeled.labels)
    else:
        per_sample = nnf.cross_entropy(logits, labeled.labels, reduction="none")
        expected = per_sample.mean() + ((per_sample - per_sample.mean()) * log_density.sum(1)).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)
    logs = ctx.log.means()
    assert set(logs) == {"mask_mean", "mask_high_fraction", "mask_low_fraction", "log_sum_density",
                         "joint_log_prob", "ce_loss", "concentration_alpha", "concentration_beta"}
    assert logs["mask_mean"] == pytest.approx(float(cells.mean()), rel=1e-6)
    assert logs["mask_high_fraction"] == pytest.approx(float((cells > 0.9).float().mean()))
    assert logs["mask_low_fraction"] == pytest.approx(float((cells < 0.1).float().mean()))
    assert logs["log_sum_density"] == pytest.approx(float(torch.logsumexp(log_density, 1).mean()), rel=1e-4)


# -- gradients and learning rates -------------------------------------------------------------


def _grads(module: nn.Module) -> dict[str, Tensor | None]:
    return {name: p.grad for name, p in module.named_parameters()}


@pytest.mark.parametrize("surrogate", ["card", "joint_log_prob"])
def test_one_backward_reaches_both_the_policy_and_the_classifier(surrogate: str) -> None:
    method = noise_mask(surrogate=surrogate)
    ctx = ready(method)
    batch = digits_batch()
    ctx.batch = batch
    method.training_step(batch, ctx).loss.backward()
    for network in (policy_of(ctx), ctx.model):
        grads = _grads(network)
        assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
        assert all(float(g.abs().sum()) > 0 for name, g in grads.items() if "weight" in name), network


def test_card_factor_rescales_the_classifier_gradient() -> None:
    method = noise_mask()
    ctx = ready(method)
    batch = digits_batch()
    ctx.batch = batch
    method.training_step(batch, ctx).loss.backward()
    factor = ctx.log.means()["log_sum_density"]
    masked = ctx.model.seen[-1]
    reference = copy.deepcopy(ctx.model.model)
    reference.zero_grad()
    nnf.cross_entropy(reference(masked), batch["labeled"].labels).backward()
    for (name, mine), theirs in zip(ctx.model.model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(mine.grad, factor * theirs.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_policy_learns_at_a_tenth_of_the_classifier_rate_through_the_schedule() -> None:
    method = noise_mask()
    ctx = ready(method)
    groups = ctx.optimizer.param_groups
    assert len(groups) == 2
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in policy_of(ctx).parameters()}
    schedule = build_schedule("cosine", ctx.optimizer, ctx.total_steps)
    for _ in range(3):
        assert groups[1]["lr"] == pytest.approx(groups[0]["lr"] / 10)
        train_step(method, digits_batch(), ctx)
        schedule.step()
    assert groups[0]["lr"] < 0.05
    assert ready(noise_mask(policy_lr_scale=0.5)).optimizer.param_groups[1]["lr"] == pytest.approx(0.025)


def test_policy_parameters_and_bases_move_after_a_step() -> None:
    method = noise_mask()
    ctx = ready(method)
    before = copy.deepcopy(policy_of(ctx).state_dict())
    train_step(method, digits_batch(), ctx)
    after = policy_of(ctx).state_dict()
    for name in ("alpha_head.6.weight", "beta_head.6.weight", "features.0.weight", "alpha_base", "beta_base"):
        assert not torch.equal(before[name], after[name]), name


# -- the policy: smoothing and the bases' running mean ----------------------------------------


def test_smoothing_uses_the_old_bases_and_the_bases_follow_the_batch_mean() -> None:
    policy = NoiseMaskPolicy(1, 4, 16, 0.9, 0.99, torch.Generator().manual_seed(0))
    bases = policy.alpha_base.clone(), policy.beta_base.clone()
    assert bases[0].shape == (1, 16) and 0 <= float(bases[0].min()) and float(bases[0].max()) < 1
    assert not torch.equal(bases[0], bases[1])
    images = normalize(digits_batch()["labeled"].inputs)
    heads = copy.deepcopy(policy)
    with torch.no_grad():
        features = heads.features(images)
        a, b = heads.alpha_head(features), heads.beta_head(features)
    alpha_log, beta_log = policy(images)
    torch.testing.assert_close(alpha_log, 0.9 * bases[0] + 0.1 * a)
    torch.testing.assert_close(beta_log, 0.9 * bases[1] + 0.1 * b)
    torch.testing.assert_close(policy.alpha_base, 0.99 * bases[0] + 0.01 * a.mean(0, keepdim=True))
    torch.testing.assert_close(policy.beta_base, 0.99 * bases[1] + 0.01 * b.mean(0, keepdim=True))
    assert not policy.alpha_base.requires_grad and alpha_log.requires_grad
    policy.eval()
    frozen = policy.alpha_base.clone()
    policy(images)
    assert torch.equal(policy.alpha_base, frozen)  # no update outside training


def test_smoothing_and_momentum_options_reach_the_policy() -> None:
    policy = policy_of(ready(noise_mask(smoothing=0.5, base_momentum=0.9)))
    assert (policy.smoothing, policy.base_momentum) == (0.5, 0.9)


def test_policy_initialisation_is_a_function_of_the_run_generator() -> None:
    first, second = policy_of(ready(noise_mask())), policy_of(ready(noise_mask()))
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


# -- masks --------------------------------------------------------------------------------------


def test_masks_are_in_the_open_unit_interval_and_differ_per_sample() -> None:
    method = noise_mask()
    ctx = ready(method)
    batch = digits_batch()
    ctx.batch = batch
    inputs = normalize(batch["labeled"].inputs)
    with torch.no_grad():
        alpha_log, beta_log = policy_of(ctx)(inputs)
    cells = sample_mask_cells(alpha_log, beta_log, KeyedGenerator(ctx.keys("labeled", 1), ctx.seed))
    assert 0 < float(cells.min()) and float(cells.max()) < 1
    rendered = render_masks(cells, 4, (8, 8), 3, 1.0)
    assert rendered.shape == (16, 1, 8, 8) and 0 < float(rendered.min()) and float(rendered.max()) < 1
    assert float(rendered.std(0).mean()) > 0.1  # each sample its own mask
    assert len({tuple(row.tolist()) for row in cells}) == 16


def test_extreme_concentrations_stay_inside_the_interval_with_finite_densities() -> None:
    alpha_log = torch.tensor([[-20.0, 8.0, -20.0, 0.0]]).expand(64, 4)
    beta_log = torch.tensor([[8.0, -20.0, -20.0, 0.0]]).expand(64, 4)
    cells = sample_mask_cells(alpha_log, beta_log, KeyedGenerator(torch.arange(64), 0))
    assert float(cells.min()) > 0 and float(cells.max()) < 1
    assert float(cells.min()) == pytest.approx(1e-6) and float(cells.max()) == pytest.approx(1 - 1e-6)  # clamped
    assert float(cells[:, 0].max()) < 0.01 and float(cells[:, 1].min()) > 0.99  # Beta(~0, e^8) ~ 0, Beta(e^8, ~0) ~ 1
    assert torch.isfinite(beta_log_density(cells, alpha_log, beta_log)).all()


def test_render_is_a_nearest_upsample_then_the_blur() -> None:
    cells = torch.tensor([[0.1, 0.9, 0.3, 0.7]])
    sharp = render_masks(cells, 2, (4, 4), 1, 1.0)  # kernel 1: no blur
    expected = torch.tensor([[0.1, 0.1, 0.9, 0.9], [0.1, 0.1, 0.9, 0.9], [0.3, 0.3, 0.7, 0.7], [0.3, 0.3, 0.7, 0.7]])
    torch.testing.assert_close(sharp[0, 0], expected)
    blurred = render_masks(cells, 2, (4, 4), 3, 1.0)
    assert float(blurred.std()) < float(sharp.std())
    torch.testing.assert_close(blurred.mean(), sharp.mean(), atol=0.05, rtol=0)


def test_per_element_beta_draws_follow_their_own_concentrations() -> None:
    generator = torch.Generator().manual_seed(0)
    alpha = torch.tensor([[0.3, 2.0, 5.0, 1.0]]).expand(40000, 4).contiguous()
    beta = torch.tensor([[0.3, 6.0, 1.0, 1.0]]).expand(40000, 4).contiguous()
    draws = beta_per_element(alpha, beta, generator)
    mean = alpha[0] / (alpha[0] + beta[0])
    variance = alpha[0] * beta[0] / ((alpha[0] + beta[0]) ** 2 * (alpha[0] + beta[0] + 1))
    torch.testing.assert_close(draws.mean(0), mean, atol=0.01, rtol=0)
    torch.testing.assert_close(draws.var(0), variance, atol=0.005, rtol=0)


@pytest.mark.parametrize("concentration", [0.3, 1.0, 4.0])
def test_per_element_gamma_equals_the_scalar_draw_at_the_same_concentration(concentration: float) -> None:
    keys = torch.arange(50)
    scalar = log_gamma(concentration, (50, 16), KeyedGenerator(keys, 7))
    each = log_gamma_per_element(torch.full((50, 16), concentration, dtype=torch.float64), KeyedGenerator(keys, 7))
    torch.testing.assert_close(each, scalar)


# -- keyed replay ---------------------------------------------------------------------------------


def test_mask_draws_replay_by_key_whatever_the_batch_order() -> None:
    generator = torch.Generator().manual_seed(5)
    alpha_log, beta_log = torch.randn(8, 16, generator=generator), torch.randn(8, 16, generator=generator)
    keys = torch.arange(100, 108)
    cells = sample_mask_cells(alpha_log, beta_log, KeyedGenerator(keys, 3))
    torch.testing.assert_close(sample_mask_cells(alpha_log, beta_log, KeyedGenerator(keys, 3)), cells, rtol=0, atol=0)
    order = torch.tensor([5, 2, 7, 0])
    part = sample_mask_cells(alpha_log[order], beta_log[order], KeyedGenerator(keys[order], 3))
    torch.testing.assert_close(part, cells[order], rtol=0, atol=0)
    assert not torch.equal(sample_mask_cells(alpha_log, beta_log, KeyedGenerator(keys, 4)), cells)


def test_a_step_replays_and_a_permuted_batch_gets_the_permuted_masks() -> None:
    ids = torch.arange(20, 36)
    order = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    outputs = []
    for batch_ids in (ids, ids, ids[order]):
        method = noise_mask()
        ctx = ready(method)
        batch = digits_batch(batch_ids)
        ctx.batch = batch
        loss = method.training_step(batch, ctx).loss
        outputs.append((float(loss.detach()), ctx.model.seen[-1]))
    assert outputs[0][0] == outputs[1][0] and torch.equal(outputs[0][1], outputs[1][1])
    torch.testing.assert_close(outputs[2][1], outputs[0][1][order], rtol=1e-5, atol=1e-5)
    assert outputs[2][0] == pytest.approx(outputs[0][0], rel=1e-5)
    method = noise_mask()
    ctx = ready(method)
    later = digits_batch(ids, passes=1)  # the next epoch: new keys, new masks
    ctx.batch = later
    method.training_step(later, ctx)
    assert not torch.allclose(ctx.model.seen[-1], outputs[0][1])


# -- phases: pretrain with masks (cached), fine-tune clean without the policy ----------------------


def test_phases_are_pretrain_then_clean_supervised_finetune_from_its_weights() -> None:
    method = noise_mask(pretrain_epochs=3, finetune_epochs=5)
    pretrain, finetune = method.phases(DIGITS)
    assert (pretrain.name, pretrain.method, pretrain.epochs) == ("pretrain", method, 3)
    assert "finetune_epochs" not in pretrain.spec and pretrain.spec["grid"] == 4
    assert (finetune.name, finetune.init_from, finetune.epochs) == ("finetune", "pretrain", 5)
    assert isinstance(finetune.method, Supervised) and finetune.method.augment is None
    model = Recorder(harness())
    ctx = make_ctx(model)
    finetune.method.setup(ctx)
    assert ctx.modules == {}  # no policy in phase 2
    batch = digits_batch()
    train_step(finetune.method, batch, ctx)
    torch.testing.assert_close(model.seen[-1], normalize(batch["labeled"].inputs), rtol=0, atol=0)  # clean


def _spec(**options: object) -> RunSpec:
    method = {"type": "noise_mask", **DIGITS_OPTIONS, "pretrain_epochs": 2, "finetune_epochs": 1, **options}
    return RunSpec.create(dataset="digits", model="harness_cnn", method=method, seed=0, epochs=3, batch_size=50,
                          data=DataSpec(train_size=100, test_size=300), evaluations=())


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, single_thread: Callable[[], AbstractContextManager[None]]
) -> tuple[Path, RunResult]:
    cache = tmp_path_factory.mktemp("noise-mask-cache")
    with single_thread():
        return cache, train_run(_spec(), cache_dir=cache)


def test_train_run_logs_mask_statistics_in_pretrain_only(first_run: tuple[Path, RunResult]) -> None:
    _, result = first_run
    assert [c.phase for c in result.checkpoints] == ["pretrain", "finetune"]
    names = {(phase, name) for phase, _, name, _ in result.curves}
    assert ("pretrain", "mask_high_fraction") in names and ("pretrain", "log_sum_density") in names
    assert {name for phase, name in names if phase == "finetune"} == {"train_loss"}
    assert {epoch for phase, epoch, _, _ in result.curves if phase == "pretrain"} == {0, 1}
    assert "test_accuracy" in result.phase_metrics["pretrain"] and 0 <= result.metrics["test_accuracy"] <= 1
    assert result.phase_metrics["finetune"]["augmentation_time_s"] == 0.0
    assert result.phase_metrics["pretrain"]["augmentation_time_s"] > 0.0


def test_the_pretrain_phase_is_cached_across_finetune_lengths(first_run: tuple[Path, RunResult]) -> None:
    cache, first = first_run
    second = train_run(_spec(finetune_epochs=2), cache_dir=cache)
    assert second.checkpoints[0].reused and second.checkpoints[0].key == first.checkpoints[0].key
    assert not second.checkpoints[1].reused
    assert second.phase_metrics["pretrain"]["test_accuracy"] == first.phase_metrics["pretrain"]["test_accuracy"]
    joint = train_run(_spec(surrogate="joint_log_prob"), cache_dir=cache)
    assert joint.checkpoints[0].key != first.checkpoints[0].key


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("context", [MethodContext(NUM_CLASSES, (1, 64), "timeseries"),
                                     MethodContext(NUM_CLASSES, (16,), "text")])
def test_non_image_data_is_refused_in_one_line(context: MethodContext) -> None:
    with pytest.raises(ConfigError, match="noise_mask: masks multiply .* images") as info:
        build_method({"type": "noise_mask", "grid": 4, "blur_kernel": 3}, context)
    assert "\n" not in str(info.value) and context.modality in str(info.value)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"grid": 0}, "grid"),
        ({"grid": 16}, "grid=16 exceeds the 8x8"),
        ({"grid": 2.5}, "grid"),
        ({"blur_kernel": 4}, "blur_kernel"),
        ({"blur_kernel": 17}, "blur_kernel=17 is too large"),
        ({"blur_sigma": 0}, "blur_sigma"),
        ({"smoothing": 1.5}, "smoothing"),
        ({"base_momentum": -0.1}, "base_momentum"),
        ({"policy_lr_scale": 0}, "policy_lr_scale"),
        ({"policy_width": 1}, "policy_width"),
        ({"surrogate": "joint"}, "surrogate='joint' is unknown"),
        ({"pretrain_epochs": 0}, "pretrain_epochs"),
        ({"finetune_epochs": True}, "finetune_epochs"),
        ({"gird": 4}, "gird"),
    ],
)
def test_bad_options_fail_in_one_line(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        noise_mask(**options)
    assert "\n" not in str(info.value)


def test_the_papers_grid_on_digits_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="grid=64 exceeds the 8x8 images; use grid <= 8"):
        build_method({"type": "noise_mask"}, DIGITS)


def test_non_image_batches_and_single_samples_fail_in_one_line() -> None:
    method = noise_mask()
    ctx = ready(method)
    series = Batch.labeled(torch.rand(4, 1, 64), torch.zeros(4, dtype=torch.long))
    ctx.batch = series
    with pytest.raises(InputValueError, match=r"noise_mask: needs a batch of >= 2 images \(B, C, H, W\)") as info:
        method.training_step(series, ctx)
    assert "\n" not in str(info.value)
    single = digits_batch(torch.tensor([3]))
    ctx.batch = single
    with pytest.raises(InputValueError, match="got shape \\(1, 1, 8, 8\\)"):
        method.training_step(single, ctx)


def test_a_step_before_setup_names_the_fix() -> None:
    method = noise_mask()
    ctx = make_ctx(harness())
    batch = digits_batch()
    ctx.batch = batch
    with pytest.raises(ConfigError, match="setup\\(ctx\\) creates it"):
        method.training_step(batch, ctx)
