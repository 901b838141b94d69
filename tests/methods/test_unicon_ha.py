"""UniCon-HA (card: shared/methods/contrastive.md, UniCon-HA).

The card's checklist: 2 views per rotation in {0, 90, 180, 270} from one keyed call per head,
exact quarter turns; soft aggregation weights (softmax of the mean similarity to the other
inlier views); weighted SupCon over the upright views as one class plus NT-Xent over the
rotated views, inliers and outliers negatives of each other (a rotated view is never a positive
of its original); heads at several depths with crops that get stronger with depth; a
feature-similarity anomaly score; ``rotations: false`` removes the outlier term.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec, Split
from augbench.errors import ConfigError
from augbench.methods import MethodContext, UniConHA, build_method
from augbench.methods.unicon_ha import aggregation_weights, unilateral_contrastive_loss
from augbench.models import ConvNet
from augbench.train.context import Batch, StreamBatch, TrainContext

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = {"type": "convnet", "base_channels": 4}


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:64], dataset.labels[:64]


def unicon(**options: object) -> UniConHA:
    return build_method({"type": "unicon_ha", "heads": [2, 5], **options}, MethodContext(10, (1, 8, 8)))


def context(method: UniConHA, pool: Tensor | None = None, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4)
    pools = {} if pool is None else {
        "labeled": Split(pool, torch.zeros(len(pool), dtype=torch.long), torch.arange(len(pool)), len(pool))
    }
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 255.0 - 0.3, 100,
                       seed=seed, pools=pools)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, ids: Tensor, passes: int = 0) -> Batch:
    labels = torch.zeros(len(images), dtype=torch.long)
    return Batch({"labeled": StreamBatch(images, labels, ids, passes=passes, pool_size=1000)})


def random_embeddings(rows: int, seed: int = 0, width: int = 16) -> Tensor:
    return torch.randn(rows, width, generator=torch.Generator().manual_seed(seed))


# -- the loss -----------------------------------------------------------------------------------


def test_aggregation_weights_are_a_softmax_of_the_mean_similarity_to_the_other_views() -> None:
    z = random_embeddings(6)
    weights = aggregation_weights(z, temperature=0.5)
    unit = nnf.normalize(z, dim=1)
    mean_to_others = torch.stack([
        torch.stack([unit[i] @ unit[j] for j in range(6) if j != i]).mean() for i in range(6)
    ])
    assert torch.allclose(weights, torch.softmax(mean_to_others / 0.5, 0), atol=1e-6)
    assert math.isclose(float(weights.sum()), 1.0, rel_tol=1e-6)
    assert bool((weights > 0).all())


def test_a_drifted_view_gets_the_least_weight_and_equal_views_uniform_weights() -> None:
    cluster = torch.tensor([[1.0, 0.0, 0.0]]).repeat(5, 1) + 0.01 * random_embeddings(5, width=3)
    drifted = torch.cat([cluster, torch.tensor([[0.0, 1.0, 0.0]])])
    weights = aggregation_weights(drifted, temperature=0.1)
    assert int(weights.argmin()) == 5 and float(weights[5]) < 0.5 / 6
    assert torch.allclose(aggregation_weights(torch.ones(4, 3), 0.1), torch.full((4,), 0.25))
    assert torch.allclose(aggregation_weights(cluster, 1e6), torch.full((5,), 0.2), atol=1e-5)  # hot: uniform


def test_uniform_weights_give_plain_supcon_with_one_class_and_the_outliers_in_the_denominator() -> None:
    inliers, outliers = random_embeddings(4, 1), random_embeddings(12, 2)
    _, inlier_loss, _ = unilateral_contrastive_loss(inliers, outliers, 0.5, weight_temperature=1e9)
    z = nnf.normalize(torch.cat([inliers, outliers]), dim=1)
    logits = (z @ z.T / 0.5).fill_diagonal_(float("-inf"))
    expected = torch.stack([
        -torch.stack([logits[i].log_softmax(0)[p] for p in range(4) if p != i]).mean() for i in range(4)
    ]).mean()
    assert torch.allclose(inlier_loss, expected, atol=1e-5)


def test_outlier_positive_is_the_other_view_of_the_same_rotated_image() -> None:
    batch_size = 3
    inliers = random_embeddings(2 * batch_size, 3)
    basis = torch.eye(16)[: 3 * batch_size]  # 9 rotated images, orthogonal to each other
    outliers = torch.cat([torch.cat([basis[r * batch_size:(r + 1) * batch_size]] * 2) for r in range(3)])
    _, _, matched = unilateral_contrastive_loss(inliers, outliers, 0.1, 0.5)
    swapped = outliers.clone()
    swapped[batch_size:2 * batch_size] = outliers[batch_size:2 * batch_size].roll(1, 0)  # wrong pairs in block 0
    _, _, mismatched = unilateral_contrastive_loss(inliers, swapped, 0.1, 0.5)
    assert float(matched) < 0.5 < float(mismatched)


def test_a_rotated_view_identical_to_its_original_raises_the_loss() -> None:
    """Rotated inliers are negatives: pulling a rotated view onto its upright original hurts."""
    batch_size = 4
    cluster = torch.zeros(2 * batch_size, 32)
    cluster[:, 0] = 1.0
    inliers = cluster + 0.1 * random_embeddings(2 * batch_size, 4, width=32)  # a tight inlier cluster
    directions = torch.eye(32)[1 : 1 + 3 * batch_size]  # each rotated image its own direction, both views
    outliers = torch.cat([torch.cat([directions[r * batch_size:(r + 1) * batch_size]] * 2) for r in range(3)])
    outliers = outliers + 0.1 * random_embeddings(6 * batch_size, 5, width=32)
    loss, inlier_loss, outlier_loss = unilateral_contrastive_loss(inliers, outliers, 0.5, 0.5)
    for rotated in (0, batch_size, 2 * batch_size + 1):  # view 1 and view 2 of rotation 1, a view of rotation 2
        copied = outliers.clone()
        copied[rotated] = inliers[rotated % (2 * batch_size)]
        raised, raised_inlier, raised_outlier = unilateral_contrastive_loss(inliers, copied, 0.5, 0.5)
        assert float(raised) > float(loss)
        assert float(raised_inlier) > float(inlier_loss) and float(raised_outlier) > float(outlier_loss)
    shuffled_in, shuffled_out = random_embeddings(8, 6), random_embeddings(24, 7)  # any embeddings: inliers rise
    _, base, _ = unilateral_contrastive_loss(shuffled_in, shuffled_out, 0.5, 0.5)
    for rotated in range(24):
        copied = shuffled_out.clone()
        copied[rotated] = shuffled_in[rotated % 8]
        assert float(unilateral_contrastive_loss(shuffled_in, copied, 0.5, 0.5)[1]) > float(base)


def test_the_loss_gradient_pushes_rotated_views_away_from_the_inliers() -> None:
    inliers = random_embeddings(4, 6)
    outliers = random_embeddings(12, 7).requires_grad_(True)
    loss, _, _ = unilateral_contrastive_loss(inliers, outliers, 0.5, 0.5)
    loss.backward()
    step = outliers - 0.05 * outliers.grad
    unit = nnf.normalize(inliers, dim=1)
    before = (nnf.normalize(outliers.detach(), dim=1) @ unit.T).mean()
    after = (nnf.normalize(step.detach(), dim=1) @ unit.T).mean()
    assert float(after) < float(before)


def test_without_outliers_the_outlier_term_is_zero() -> None:
    inliers = random_embeddings(6, 8)
    loss, inlier_loss, outlier_loss = unilateral_contrastive_loss(inliers, inliers[:0], 0.5, 0.5)
    assert float(outlier_loss) == 0.0 and torch.equal(loss, inlier_loss)


def test_bad_loss_inputs_raise_one_line() -> None:
    with pytest.raises(Exception, match="must be"):
        unilateral_contrastive_loss(random_embeddings(3), random_embeddings(6), 0.5, 0.5)
    with pytest.raises(Exception, match="temperature"):
        aggregation_weights(random_embeddings(3), 0.0)


# -- views, heads, training step ----------------------------------------------------------------


def test_views_are_one_keyed_call_per_head_with_exact_quarter_turns(digits: tuple[Tensor, Tensor]) -> None:
    images, _ = digits
    method = unicon(crop_scales=[1.0, 1.0])
    calls: list[tuple[int, Tensor]] = []
    for index, pipeline in enumerate(method.augments):
        def recording(inputs: Tensor, generator: object = None, *, keys: Tensor, seed: int, _p=pipeline) -> Tensor:
            calls.append((inputs.shape[0], keys.clone()))
            return _p(inputs, keys=keys, seed=seed)
        method.augments = tuple(recording if i == index else a for i, a in enumerate(method.augments))
    ctx = context(method)
    ctx.batch = batch(images[:5], torch.arange(10, 15))
    views = [method.views(ctx, head) for head in range(2)]
    assert len(calls) == 2 and all(size == 40 for size, _ in calls)  # 8 views of 5 images per head, one call each
    assert torch.equal(calls[0][1], torch.cat([ctx.keys("labeled", v) for v in range(8)]))
    assert torch.equal(calls[1][1], torch.cat([ctx.keys("labeled", v) for v in range(8, 16)]))
    upright = images[:5].repeat(2, 1, 1, 1)  # a crop of area 1 keeps the image, so block r is the turned image
    for r in range(4):
        assert torch.equal(views[0][10 * r: 10 * (r + 1)], torch.rot90(upright, r, dims=(-2, -1)))


def test_deeper_heads_get_stronger_crops_and_sit_after_their_stages() -> None:
    method = unicon(crop_scales=[0.7, 0.25])
    assert [a.scale for a in method.augments] == [(0.7, 1.0), (0.25, 1.0)]
    ctx = context(method)
    assert method.points == (2, 5) and set(ctx.modules) == {"head2", "head5"}
    assert ctx.modules["head2"][0].in_features == 8 and ctx.modules["head5"][0].in_features == 32  # 2c and 8c
    default = build_method({"type": "unicon_ha"}, MethodContext(10, (1, 8, 8)))
    assert context(default).modules.keys() == {"head4", "head5"}  # the last stages by default


def test_training_step_trains_heads_and_encoder_and_never_reads_labels(digits: tuple[Tensor, Tensor]) -> None:
    images, _ = digits
    method = unicon()
    ctx = context(method)
    step = batch(images[:8], torch.arange(8))
    ctx.batch = step
    loss = method.training_step(step, ctx).loss
    relabeled = Batch({"labeled": StreamBatch(images[:8], torch.arange(8), torch.arange(8), pool_size=1000)})
    ctx.batch = relabeled
    assert torch.allclose(method.training_step(relabeled, ctx).loss, loss)
    loss.backward()
    assert ctx.model.stages["block1"][0].weight.grad.abs().sum() > 0
    assert all(p.grad is not None for name in ("head2", "head5") for p in ctx.modules[name].parameters())
    assert ctx.model.head.weight.grad is None
    means = ctx.log.means()
    assert {"inlier_loss", "outlier_loss", "inlier_nn_accuracy", "outlier_positive_accuracy", "weight_spread"} <= set(means)


def test_no_rotation_option_removes_the_outlier_views_and_term(digits: tuple[Tensor, Tensor]) -> None:
    images, _ = digits
    method = unicon(rotations=False)
    ctx = context(method)
    ctx.batch = batch(images[:6], torch.arange(6))
    assert method.views(ctx, 0).shape == (12, 1, 8, 8)  # 2 upright views per image only
    assert method.key_views == ((0, 1), (2, 3))
    method.training_step(ctx.batch, ctx)
    assert ctx.log.means()["outlier_loss"] == 0.0


# -- scoring ------------------------------------------------------------------------------------


def test_anomaly_score_is_minus_the_max_cosine_to_the_training_features(digits: tuple[Tensor, Tensor]) -> None:
    images, _ = digits
    method = unicon()
    ctx = context(method, pool=images[:20])
    ctx.model.eval()
    scores = method.anomaly_score(ctx.model, images[:30], ctx.normalize)
    bank = nnf.normalize(ctx.model.forward_features(ctx.normalize(images[:20])).flatten(1), dim=1)
    queries = nnf.normalize(ctx.model.forward_features(ctx.normalize(images[:30])).flatten(1), dim=1)
    assert torch.allclose(scores, -(queries @ bank.T).amax(1), atol=1e-5)
    assert torch.allclose(scores[:20], torch.full((20,), -1.0), atol=1e-5)  # training samples are their own match
    heads = unicon(score="heads")
    heads_ctx = context(heads, pool=images[:20])
    assert heads.anomaly_score(heads_ctx.model, images[:30], heads_ctx.normalize).shape == (30,)
    assert set(heads.bank.names) == {"head2", "head5"}


def test_anomaly_score_without_a_bank_and_predict_are_refused(digits: tuple[Tensor, Tensor]) -> None:
    method = unicon()
    ctx = context(method)
    with pytest.raises(ConfigError, match="labeled pool"):
        method.anomaly_score(ctx.model, digits[0][:4], ctx.normalize)
    with pytest.raises(ConfigError, match="one_class_auroc"):
        method.predict(ctx.model, digits[0][:4], ctx.normalize)


@pytest.mark.parametrize(("options", "match"), [
    ({"temperature": 0}, "temperature"),
    ({"crop_scales": [0.3, 0.6]}, "increase with depth"),
    ({"crop_scales": []}, "crop_scales"),
    ({"heads": [2]}, "heads"),
    ({"heads": [5, 2]}, "increasing"),
    ({"score": "norm"}, "score"),
    ({"rotations": "yes"}, "true or false"),
    ({"outlier_weight": -1}, "outlier_weight"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        unicon(**options)


def test_heads_outside_the_model_and_non_square_images_are_refused() -> None:
    with pytest.raises(ConfigError, match="do not fit"):
        context(unicon(heads=[2, 6]))
    with pytest.raises(ConfigError, match="square"):
        build_method({"type": "unicon_ha"}, MethodContext(10, (1, 8, 12)))


def test_end_to_end_one_class_run_scores_and_reloads_its_bank_from_the_cache(tmp_path: Path) -> None:
    spec = RunSpec.create(
        dataset="digits", model=TINY, method={"type": "unicon_ha", "heads": [2, 5]}, seed=0, epochs=2,
        batch_size=32, data=DataSpec(train_size=600, val_size=100, inlier_class=1), evaluations=(),
    )
    first = train_run(spec, cache_dir=tmp_path)
    assert {"test_one_class_auroc", "test_one_class_knn_auroc", "val_one_class_auroc"} <= set(first.metrics)
    assert 0.5 < first.metrics["test_one_class_auroc"] <= 1.0
    again = train_run(spec, cache_dir=tmp_path)
    assert again.checkpoints[0].reused
    assert again.metrics["test_one_class_auroc"] == first.metrics["test_one_class_auroc"]
