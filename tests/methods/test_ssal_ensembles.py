"""Training ensembles with inliers and outliers (augbench/methods/ssal_ensembles.py, augbench/train/active.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.open_set import class_map, open_set_data
from augbench.data.streams import DataSpec, RunData, prepare_run_data
from augbench.errors import ConfigError
from augbench.methods import MethodContext, SSALEnsembles, build_method
from augbench.methods.ssal_ensembles import WeightedStep, entropy_weights, query_order, variation_ratio
from augbench.train.context import Batch, TrainContext
from augbench.train.loop import check_streams

DIGITS = MethodContext(10, (1, 8, 8))
OUTLIERS = [5, 6, 7, 8, 9]


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def ssal(**options: object) -> SSALEnsembles:
    method = build_method({"type": "ssal_ensembles", "outlier_classes": OUTLIERS, **options}, DIGITS)
    assert isinstance(method, SSALEnsembles)
    return method


@pytest.fixture(scope="module")
def digits_data() -> RunData:
    return prepare_run_data("digits", DataSpec(labeled_per_class=2, unlabeled="rest"), 0)


def tiny_spec(**options: object) -> RunSpec:
    method = {"type": "ssal_ensembles", "outlier_classes": OUTLIERS, "members": 2, "rounds": 2, "budget": 20,
              "semi_epochs": 1, "semi_batch_size": 256, **options}
    return RunSpec.create(dataset="digits", model={"type": "mlp", "hidden": [16]}, method=method, seed=0,
                          data=DataSpec(labeled_per_class=2, unlabeled="rest"), epochs=2, batch_size=32,
                          optimizer={"type": "adam", "lr": 1e-3}, schedule="constant", evaluations=())


# --- the formulas --------------------------------------------------------------------------------------------


def test_variation_ratio_on_a_fixed_ensemble() -> None:
    # 3 members, 3 samples, 3 classes. Sample 0: votes 0, 0, 1; sample 1: all vote 2; sample 2: the
    # majority votes 0 with low confidence, one member is very sure of 1, so mean-softmax says 1.
    logits = torch.tensor([
        [[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.2, 0.0, 0.0]],
        [[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.2, 0.0, 0.0]],
        [[0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [0.0, 9.0, 0.0]],
    ])
    vr, prediction = variation_ratio(logits)
    mean = logits.softmax(-1).mean(0)
    assert prediction.tolist() == mean.argmax(-1).tolist() == [0, 2, 1]
    votes = logits.argmax(-1)
    expected = (votes != prediction).float().mean(0)
    assert torch.allclose(vr, expected)
    assert vr.tolist() == pytest.approx([1 / 3, 0.0, 2 / 3])  # sample 2: disagreement with p_mean, not the vote


def test_one_member_has_zero_variation_ratio_and_queries_at_random() -> None:
    logits = torch.randn(1, 200, 6, generator=torch.Generator().manual_seed(0))
    vr, _ = variation_ratio(logits)
    assert torch.equal(vr, torch.zeros(200))
    one = ssal(members=1).query(logits, 1, torch.Generator().manual_seed(3))
    rand = ssal(members=1, acquisition="random").query(logits, 1, torch.Generator().manual_seed(3))
    assert torch.equal(one, rand)  # E = 1 is random acquisition (with the same outlier filter)
    other = ssal(members=1).query(logits, 1, torch.Generator().manual_seed(4))
    assert not torch.equal(one[:50], other[:50])  # the tie-break is random, not index order
    assert sorted(one.tolist()) == list(range(200))


def test_ties_prefer_samples_not_predicted_as_outliers_then_random() -> None:
    priority = torch.tensor([0.0, 0.4, 0.0, 0.0, 0.4, 0.0])
    outliers = torch.tensor([True, False, False, True, True, False])
    orders = {tuple(query_order(priority, outliers, torch.Generator().manual_seed(seed)).tolist()) for seed in range(20)}
    for order in orders:
        assert set(order[:2]) == {1, 4}  # highest priority first, flagged or not
        assert set(order[2:4]) == {2, 5} and set(order[4:]) == {0, 3}  # VR ties: unflagged first
    assert len(orders) > 1


def test_variation_ratio_acquisition_queries_disagreement_and_filters_outliers() -> None:
    method = ssal(members=2)  # C = 5 inliers, class 5 = outlier
    logits = torch.full((2, 4, 6), -5.0)
    logits[:, 0, 0] = 5.0                   # sample 0: both say class 0 (VR 0)
    logits[0, 1, 1], logits[1, 1, 2] = 5.0, 4.0  # sample 1: disagree (VR 0.5)
    logits[0, 2, 5], logits[1, 2, 3] = 6.0, 5.0  # sample 2: disagree, ensemble says outlier -> VR set to 0
    logits[:, 3, 5] = 5.0                   # sample 3: both say outlier
    order = method.query(logits, 1, torch.Generator().manual_seed(0))
    assert order[0] == 1 and order[1] == 0  # then the two predicted outliers
    assert set(order[2:].tolist()) == {2, 3}
    round0 = {tuple(method.query(logits, 0, torch.Generator().manual_seed(s)).tolist()) for s in range(20)}
    assert len(round0) > 2  # round 0 ignores VR and the filter


def test_entropy_weights_count_the_outlier_class() -> None:
    half = torch.tensor([[0.5, 0.5, 0.0]])  # two inliers + the outlier class: K = 3
    assert entropy_weights(half).item() == pytest.approx(1 - math.log(2) / math.log(3))
    assert entropy_weights(torch.full((1, 3), 1 / 3)).item() == pytest.approx(0.0, abs=1e-6)
    assert entropy_weights(torch.tensor([[0.0, 0.0, 1.0]])).item() == pytest.approx(1.0)
    labels, weights = ssal(members=2).pseudo_label(torch.log(torch.tensor([
        [[0.1, 0.1, 0.1, 0.1, 0.1, 0.5]], [[0.1, 0.1, 0.1, 0.1, 0.1, 0.5]]])))
    assert labels.tolist() == [5]  # the outlier class is a pseudo-label like any other
    p = torch.tensor([0.1] * 5 + [0.5])
    assert weights.item() == pytest.approx(1 + float((p * p.log()).sum()) / math.log(6), abs=1e-6)


def test_inlier_accuracy_uses_only_the_first_c_logits() -> None:
    class Fixed(nn.Module):
        def forward(self, inputs: Tensor) -> Tensor:
            logits = torch.zeros(inputs.shape[0], 6)
            logits[:, 2] = 1.0
            logits[:, 5] = 10.0  # the outlier logit wins over all 6
            return logits

    logits = ssal().predict(Fixed(), torch.zeros(3, 1, 8, 8), lambda x: x)
    assert logits.shape == (3, 5) and logits.argmax(1).tolist() == [2, 2, 2]


def test_weighted_step_weights_by_sample_id() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    ctx = TrainContext(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device=torch.device("cpu"),
                       num_classes=4, generator=torch.Generator(), normalize=lambda x: x.float() / 255, total_steps=1)
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    labels, ids = torch.tensor([0, 1, 2, 3]), torch.tensor([7, 3, 9, 1])
    ctx.batch = Batch.labeled(images, labels, ids)
    weights = torch.zeros(10)
    weights[ids[:2]] = torch.tensor([1.0, 0.5])
    step = WeightedStep(None, weights)
    step.setup(ctx)
    loss = step.training_step(ctx.batch, ctx).loss.detach()
    with torch.no_grad():
        per_sample = nn.functional.cross_entropy(ctx.model(ctx.normalize(images)), labels, reduction="none")
    assert loss.item() == pytest.approx(float((per_sample[0] + 0.5 * per_sample[1]) / 4), rel=1e-5)


# --- the open-set task and bad input -------------------------------------------------------------------------


def test_open_set_task(digits_data: RunData) -> None:
    task = open_set_data(digits_data, OUTLIERS, 0.5, seed=0)
    assert task.num_classes == 6 and task.class_names[-1] == "outlier" and len(task.class_names) == 6
    assert class_map(10, OUTLIERS).tolist() == [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]
    labeled, pool = task.streams["labeled"], task.streams["unlabeled"]
    assert labeled.labels.bincount().tolist() == [2] * 5  # the labeled stream's inliers only
    outliers = int((pool.labels == 5).sum())
    assert outliers == (len(pool) - outliers) and len(pool) > 1000  # 50 % outliers, all inliers kept
    assert set(pool.ids.tolist()).isdisjoint(labeled.ids.tolist())
    assert int(task.evals["test"].labels.max()) == 4  # the test split keeps inliers only
    assert len(open_set_data(digits_data, OUTLIERS, 0.2, seed=0).streams["unlabeled"]) < len(pool)
    assert open_set_data(digits_data, OUTLIERS, 0.5, seed=0, outlier_class=False).num_classes == 5


def test_budget_larger_than_the_pool_is_one_line(digits_data: RunData) -> None:
    with pytest.raises(ConfigError, match=r"rounds x budget = 5 x 400 = 2000 queries exceed the pool of \d+ samples.*lower budget"):
        ssal(budget=400).prepare_data(digits_data, 0)
    with pytest.raises(ConfigError, match="budget=0 must be an integer >= 1"):
        ssal(budget=0)


def test_no_outlier_or_pool_spec_is_one_line(digits_data: RunData) -> None:
    with pytest.raises(ConfigError, match="needs option 'outlier_classes'"):
        build_method({"type": "ssal_ensembles"}, DIGITS)
    with pytest.raises(ConfigError, match=r"outlier_classes=\[\] must list distinct classes"):
        ssal(outlier_classes=[])
    with pytest.raises(ConfigError, match="fewer than 2 inlier classes"):
        ssal(outlier_classes=list(range(1, 10)))
    with pytest.raises(ConfigError, match="needs the 'unlabeled' stream.*unlabeled: rest"):
        check_streams(ssal(), ("labeled",), "ssal_ensembles")
    no_pool = RunData({"labeled": digits_data.streams["labeled"]}, digits_data.evals, 10, (1, 8, 8), "image")
    with pytest.raises(ConfigError, match="needs an unlabeled pool; add unlabeled: rest"):
        ssal().prepare_data(no_pool, 0)
    with pytest.raises(ConfigError, match="filter_outliers needs the outlier class"):
        ssal(outlier_class=False)
    with pytest.raises(ConfigError, match="acquisition='entropy' is unknown"):
        ssal(acquisition="entropy")


# --- the protocol --------------------------------------------------------------------------------------------


class Recording(SSALEnsembles):
    """ssal_ensembles that records each member's weights when its training starts and the pool sizes."""

    instances: list[Recording] = []

    def prepare_data(self, data: RunData, seed: int) -> RunData:
        self.starts: list[tuple[bool, dict[str, Tensor]]] = []
        self.pool_sizes: list[int] = []
        Recording.instances.append(self)
        return super().prepare_data(data, seed)

    def member_step(self, weights: Tensor | None = None) -> WeightedStep:
        recorder = self

        class Step(WeightedStep):
            def setup(self, ctx: TrainContext) -> None:
                super().setup(ctx)
                recorder.starts.append((weights is None, {k: v.clone() for k, v in ctx.model.state_dict().items()}))

        return Step(self.augment, weights)

    def query(self, member_logits: Tensor, round_index: int, generator: torch.Generator) -> Tensor:
        self.pool_sizes.append(member_logits.shape[1])
        return super().query(member_logits, round_index, generator)


