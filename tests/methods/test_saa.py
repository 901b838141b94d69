"""SAA card (augbench/methods/saa.py): a loss history finds naive unlabeled samples, which get a pasted strong view."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.methods import SAA, FixMatch, MethodContext, build_method
from augbench.methods.saa import otsu_threshold, paste_halves
from augbench.metrics.cost import StepTimer
from augbench.models import HarnessCNN
from augbench.policies.build import build_transform
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.views import PreparedViews
from augbench.testing import Recorder

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
POOL = 1797
FIRST, SECOND = 1, 2  # key views of a naive sample's two strong images


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def saa(**options: object) -> SAA:
    method = build_method({"type": "saa", **options}, DIGITS)
    assert isinstance(method, SAA)
    return method


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def make_ctx(model: nn.Module, normalize: Callable[[Tensor], Tensor] | None = None) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=normalize or (lambda images: (images.float() / 255 - 0.3) / 0.4),
        total_steps=10,
        seed=3,
    )


def stream(inputs: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> StreamBatch:
    return StreamBatch(inputs, labels, ids, passes=passes, pool_size=POOL)


def digits_batch(ids: Tensor, passes: int = 0, order: Tensor | None = None) -> Batch:
    data = load_dataset("digits")
    ids = ids if order is None else ids[order]
    return Batch({
        "labeled": stream(data.inputs[:4], data.labels[:4], torch.arange(4)),
        "unlabeled": stream(data.inputs[ids], data.labels[ids], ids, passes),
    })


def step(method: SAA, batch: Batch, ctx: TrainContext) -> Tensor:
    ctx.batch = batch
    return method.training_step(batch, ctx).loss


def feed(method: SAA, ids: Tensor, losses: Tensor) -> None:
    """Record per-sample losses ``losses`` for ``ids`` through the method's loss hook (logits
    ``[0, z]`` against pseudo-label 0 give CE ``log(1 + e^z)``, so ``z = log(e^l - 1)``)."""
    z = torch.log(torch.expm1(losses.double())).float()
    logits = torch.stack([torch.zeros_like(z), z], dim=1)
    count = len(ids)
    unlabeled = stream(torch.zeros(count, 1, 8, 8, dtype=torch.uint8), torch.zeros(count, dtype=torch.int64), ids)
    method.unlabeled_loss(logits, torch.zeros(count, dtype=torch.int64), torch.zeros(count), unlabeled)


def make_naive(method: SAA, ctx: TrainContext, ids: Tensor, naive: Tensor) -> None:
    """History: tiny losses for ``ids[naive]``, large ones for the rest; then the epoch's update."""
    feed(method, ids, torch.where(naive, 0.01, 2.0) + 0.001 * torch.arange(len(ids)))
    ctx.step = ctx.total_steps
    method.on_epoch_end(ctx)
    assert torch.equal(method.naive[ids], naive)


# --- the loss history -----------------------------------------------------------------------------


def test_history_is_an_ema_in_which_the_newest_loss_weighs_0999() -> None:
    method, ctx = saa(), make_ctx(harness())
    method.setup(ctx)
    ids = torch.tensor([10, 11, 12])
    first, second = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([2.0, 0.1, 0.3])
    feed(method, ids, first)
    torch.testing.assert_close(method.loss_history[ids], first)  # the first loss initialises H
    feed(method, ids, second)
    history = method.loss_history[ids]
    torch.testing.assert_close(history, 0.001 * first + 0.999 * second)
    assert not torch.allclose(history, 0.999 * first + 0.001 * second, atol=1e-2)  # the swapped coefficients
    assert method.loss_history.shape == (POOL,)
    assert int(method.seen.sum()) == 3 and not method.loss_history[:10].any()  # other samples untouched


def test_the_history_records_unmasked_losses_of_the_strong_view_against_the_pseudo_labels() -> None:
    # threshold 1: the confidence mask drops every sample, so FixMatch's unlabeled term is 0,
    # yet every sample's strong-view CE against its weak-view argmax goes into the history.
    model, ids = Recorder(harness()), torch.arange(100, 116)
    method, ctx = saa(threshold=1.0), make_ctx(model)
    method.setup(ctx)
    batch = digits_batch(ids)
    loss = step(method, batch, ctx)
    labeled_logits, weak_logits, strong_logits = model.logits.detach().split([4, 16, 16])
    supervised = nnf.cross_entropy(labeled_logits, batch["labeled"].labels)
    torch.testing.assert_close(loss, supervised)
    expected = nnf.cross_entropy(strong_logits, weak_logits.argmax(1), reduction="none")
    assert expected.min() > 0.01
    torch.testing.assert_close(method.loss_history[ids], expected)
    assert ctx.log.means()["unlabeled_loss"] == 0.0


# --- Otsu's threshold -----------------------------------------------------------------------------


def exact_otsu_split(values: Tensor) -> Tensor:
    """Brute force: the low class of the split of the sorted values with the largest between-class variance."""
    ordered = values.double().sort().values
    best, best_split = -1.0, 0
    for split in range(1, len(ordered)):
        low, high = ordered[:split], ordered[split:]
        between = split * (len(ordered) - split) * float(low.mean() - high.mean()) ** 2
        if between > best:
            best, best_split = between, split
    return values <= ordered[best_split - 1]


