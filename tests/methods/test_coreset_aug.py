"""Data-efficient augmentation card (augbench/methods/coreset_aug.py): strong copies of a per-class CRAIG coreset."""

from __future__ import annotations

import itertools
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
from augbench.data.streams import DataSpec, Split
from augbench.errors import ConfigError
from augbench.methods import CoresetAug, MethodContext, build_method
from augbench.methods.coreset_aug import class_budgets, facility_location, last_layer_gradients, select_subset
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StreamBatch, TrainContext, stream_keys
from augbench.train.loop import train_step

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def coreset_aug(**options: object) -> CoresetAug:
    method = build_method({"type": "coreset_aug", **options}, DIGITS)
    assert isinstance(method, CoresetAug)
    return method


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


class Recorder(nn.Module):
    """Wraps a harness CNN; keeps, per forward call, the mode, the inputs and the logits (with grad)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))
        self.calls: list[tuple[bool, Tensor, Tensor]] = []

    def forward(self, inputs: Tensor) -> Tensor:
        logits = self.model(inputs)
        self.calls.append((self.training, inputs.detach().clone(), logits))
        return logits


POOL_SIZE = 1797


def digits_pool(size: int = 60, offset: int = 0) -> Split:
    """The first ``size`` digits after ``offset`` as a labeled stream (ids are their dataset positions)."""
    data = load_dataset("digits")
    ids = torch.arange(offset, offset + size)
    return Split(data.inputs[ids], data.labels[ids], ids, POOL_SIZE)


def make_ctx(model: nn.Module, pool: Split | None = None) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=normalize,
        total_steps=10,
        seed=3,
        pools={} if pool is None else {"labeled": pool},
    )


def pool_batch(pool: Split, rows: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(pool.inputs[rows], pool.labels[rows], pool.ids[rows], passes, pool.pool_size)})


def clustered(
    sizes: list[int], classes: int = 2, dim: int = 10, spread: float = 0.02, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Toy gradients: per class, tight clusters of the given sizes around far-apart centres."""
    generator = torch.Generator().manual_seed(seed)
    points, labels = [], []
    for label in range(classes):
        for size in sizes:
            centre = torch.randn(dim, generator=generator)
            points.append(centre + spread * torch.randn(size, dim, generator=generator))
            labels.append(torch.full((size,), label))
    return torch.cat(points), torch.cat(labels)


# --- facility location ---------------------------------------------------------------------------


def objective(distances: Tensor, chosen: list[int]) -> float:
    """CRAIG's F(S) = sum_i max_{j in S} (C - d_ij), C the largest distance, written out point by point."""
    top = float(distances.max())
    return sum(max(top - float(distances[i, j]) for j in chosen) for i in range(distances.shape[0]))


def naive_greedy(distances: Tensor, budget: int) -> list[int]:
    chosen: list[int] = []
    for _ in range(budget):
        gains = {j: objective(distances, chosen + [j]) for j in range(distances.shape[0]) if j not in chosen}
        chosen.append(max(gains, key=lambda j: (gains[j], -j)))
    return chosen


def test_greedy_facility_location_matches_brute_force_on_a_tiny_set() -> None:
    points = torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    distances = torch.cdist(points, points)
    for budget in range(1, 5):
        picks = facility_location(distances, budget).tolist()
        assert picks == naive_greedy(distances, budget)
        best = max(objective(distances, list(subset)) for subset in itertools.combinations(range(8), budget))
        assert objective(distances, picks) >= (1 - 1 / math.e) * best
        if budget == 1:  # the first pick is the exact optimum: the medoid
            assert objective(distances, picks) == pytest.approx(best)
            assert picks == [int(distances.sum(1).argmin())]


def test_facility_location_refuses_a_budget_larger_than_the_set() -> None:
    with pytest.raises(ValueError, match=r"budget=4 must be in 1\.\.3"):
        facility_location(torch.zeros(3, 3), 4)


# --- selection: coverage, weights, per-class budgets --------------------------------------------