def _run_recording(tmp_path: Path, **options: object) -> tuple[Recording, dict[str, float]]:
    from augbench.methods import METHODS

    if "ssal_recording_test" not in METHODS:
        METHODS.register("ssal_recording_test")(Recording)
    result = train_run(tiny_spec(type="ssal_recording_test", **options), cache_dir=tmp_path)
    return Recording.instances[-1], result.metrics


def test_members_restart_from_the_same_initial_weights_every_round(tmp_path: Path) -> None:
    method, _ = _run_recording(tmp_path)
    fresh = [state for plain, state in method.starts if plain]
    assert len(fresh) == 1 + 2 + 2  # round 0 trains member 0 only; rounds 1-2 train both members
    for state in fresh[1:]:
        assert all(torch.equal(state[k], fresh[0][k]) for k in state)
    tuned = [state for plain, state in method.starts if not plain]  # fine-tuning starts from the trained member
    assert len(tuned) == 4 and not all(torch.equal(tuned[0][k], fresh[0][k]) for k in tuned[0])


def test_queried_samples_leave_the_pool(tmp_path: Path) -> None:
    method, metrics = _run_recording(tmp_path)
    assert method.pool_sizes[1] == method.pool_sizes[0] - 20  # round 1 queries from a pool without round 0's picks
    queried = method.active_record.queried_ids
    assert queried.shape == (2, 20) and bool((queried >= 0).all())
    assert len(set(queried.flatten().tolist())) == 40  # never queried twice
    assert 0.0 <= metrics["queried_inlier_rate"] <= 1.0 and 0.45 <= metrics["pool_inlier_rate"] <= 0.55