@pytest.mark.parametrize(("low_count", "high_count"), [(500, 500), (900, 100), (100, 900)])
def test_otsu_splits_a_bimodal_vector_between_its_modes(low_count: int, high_count: int) -> None:
    generator = torch.Generator().manual_seed(0)
    low = (0.05 + 0.02 * torch.randn(low_count, generator=generator)).abs()
    high = 1.5 + 0.1 * torch.randn(high_count, generator=generator)
    values = torch.cat([low, high])[torch.randperm(low_count + high_count, generator=generator)]
    threshold = otsu_threshold(values)
    assert low.max() < threshold < high.min()
    assert torch.equal(values < threshold, exact_otsu_split(values))
    assert threshold.dtype == values.dtype and threshold.ndim == 0


def test_otsu_of_a_constant_vector_puts_nothing_below_it() -> None:
    values = torch.full((7,), 0.25)
    threshold = otsu_threshold(values)
    assert threshold == 0.25 and not (values < threshold).any()


@pytest.mark.parametrize(
    ("values", "error"),
    [(torch.zeros(0), InputValueError), (torch.zeros(2, 3), InputTypeError), (torch.arange(4), InputTypeError),
     ([0.1, 0.2], InputTypeError)],
)
def test_otsu_bad_input_is_one_line(values: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="otsu_threshold") as raised:
        otsu_threshold(values)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)


# --- naive samples ----------------------------------------------------------------------------------


def test_naive_set_is_thresholded_over_the_seen_samples_only() -> None:
    # 16 of the 1797 pool samples seen: the naive share is taken over them; a zero-initialised
    # history thresholded over the whole pool would call the 1781 unseen samples naive.
    method, ctx = saa(warmup=0.0), make_ctx(harness())
    method.setup(ctx)
    ids = torch.arange(100, 116)
    noise = 0.01 * torch.rand(16, generator=torch.Generator().manual_seed(0))
    losses = torch.cat([torch.full((6,), 0.02), torch.full((10,), 1.2)]) + noise
    feed(method, ids, losses)
    ctx.step = 1
    method.on_epoch_end(ctx)
    logs = ctx.log.means()
    assert logs["naive_fraction"] == pytest.approx(6 / 16)
    assert 0.03 < logs["loss_threshold"] < 1.2
    assert torch.equal(method.naive.nonzero().squeeze(1), ids[:6])


def test_no_naive_set_during_warmup() -> None:
    method, ctx = saa(warmup=0.5), make_ctx(harness())
    method.setup(ctx)
    ids = torch.arange(100, 116)
    feed(method, ids, torch.linspace(0.01, 2.0, 16))
    ctx.step = 4  # of 10: still warming up
    method.on_epoch_end(ctx)
    assert ctx.log.means()["naive_fraction"] == 0.0 and not method.naive.any()
    ctx.step = 5
    method.on_epoch_end(ctx)
    assert 0.0 < ctx.log.means()["naive_fraction"] < 1.0


def tiny_run(**options: object) -> RunSpec:
    return RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "saa", "ema_momentum": 0.9, **options}, seed=0,
        data=DataSpec(labeled_per_class=5, unlabeled=200, ratio=4, test_size=100),
        epochs=6, batch_size=10, optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9}, evaluations=(),
    )


def test_naive_fraction_is_logged_per_epoch_and_moves_after_warmup() -> None:
    result = train_run(tiny_run(threshold=0.7, warmup=0.3))
    curves = {(epoch, name): value for _, epoch, name, value in result.curves}
    fractions = [curves[(epoch, "naive_fraction")] for epoch in range(6)]
    assert fractions[0] == 0.0  # 5 of 30 steps done: warm-up (0.3 * 30 = 9 steps) not over
    after = fractions[1:]
    assert all(0.0 < value < 1.0 for value in after)  # neither nobody nor everybody
    assert len(set(after)) == len(after)  # a new split every epoch, not a constant
    assert (0, "loss_threshold") not in curves and (1, "loss_threshold") in curves


# --- the strong view --------------------------------------------------------------------------------


def views_of(method: SAA, batch: Batch, ctx: TrainContext) -> Tensor:
    """The strong unlabeled rows the model saw (inputs un-normalised: normalize is .float())."""
    model = Recorder(harness())
    ctx.model = model
    step(method, batch, ctx)
    count = len(batch["unlabeled"])
    return model.inputs[-count:]