def test_craig_covers_clustered_gradients_better_than_any_random_subset() -> None:
    # The card's falsifier: a coreset whose coverage equals a random subset's is not a coreset.
    gradients, labels = clustered([20, 10, 6, 4])
    craig = select_subset(gradients, labels, 0.1, "craig", 2)
    randoms = [select_subset(gradients, labels, 0.1, "random", 2, generator=torch.Generator().manual_seed(s)).coverage
               for s in range(20)]
    assert float(craig.coverage) < 0.3 * min(float(c) for c in randoms)
    # One medoid per cluster: about a point's distance to its cluster centre, 0.02 * sqrt(10) = 0.063.
    assert float(craig.coverage) < 0.1


def test_craig_weights_are_cluster_sizes_with_mean_one_and_sum_the_subset_size() -> None:
    gradients, labels = clustered([20, 10, 6, 4])
    selection = select_subset(gradients, labels, 0.1, "craig", 2)
    assert len(selection.positions) == 8
    assert float(selection.weights.sum()) == pytest.approx(8.0)
    # Each medoid stands for its cluster: weight = cluster size / mean cluster size (80 points / 8).
    assert sorted(selection.weights.tolist()) == pytest.approx(sorted([20 / 10, 10 / 10, 6 / 10, 4 / 10] * 2))
    for mode in ("random", "max_loss"):
        control = select_subset(gradients, labels, 0.1, mode, 2, losses=torch.rand(80), generator=torch.Generator())
        assert control.weights.tolist() == [1.0] * 8


def test_selection_is_per_class_even_when_classes_share_gradients() -> None:
    # Class 1's ten points sit on class 0's big cluster: selected across classes, class 1 would be
    # covered by class-0 points and class 0's medoid would absorb them.
    generator = torch.Generator().manual_seed(2)
    big, small = torch.randn(1, 4, generator=generator), torch.randn(1, 4, generator=generator)
    gradients = torch.cat([big + 0.01 * torch.randn(20, 4, generator=generator),
                           small + 0.01 * torch.randn(10, 4, generator=generator),
                           big + 0.01 * torch.randn(10, 4, generator=generator)])
    labels = torch.tensor([0] * 30 + [1] * 10)
    for mode in ("craig", "random", "max_loss"):
        selection = select_subset(gradients, labels, 0.2, mode, 2, losses=torch.rand(40), generator=torch.Generator())
        chosen = labels[selection.positions]
        assert torch.bincount(chosen, minlength=2).tolist() == [6, 2]
        if mode == "craig":  # weights count only points of the medoid's own class: 30 and 10 of 40, times |S| / N
            assert float(selection.weights[chosen == 0].sum()) == pytest.approx(30 * 8 / 40)
            assert float(selection.weights[chosen == 1].sum()) == pytest.approx(10 * 8 / 40)


def test_class_budgets_are_proportional_with_an_exact_total() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    # Quotas 14.5, 8.7, 5.8: floors 14 + 8 + 5, the two points left go to the largest remainders (0.8, 0.7);
    # 29 in all, though floor(0.29 * 100) is 28 in floating point.
    assert class_budgets(labels, 0.29, 3).tolist() == [14, 9, 6]
    assert class_budgets(labels, 1.0, 3).tolist() == [50, 30, 20]
    assert class_budgets(labels, 0.001, 3).tolist() == [1, 0, 0]  # at least one point
    assert class_budgets(torch.tensor([0, 0, 2]), 0.5, 4).tolist() == [1, 0, 0, 0]  # empty classes get none