def test_run_stores_per_round_curves_and_a_cached_run_reports_the_same(tmp_path: Path) -> None:
    spec = tiny_spec()
    first = train_run(spec, cache_dir=tmp_path)
    second = train_run(spec, cache_dir=tmp_path)
    assert second.checkpoints[0].reused
    for name in ("inlier_accuracy", "inlier_accuracy_mean", "queried_inlier_rate", "pool_inlier_rate"):
        assert second.metrics[name] == first.metrics[name]
    assert first.metrics["test_accuracy"] == pytest.approx(first.metrics["inlier_accuracy"])  # first C logits
    rounds = {epoch for phase, epoch, name, _ in first.curves if name == "inlier_accuracy"}
    assert rounds == {0, 1, 2}
    assert {name for *_, name, _ in first.curves} >= {"queried_inlier_rate", "pool_inlier_rate",
                                                       "pseudo_label_accuracy", "pseudo_label_weight", "labeled_size"}


def test_discarding_outliers_keeps_only_queried_inliers(tmp_path: Path) -> None:
    result = train_run(tiny_spec(outlier_class=False, filter_outliers=False, pseudo_labels=False), cache_dir=None)
    sizes = {epoch: value for _, epoch, name, value in result.curves if name == "labeled_size"}
    rates = {epoch: value for _, epoch, name, value in result.curves if name == "queried_inlier_rate"}
    assert sizes[1] == pytest.approx(10 + 20 * rates[0]) and sizes[2] == pytest.approx(sizes[1] + 20 * rates[1])


def test_active_learning_evaluation_refuses_a_method_without_rounds() -> None:
    from augbench.evaluation import EVALUATIONS, EvalContext
    from augbench.methods.supervised import Supervised

    model = nn.Linear(2, 2)
    data = RunData({}, {}, 2, (2,), "timeseries")
    ctx = EvalContext(Supervised(), model, {}, data, lambda x: x, torch.device("cpu"), 0)
    with pytest.raises(ConfigError, match="needs an active-learning method that keeps an active_record"):
        EVALUATIONS.get("active_learning")(ctx)