def test_naive_samples_get_half_of_a_second_strong_image_pasted_on_the_first() -> None:
    ids = torch.arange(200, 232)
    naive = torch.arange(32) % 2 == 0
    method, ctx = saa(), make_ctx(harness(), normalize=lambda images: images.float())
    method.setup(ctx)
    make_naive(method, ctx, ids, naive)
    batch = digits_batch(ids)
    views = views_of(method, batch, ctx)
    strong = build_transform(method.spec["strong"])
    inputs = batch["unlabeled"].inputs
    first = strong(inputs, keys=ctx.keys("unlabeled", FIRST), seed=ctx.seed).float()
    second = strong(inputs, keys=ctx.keys("unlabeled", SECOND), seed=ctx.seed).float()
    assert torch.equal(views[~naive], first[~naive])  # other samples: FixMatch's strong view
    sides = []
    for b in naive.nonzero().squeeze(1).tolist():
        view, one, two = views[b], first[b], second[b]
        left = torch.equal(view[..., :4], two[..., :4]) and torch.equal(view[..., 4:], one[..., 4:])
        top = torch.equal(view[..., :4, :], two[..., :4, :]) and torch.equal(view[..., 4:, :], one[..., 4:, :])
        assert left or top
        sides.append(left)
    assert 0 < sum(sides) < len(sides)  # both halves occur
    assert sum(not torch.equal(views[b], first[b]) for b in naive.nonzero().squeeze(1).tolist()) >= 14


def test_paste_halves_copies_exact_halves_of_odd_sized_images() -> None:
    images = torch.zeros(3, 2, 5, 7, dtype=torch.uint8)
    partners = torch.full((3, 2, 5, 7), 9, dtype=torch.uint8)
    pasted = paste_halves(images, partners, torch.tensor([True, True, False]), torch.tensor([True, False, True]))
    assert torch.equal(pasted[0, :, :, :3], partners[0, :, :, :3]) and not pasted[0, :, :, 3:].any()
    assert torch.equal(pasted[1, :, :2], partners[1, :, :2]) and not pasted[1, :, 2:].any()
    assert not pasted[2].any() and not images.any()  # untouched sample; inputs not modified
    with pytest.raises(InputValueError, match="paste_halves") as error:
        paste_halves(images, partners[:2], torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool))
    assert "\n" not in str(error.value)


def test_the_pasted_view_is_keyed_replayable_and_independent_of_batch_order() -> None:
    ids = torch.arange(300, 332)
    naive = torch.arange(32) % 3 != 0

    def run(batch: Batch, prepared: bool = False) -> Tensor:
        method, ctx = saa(), make_ctx(harness(), normalize=lambda images: images.float())
        method.setup(ctx)
        make_naive(method, ctx, ids, naive)
        if prepared:  # the loop's path: the keyed views made for a chunk of steps in one call
            ctx.prepared = PreparedViews(method.keyed_views(), [batch], ctx.seed, StepTimer(ctx.device))
        return views_of(method, batch, ctx)

    views = run(digits_batch(ids))
    assert torch.equal(views, run(digits_batch(ids)))  # same keys, same views
    assert torch.equal(views, run(digits_batch(ids), prepared=True))
    order = torch.randperm(32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(run(digits_batch(ids, order=order)), views[order])  # paste side follows the sample
    assert not torch.equal(run(digits_batch(ids, passes=1)), views)  # a new pass, new draws


def test_without_naive_samples_saa_is_fixmatch() -> None:
    ids = torch.arange(100, 116)
    strong = {"type": "Compose", "transforms": [{"type": "RandomAffine", "degrees": 15, "translate": [0.125, 0.125]},
                                                {"type": "RandomErasing", "p": 1.0}]}
    losses = []
    for method in (saa(threshold=0.3, strong=strong, warmup=1.0),
                   build_method({"type": "fixmatch", "threshold": 0.3, "strong": strong}, DIGITS)):
        assert isinstance(method, FixMatch)
        ctx = make_ctx(harness())
        method.setup(ctx)
        losses.append(step(method, digits_batch(ids), ctx))
    assert torch.equal(losses[0], losses[1])


# --- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"warmup": 1.5}, "warmup"),
        ({"warmup": True}, "warmup"),
        ({"history_momentum": 1.0}, "history_momentum"),
        ({"history_momentum": math.nan}, "history_momentum"),
        ({"strong": None}, "strong"),
        ({"threshold": -0.1}, "threshold"),
        ({"otsu_bins": 10}, "otsu_bins"),
    ],
)
def test_bad_options_fail_in_one_line(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        saa(**options)
    assert "\n" not in str(error.value)


def test_other_modalities_are_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="fixmatch") as error:
        build_method("saa", MethodContext(NUM_CLASSES, (1, 64), "timeseries"))
    assert "\n" not in str(error.value)


def test_defaults_are_the_reference_codes() -> None:
    spec = saa().spec
    assert (spec["threshold"], spec["lambda_u"], spec["ema_momentum"]) == (0.95, 1.0, 0.999)
    assert (spec["history_momentum"], spec["warmup"]) == (0.001, 0.1)
    assert spec["strong"]["transforms"][0]["num_ops"] == 3  # RandAugment(3, ...) + Cutout


def test_a_data_spec_without_unlabeled_is_refused_in_one_line() -> None:
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method="saa", seed=0,
                          data=DataSpec(train_size=50), epochs=1, batch_size=10, evaluations=())
    with pytest.raises(ConfigError, match="unlabeled") as error:
        train_run(spec)
    assert "\n" not in str(error.value)