def test_max_loss_takes_the_largest_losses_and_random_follows_its_generator() -> None:
    gradients, labels = clustered([5, 5])
    losses = torch.arange(20.0)
    chosen = select_subset(gradients, labels, 0.2, "max_loss", 2, losses=losses).positions
    assert sorted(chosen.tolist()) == [8, 9, 18, 19]
    draws = [select_subset(gradients, labels, 0.5, "random", 2, generator=torch.Generator().manual_seed(s)).positions
             for s in (0, 0, 1)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_the_gradient_proxy_is_the_logit_gradient_of_the_cross_entropy() -> None:
    logits = torch.randn(5, 4, requires_grad=True)
    labels = torch.tensor([0, 3, 1, 1, 2])
    nnf.cross_entropy(logits, labels, reduction="sum").backward()
    torch.testing.assert_close(last_layer_gradients(logits.detach(), labels), logits.grad)


# --- the method in the step loop -----------------------------------------------------------------


def test_selection_scores_the_whole_clean_stream_in_evaluation_mode() -> None:
    # Pitfall of the card: selecting on augmented inputs. The selection pass sees the stored
    # samples exactly (normalised), all of them, in evaluation mode; then the step trains.
    pool = digits_pool(60)
    model = Recorder()
    ctx = make_ctx(model, pool)
    method = coreset_aug(subset_fraction=0.2)
    method.setup(ctx)
    train_step(method, pool_batch(pool, torch.arange(20)), ctx)
    (scoring, selection_inputs, _), (training, _, _) = model.calls
    assert not scoring and training and model.training
    assert torch.equal(selection_inputs, normalize(pool.inputs))
    logs = ctx.log.means()
    assert logs["weight_sum"] == pytest.approx(12.0) and logs["subset_size"] == 12.0
    assert logs["coverage"] > 0


def test_step_trains_on_the_batch_plus_weighted_strong_copies_of_its_selected_samples() -> None:
    pool = digits_pool(60)
    model = Recorder()
    ctx = make_ctx(model, pool)
    method = coreset_aug(subset_fraction=0.3)
    method.setup(ctx)
    ctx.batch = pool_batch(pool, torch.arange(30), passes=2)
    ctx.epoch = 2
    selection = method.select(ctx)
    weights = torch.zeros(60).index_put_((selection.positions,), selection.weights)[:30]
    rows = weights.nonzero().squeeze(1)
    assert 0 < len(rows) < 30
    model.calls.clear()
    loss = method.training_step(ctx.batch, ctx).loss
    (_, inputs, logits), = model.calls
    part = ctx.batch["labeled"]
    strong = method.strong(part.inputs[rows], keys=stream_keys(part, 1)[rows], seed=ctx.seed)
    assert torch.equal(inputs, normalize(torch.cat([part.inputs, strong])))  # main set as stored + strong copies
    assert not torch.equal(strong, part.inputs[rows])
    labels = torch.cat([part.labels, part.labels[rows]])
    per_example = nnf.cross_entropy(logits, labels, reduction="none")
    expected = (per_example * torch.cat([torch.ones(30), weights[rows]])).sum() / (30 + len(rows))
    torch.testing.assert_close(loss, expected)
    assert not torch.allclose(weights[rows], torch.ones(len(rows)))  # CRAIG's weights, not all 1
    assert ctx.log.means()["augmented_share"] == pytest.approx(len(rows) / 30)


def test_unweighted_copies_count_once_and_still_log_the_weight_sum() -> None:
    pool = digits_pool(60)
    model = Recorder()
    ctx = make_ctx(model, pool)
    method = coreset_aug(subset_fraction=0.3, weighted=False)
    method.setup(ctx)
    ctx.batch = pool_batch(pool, torch.arange(60))
    rows = method.select(ctx).positions.sort().values
    loss = method.training_step(ctx.batch, ctx).loss
    _, _, logits = model.calls[-1]
    assert logits.shape[0] == 60 + 18
    torch.testing.assert_close(loss, nnf.cross_entropy(logits, torch.cat([pool.labels, pool.labels[rows]])))
    assert ctx.log.means()["weight_sum"] == pytest.approx(18.0)


def test_full_fraction_augments_every_sample_without_a_scoring_pass() -> None:
    pool = digits_pool(40)
    model = Recorder()
    ctx = make_ctx(model, pool)
    method = coreset_aug(subset_fraction=1.0)
    method.setup(ctx)
    for epoch in range(6):
        ctx.epoch = epoch
        train_step(method, pool_batch(pool, torch.arange(20), passes=epoch), ctx)
    assert all(training for training, _, _ in model.calls)  # no evaluation-mode pass: nothing to select
    assert {len(inputs) for _, inputs, _ in model.calls} == {40}
    assert ctx.log.means()["weight_sum"] == 40.0


def test_copies_are_drawn_afresh_each_epoch_in_one_call_per_pool_chunk() -> None:
    pool = digits_pool(40)
    model = Recorder()
    ctx = make_ctx(model, pool)
    method = coreset_aug(subset_fraction=0.5, reselect_every=100)
    calls = []
    strong = method.strong
    method.strong = lambda images, **kw: calls.append(len(images)) or strong(images, **kw)  # type: ignore[assignment]
    method.setup(ctx)
    for epoch in range(2):
        ctx.epoch = epoch
        for rows in (torch.arange(20), torch.arange(20, 40)):
            train_step(method, pool_batch(pool, rows, passes=epoch), ctx)
    assert calls == [20, 20]  # the 20 selected samples, once per epoch, not once per step
    training = [inputs for is_training, inputs, _ in model.calls if is_training]
    first, second = training[0], training[2]  # the batch of samples 0..19 in epochs 0 and 1
    assert len(first) == len(second) > 20
    assert torch.equal(first[:20], second[:20])  # the main set: as stored
    assert not torch.equal(first[20:], second[20:])  # the strong copies: a new draw (next pass's keys)


def test_reselects_every_R_epochs_in_the_phase_loop() -> None:
    # Pitfall of the card: forgetting to re-select. Selections at epochs 0, 3, 6 of 8.
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn",
        method={"type": "coreset_aug", "subset_fraction": 0.2, "reselect_every": 3}, seed=0,
        data=DataSpec(train_size=100, test_size=100), epochs=8, batch_size=50, evaluations=(),
    )
    result = train_run(spec)
    curves = {(epoch, name): value for _, epoch, name, value in result.curves}
    assert sorted(epoch for epoch, name in curves if name == "coverage") == [0, 3, 6]
    assert all(curves[(epoch, "weight_sum")] == pytest.approx(20.0) for epoch in (0, 3, 6))
    assert all(curves[(epoch, "augmented_share")] == pytest.approx(0.2) for epoch in range(8))
    assert 0 <= result.metrics["test_accuracy"] <= 1


