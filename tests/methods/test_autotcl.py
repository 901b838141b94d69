"""AutoTCL and its fixed-augmentation baseline (card: shared/methods/contrastive.md, AutoTCL).

The card's checklist: a straight-through hard mask (0/1 forward, gradient of the relaxation),
the budget regulariser pushing the mask weights below 0.4 (its sign), MMD on representations
that is zero for identical batches and positive otherwise, the augmenter frozen during the
encoder step and the encoder frozen during the augmenter step, and a mask that does not collapse
to all-zeros or all-ones in a short run. GunPoint series with a narrow FCN, few steps.
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
from augbench.data.streams import DataSpec, Split
from augbench.errors import ConfigError
from augbench.losses import cross_view_info_nce, gaussian_mmd, temporal_info_nce
from augbench.methods import AutoTCL, MethodContext, TSContrastive, build_method
from augbench.methods.autotcl import hard_concrete
from augbench.models import TimeSeriesCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SHAPE = (1, 150)


@pytest.fixture(scope="module")
def gunpoint() -> tuple[Tensor, Tensor]:
    try:
        dataset = load_dataset("gunpoint")
    except Exception as error:  # the shared data folder is outside the repository
        pytest.skip(f"GunPoint not available: {error}")
    return dataset.inputs, dataset.labels


def autotcl(**options: object) -> AutoTCL:
    method = build_method({"type": "autotcl", **options}, MethodContext(2, SHAPE, "timeseries"))
    assert isinstance(method, AutoTCL)
    return method


def context(method: AutoTCL | TSContrastive, series: Tensor, labels: Tensor, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TimeSeriesCNN(in_channels=1, num_classes=2, length=SHAPE[1], width=0.125)
    mean, std = float(series.mean()), float(series.std())
    ctx = TrainContext(model, torch.optim.AdamW(model.parameters(), lr=1e-3), torch.device("cpu"), 2,
                       torch.Generator().manual_seed(seed + 1), lambda x: (x - mean) / std, 100, seed=seed,
                       pools={"labeled": Split(series, labels, torch.arange(len(labels)), len(labels))},
                       modality="timeseries")
    method.setup(ctx)
    return ctx


def batch(series: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(series, labels, ids, passes=passes, pool_size=1000)})


def snapshot(module: torch.nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def same(first: dict[str, Tensor], second: dict[str, Tensor]) -> bool:
    return all(torch.equal(first[name], second[name]) for name in first)


# -- the mask -------------------------------------------------------------------------------------


def test_hard_concrete_is_binary_forward_with_the_relaxations_gradient() -> None:
    generator = torch.Generator().manual_seed(0)
    locations = torch.rand(4, 50, generator=generator).requires_grad_(True)
    uniform = 0.001 + 0.998 * torch.rand(4, 50, generator=generator)
    gate, soft = hard_concrete(locations, uniform)
    assert set(gate.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(gate.detach(), (soft.detach() > 0.5).float())
    expected = torch.autograd.grad((soft * torch.arange(50.0)).sum(), locations, retain_graph=True)[0]
    (gate * torch.arange(50.0)).sum().backward()
    assert locations.grad is not None and locations.grad.abs().sum() > 0
    torch.testing.assert_close(locations.grad, expected)  # straight through: the soft gradient
    gate, soft = hard_concrete(torch.tensor([-3.5, 20.0]), None)
    assert gate.tolist() == [0.0, 1.0] and soft[0].item() == 0.0  # the stretch to -0.05 then the clip reach 0


def test_mask_keep_rate_follows_the_official_location_and_stays_inside_its_bounds() -> None:
    # h = 1 iff sigmoid(p + noise) * 1.05 - 0.05 > 0.5, i.e. p + noise > log(1.1): P(h = 1) = sigmoid(p - log 1.1)
    uniform = 0.001 + 0.998 * torch.rand(200_000, generator=torch.Generator().manual_seed(1))
    for weight in (0.0, 0.5, 1.0):
        gate, _ = hard_concrete(torch.full((200_000,), weight), uniform)
        expected = 1.0 / (1.0 + math.exp(-(weight - math.log(1.1))))
        assert abs(float(gate.mean()) - expected) < 0.005
        assert 0.47 < expected < 0.72  # weights in [0, 1]: the mask keeps between ~48 % and ~71 % of the steps


def test_view_is_scale_times_mask_times_series_and_padding_is_kept(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    context(method, series, labels)
    x = series[:6].clone()
    x[:, :, 140:] = 0.0  # trailing padding of the UCR/UEA loader
    valid = torch.arange(150)[None, :] < torch.full((6, 1), 140)
    uniform = method.noise_bias + 0.5 * torch.rand(6, 150, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = method.augment(x - 0.3, valid, uniform)
    factor = torch.where(valid, out.scales * out.mask, torch.ones(6, 150))
    torch.testing.assert_close(out.view, (x - 0.3) * factor[:, None])
    assert torch.equal(out.view[:, :, 140:], (x - 0.3)[:, :, 140:])
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
    assert bool(((out.scales > 0) & (out.scales < 1)).all()) and bool(((out.weights > 0) & (out.weights < 1)).all())


def test_budget_regulariser_pushes_the_mask_weights_below_the_budget(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl(budget_weight=1000.0, smooth_weight=0.0, aug_lr=0.05)
    ctx = context(method, series, labels)
    x = ctx.normalize(series[:16])
    valid = torch.ones(16, 150, dtype=torch.bool)
    ctx.batch = batch(series[:16], labels[:16], torch.arange(16))
    start = float(method.augment(x, valid, None).weights.detach().mean())
    assert start > 0.45  # untrained: about 0.5, above the budget
    for _ in range(30):
        method.augmenter_step(x, valid, ctx)
    end = float(method.augment(x, valid, None).weights.detach().mean())
    assert end < 0.42 and end < start  # pushed down to the 0.4 budget, not up


def test_budget_and_consistency_terms_are_zero_below_budget_and_for_constant_weights(
    gunpoint: tuple[Tensor, Tensor],
) -> None:
    series, labels = gunpoint
    method = autotcl(budget=1.0)
    ctx = context(method, series, labels)
    x = ctx.normalize(series[:8])
    augmented = method.augment(x, torch.ones(8, 150, dtype=torch.bool), None)
    parts = method.augmenter_loss(ctx.model, x, augmented)
    assert float(parts["budget"]) == 0.0  # relu(mean p - 1) with p < 1
    assert float(parts["smooth"]) > 0.0
    torch.testing.assert_close(parts["loss"], parts["mmd"] + 0.001 * parts["smooth"])


# -- the losses -----------------------------------------------------------------------------------


def test_mmd_is_zero_for_identical_batches_and_positive_otherwise() -> None:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(16, 8, generator=generator)
    assert gaussian_mmd(x, x).item() == 0.0
    assert gaussian_mmd(x, x[torch.randperm(16, generator=generator)]).abs().item() < 1e-6  # a set statistic
    assert gaussian_mmd(x, x + 0.5).item() > 0.01
    assert gaussian_mmd(x, torch.randn(16, 8, generator=generator) * 3).item() > gaussian_mmd(x, x + 0.1).item()
    assert gaussian_mmd(torch.ones(4, 2), torch.ones(4, 2)).item() == 0.0  # zero width does not give NaN


def test_mmd_matches_the_kernel_formula() -> None:
    generator = torch.Generator().manual_seed(4)
    x, y = torch.randn(5, 3, generator=generator, dtype=torch.float64), torch.randn(5, 3, generator=generator,
                                                                                    dtype=torch.float64)
    points = torch.cat([x, y])
    d = torch.cdist(points, points) ** 2
    width = d.sum() / 90 / 4.0
    kernel = sum(torch.exp(-d / (width * 2.0**m)) for m in range(5))
    expected = (kernel[:5, :5] + kernel[5:, 5:] - kernel[:5, 5:] - kernel[5:, :5]).mean()
    torch.testing.assert_close(gaussian_mmd(x, y), expected)


def test_cross_view_info_nce_is_cross_entropy_over_candidates() -> None:
    generator = torch.Generator().manual_seed(5)
    a, c = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    logits = torch.stack([torch.stack([nnf.cosine_similarity(a[i], c[j], dim=0) for j in range(6)])
                          for i in range(6)]) / 0.5
    expected = torch.stack([-torch.log_softmax(logits[i], 0)[i] for i in range(6)]).mean()
    torch.testing.assert_close(cross_view_info_nce(a, c, 0.5), expected)
    assert cross_view_info_nce(a, a, 0.1) < cross_view_info_nce(a, c, 0.1)


def test_temporal_info_nce_positive_is_the_same_step_of_the_other_view() -> None:
    generator = torch.Generator().manual_seed(6)
    z1, z2 = torch.randn(2, 5, 3, generator=generator), torch.randn(2, 5, 3, generator=generator)
    total = torch.zeros(())
    for b in range(2):
        z = nnf.normalize(torch.cat([z1[b], z2[b]]), dim=1)
        s = z @ z.T / 0.5
        for i in range(10):
            others = [j for j in range(10) if j != i]
            total = total - torch.log_softmax(s[i, others], 0)[others.index((i + 5) % 10)]
    torch.testing.assert_close(temporal_info_nce(z1, z2, 0.5), total / 20)
    assert temporal_info_nce(z1[:, :1], z2[:, :1]).item() == 0.0


# -- alternating updates --------------------------------------------------------------------------


def test_encoder_is_frozen_during_the_augmenter_step(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    ctx = context(method, series, labels)
    ctx.batch = batch(series[:16], labels[:16], torch.arange(16))
    encoder, augmenter = snapshot(ctx.model), snapshot(method.augmenter)
    method.augmenter_step(ctx.normalize(series[:16]), torch.ones(16, 150, dtype=torch.bool), ctx)
    assert same(encoder, snapshot(ctx.model))  # weights and batch-norm statistics untouched
    assert all(parameter.grad is None for parameter in ctx.model.parameters())
    assert ctx.model.training  # train mode restored
    assert not same(augmenter, snapshot(method.augmenter))  # the augmenter did move


def test_augmenter_is_frozen_during_the_encoder_step(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    ctx = context(method, series, labels)
    step_batch = batch(series[:16], labels[:16], torch.arange(16))
    ctx.batch = step_batch
    output = method.training_step(step_batch, ctx)
    after_augmenter_step = snapshot(method.augmenter)
    output.loss.backward()
    assert all(parameter.grad is None for parameter in method.augmenter.parameters())
    assert all(parameter.grad is not None for parameter in ctx.model.stages.parameters())
    assert not any(p is q for group in ctx.optimizer.param_groups for p in group["params"]
                   for q in method.augmenter.parameters())  # the run's optimiser never steps it
    ctx.optimizer.step()
    assert same(after_augmenter_step, snapshot(method.augmenter))


def test_library_step_updates_both_networks_each_through_its_own_loss(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    ctx = context(method, series, labels)
    encoder, augmenter = snapshot(ctx.model), snapshot(method.augmenter)
    train_step(method, batch(series[:16], labels[:16], torch.arange(16)), ctx)
    assert not same(encoder, snapshot(ctx.model)) and not same(augmenter, snapshot(method.augmenter))
    means = ctx.log.means()
    assert {"mask_mean", "mask_weight", "scale_mean", "mmd", "augmenter_loss", "info_nce", "local_info_nce",
            "positive_accuracy"} <= set(means)


def test_relaxation_noise_is_keyed_by_sample_not_by_batch_order(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    ctx = context(method, series, labels)
    ids = torch.arange(20, 32)
    ctx.batch = batch(series[:12], labels[:12], ids)
    whole = method.noise(ctx, 4, (12, 150))
    order = torch.randperm(12, generator=torch.Generator().manual_seed(7))
    ctx.batch = batch(series[:12][order], labels[:12][order], ids[order])
    assert torch.equal(method.noise(ctx, 4, (12, 150)), whole[order])
    assert not torch.equal(method.noise(ctx, 3, (12, 150)), whole[order])  # the two steps draw apart
    ctx.batch = batch(series[:12], labels[:12], ids, passes=1)
    assert not torch.equal(method.noise(ctx, 4, (12, 150)), whole)
    assert float(whole.min()) >= 0.001 and float(whole.max()) <= 0.999


def test_mask_does_not_collapse_in_a_short_run(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = autotcl()
    ctx = context(method, series[:48], labels[:48])
    order = torch.Generator().manual_seed(8)
    for epoch in range(6):
        ctx.epoch = epoch
        for index in torch.randperm(48, generator=order).split(16):
            train_step(method, batch(series[index], labels[index], index, passes=epoch), ctx)
        means = ctx.log.means()
        assert 0.2 < means["mask_mean"] < 0.9, means  # neither all-zeros nor all-ones
        assert means["scale_mean"] > 0.2
    assert means["positive_accuracy"] > 1 / 16  # the encoder learns to match x with x'


def test_swa_copy_is_the_mean_of_the_iterates_and_is_what_is_evaluated(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = build_method("ts_contrastive", MethodContext(2, SHAPE, "timeseries"))
    ctx = context(method, series, labels)
    weights = [ctx.model.stages.conv1[1].weight.detach().clone()]
    for step in range(3):
        train_step(method, batch(series[16 * step: 16 * step + 16], labels[:16], torch.arange(16)), ctx)
        weights.append(ctx.model.stages.conv1[1].weight.detach().clone())
    average = method.eval_model(ctx.model)
    assert average is ctx.modules["swa"] and average is not ctx.model
    torch.testing.assert_close(average.stages.conv1[1].weight, torch.stack(weights).mean(0))
    ctx.step, ctx.total_steps = 3, 3
    method.on_epoch_end(ctx)  # the last step: batch norm re-estimated on the clean pool
    norm = average.stages.conv1[2]
    with torch.no_grad():
        hidden = average.stages.conv1[:2](ctx.normalize(series))
    torch.testing.assert_close(norm.running_mean, hidden.mean((0, 2)), rtol=1e-4, atol=1e-5)
    assert not average.training


# -- the fixed baseline ---------------------------------------------------------------------------


def test_fixed_views_come_from_one_keyed_call_and_differ(gunpoint: tuple[Tensor, Tensor]) -> None:
    series, labels = gunpoint
    method = build_method("ts_contrastive", MethodContext(2, SHAPE, "timeseries"))
    ctx = context(method, series, labels)
    calls: list[tuple[int, Tensor]] = []
    pipeline = method.augment

    def recording(inputs: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
        calls.append((inputs.shape[0], keys.clone()))
        return pipeline(inputs, keys=keys, seed=seed)

    method.augment = recording
    ctx.batch = batch(series[:8], labels[:8], torch.arange(8))
    views = method.views(ctx)
    assert len(calls) == 1 and calls[0][0] == 16
    assert torch.equal(calls[0][1], torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))
    first, second = views.chunk(2)
    assert views.shape == (16, 1, 150) and all(not torch.equal(a, b) for a, b in zip(first, second))


# -- options and integration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"temperature": 0}, {"local_weight": -1}, {"aug_lr": 0}, {"budget": 1.5}, {"noise_bias": 0.5}, {"hidden": 0},
     {"depth": 1.5}],
)
def test_bad_options_are_one_line_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="autotcl: "):
        autotcl(**options)


def test_image_data_and_models_without_a_step_map_are_refused() -> None:
    with pytest.raises(ConfigError, match="time series"):
        build_method("autotcl", MethodContext(10, (1, 8, 8), "image"))
    method = autotcl()
    from augbench.models import MLP

    model = MLP(input_shape=(1, 150), num_classes=2, hidden=(8, 8))
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 2,
                       torch.Generator(), lambda x: x, 10)
    with pytest.raises(ConfigError, match="timeseries_cnn"):
        method.setup(ctx)


def test_a_benchmark_run_trains_probes_and_reloads_from_the_cache(tmp_path, gunpoint) -> None:  # noqa: ANN001
    spec = RunSpec.create(dataset="gunpoint", model={"type": "timeseries_cnn", "width": 0.125}, method="autotcl",
                          seed=0, data=DataSpec(test_size=40), epochs=1, batch_size=16,
                          optimizer={"type": "adamw", "lr": 1e-3}, evaluations=())
    first = train_run(spec, cache_dir=tmp_path)
    again = train_run(spec, cache_dir=tmp_path)
    assert 0.0 <= first.metrics["test_linear_probe_accuracy"] <= 1.0 and "test_knn_accuracy" in first.metrics
    assert again.checkpoints[0].reused
    assert again.metrics["test_linear_probe_accuracy"] == first.metrics["test_linear_probe_accuracy"]