def test_a_context_without_the_training_stream_is_one_line() -> None:
    ctx = make_ctx(Recorder())
    method = coreset_aug()
    method.setup(ctx)
    with pytest.raises(ConfigError, match=r"no 'labeled' pool .*pools=") as error:
        train_step(method, pool_batch(digits_pool(10), torch.arange(10)), ctx)
    assert "\n" not in str(error.value)


def test_pool_batches_give_every_stored_sample_in_order() -> None:
    pool = digits_pool(25, offset=100)
    ctx = make_ctx(Recorder(), pool)
    ctx.epoch = 4
    parts = list(ctx.pool_batches("labeled", batch_size=10))
    assert [len(part) for part in parts] == [10, 10, 5] and {part.passes for part in parts} == {4}
    assert torch.equal(torch.cat([part.inputs for part in parts]), pool.inputs)
    assert torch.equal(torch.cat([part.ids for part in parts]), pool.ids)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0, 0.0, -0.2, 1.5, math.nan, math.inf, True, "0.3", None])
def test_subset_fraction_outside_zero_one_is_one_line(fraction: object) -> None:
    with pytest.raises(ConfigError, match=r"subset_fraction=.* must be a number in \(0, 1\]") as error:
        coreset_aug(subset_fraction=fraction)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subset": "kmeans"}, r"subset='kmeans' is not a subset mode; choose from craig, random, max_loss"),
        ({"reselect_every": 0}, r"reselect_every=0 must be a positive number of epochs"),
        ({"reselect_every": 2.5}, r"reselect_every=2.5 must be a positive number of epochs"),
        ({"weighted": "yes"}, r"weighted='yes' must be true or false"),
        ({"strong": {"type": "RandomResizedCrop", "size": 4}}, r"make them the same size"),
        ({"fraction": 0.3}, r"fraction"),
    ],
)
def test_bad_options_are_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        coreset_aug(**options)
    assert "\n" not in str(error.value)
