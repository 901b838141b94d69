"""Metrix and the contrastive baseline (card: shared/methods/mixing.md, Metrix).

The card's checklist: the clean contrastive loss (Euclidean distance of unit embeddings,
positives d, negatives [0.5 - d]+, averaged over non-zero terms); lambda = 1 reduces the mixed
loss to the clean positive term; the target is interpolated, not the distance; mixed pairs are
compared with the clean anchor; anchor-negative mixing never pairs an anchor with its own
class; positive-negative and anchor-negative steps alternate 50/50; feature, input and
embedding modes mix what they say; retrieval reads the embedding head on held-out classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.distributions import beta
from augbench.data.streams import DataSpec, RunData, Split, prepare_run_data
from augbench.errors import ConfigError
from augbench.evaluation import EVALUATIONS, EvalContext
from augbench.losses import contrastive_pair_loss, mixed_pair_loss
from augbench.methods import ContrastiveMetric, Metrix, MethodContext, build_method
from augbench.methods.metrix import metrix_triplets
from augbench.metrics import map_at_r, recall_at_k
from augbench.train.context import Batch, TrainContext

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def metrix(**options: object) -> Metrix:
    return build_method({"type": "metrix", **options}, MethodContext(10, (1, 8, 8)))


def _circle(degrees: list[float]) -> Tensor:
    angles = torch.deg2rad(torch.tensor(degrees, dtype=torch.float64))
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def _chord(degrees: float) -> float:
    return 2 * math.sin(math.radians(degrees) / 2)


# -- losses ----------------------------------------------------------------------------------------


def test_the_clean_contrastive_loss_by_hand() -> None:
    # class 0 at 0 and 20 degrees, class 1 at 40 and 180; unit vectors, so d = the chord
    embeddings = _circle([0, 20, 40, 180]) * torch.tensor([[1.0], [3.0], [0.5], [2.0]], dtype=torch.float64)
    positive = (_chord(20) + _chord(140)) / 2  # each unordered positive pair appears twice, same value
    negative = 0.5 - _chord(20)  # only 20 vs 40 degrees is inside the margin; the other negatives are 0
    loss = contrastive_pair_loss(embeddings, torch.tensor([0, 0, 1, 1]))
    assert loss.item() == pytest.approx(positive + negative, abs=1e-9)


def test_lambda_one_reduces_the_mixed_loss_to_the_clean_positive_term(make_context) -> None:
    """Card falsifier: at lam = 1 the mixed positive is the positive itself and L_mix is the
    clean positive term of those pairs (the negative part vanishes)."""
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    method = metrix(mode="embedding", mixing="positive_negative")
    triplets = metrix_triplets(labels, "positive_negative", generator)
    mixed = method.mixed_embeddings(make_context(), triplets, torch.tensor(1.0), None, None, embeddings)
    torch.testing.assert_close(mixed, nnf.normalize(embeddings[triplets.positives], dim=1))
    loss = mixed_pair_loss(embeddings[triplets.anchors], mixed, 1.0)
    # each anchor has exactly one positive here, so the pairs are the clean positive pairs (weighted by
    # the anchor's negatives, four each): the same mean as the clean loss's positive part
    clean_positive = contrastive_pair_loss(embeddings, labels, margin=1e-9)  # no negative inside this margin
    assert loss.item() == pytest.approx(clean_positive.item(), abs=1e-12)


def test_lambda_zero_is_the_negative_term_and_the_target_is_interpolated_not_the_distance() -> None:
    anchors = _circle([0, 0])
    mixed = _circle([20, 25])  # both inside the 0.5 margin
    d1, d2 = _chord(20), _chord(25)
    assert mixed_pair_loss(anchors, mixed, 0.0).item() == pytest.approx(((0.5 - d1) + (0.5 - d2)) / 2)
    lam = 0.25
    expected = lam * (d1 + d2) / 2 + (1 - lam) * ((0.5 - d1) + (0.5 - d2)) / 2
    assert mixed_pair_loss(anchors, mixed, lam).item() == pytest.approx(expected)
    # interpolating the distance instead, [lam * 0 + (1 - lam) * 0.5 - d]+, would give a different value
    assert expected != pytest.approx(0.375 - d1)  # only d1 = 0.347 is inside the interpolated margin 0.375


def test_zero_terms_do_not_dilute_the_mean() -> None:
    anchors = _circle([0, 0, 0])
    mixed = _circle([20, 0, 120])  # d = 0.347, 0, 1.73: one positive term is 0, two negative terms are 0
    loss = mixed_pair_loss(anchors, mixed, 0.5)
    # positive part: lam * d is non-zero for d = 0.347 and d = 1.73, averaged over those two;
    # negative part: (1 - lam) [0.5 - d]+ is non-zero for d = 0.347 and d = 0, averaged over those two
    expected = 0.5 * (_chord(20) + _chord(120)) / 2 + 0.5 * ((0.5 - _chord(20)) + 0.5) / 2
    assert loss.item() == pytest.approx(expected)


# -- pairs -----------------------------------------------------------------------------------------


LABELS = torch.tensor([3, 1, 3, 2, 1, 3, 7])  # class 2 and 7 have no positive


def test_anchor_negative_mixing_never_pairs_an_anchor_with_its_own_class() -> None:
    triplets = metrix_triplets(LABELS, "anchor_negative", torch.Generator().manual_seed(0))
    assert torch.equal(triplets.positives, triplets.anchors)  # the anchor itself is the positive side
    assert bool((LABELS[triplets.anchors] != LABELS[triplets.negatives]).all())
    expected = {(a, n) for a in range(7) for n in range(7) if LABELS[a] != LABELS[n]}
    assert set(zip(triplets.anchors.tolist(), triplets.negatives.tolist())) == expected


def test_positive_negative_mixing_uses_anchors_with_a_positive_and_random_positives() -> None:
    drawn = set()
    for seed in range(20):
        triplets = metrix_triplets(LABELS, "positive_negative", torch.Generator().manual_seed(seed))
        a, p, n = triplets
        assert bool((LABELS[a] == LABELS[p]).all()) and bool((a != p).all())
        assert bool((LABELS[a] != LABELS[n]).all())
        assert set(a.tolist()) == {0, 1, 2, 4, 5}  # classes 2 and 7 (one sample each) have no positive
        assert all(len(set(p[a == anchor].tolist())) == 1 for anchor in a.unique())  # one positive per anchor
        drawn.add(int(p[a == 0][0]))
    assert drawn == {2, 5}  # the positive of anchor 0 is drawn among its class, not always the first


def test_hardest_keeps_each_anchors_nearest_negative() -> None:
    embeddings = _circle([0, 10, 30, 200]).float()
    labels = torch.tensor([0, 0, 1, 1])
    distances = torch.cdist(embeddings, embeddings)
    a, _, n = metrix_triplets(labels, "anchor_negative", torch.Generator(), distances, hardest=1)
    assert dict(zip(a.tolist(), n.tolist())) == {0: 2, 1: 2, 2: 1, 3: 0}


# -- the method ------------------------------------------------------------------------------------


def _step_batch(digits, count: int = 40) -> Batch:
    keep = (digits.train_labels < 5).nonzero().squeeze(1)[:count]
    return Batch.labeled(digits.train_images[keep], digits.train_labels[keep], keep)


@pytest.mark.parametrize("mode", ["feature", "input", "embedding"])
def test_each_mode_mixes_its_own_tensor(mode: str, digits, make_context: Callable[..., TrainContext]) -> None:
    method = metrix(mode=mode)
    ctx = make_context()
    method.setup(ctx)
    ctx.batch = _step_batch(digits)
    inputs, features, embeddings, _ = method.clean_step(ctx.batch, ctx)
    triplets = metrix_triplets(ctx.batch["labeled"].labels, "positive_negative", torch.Generator().manual_seed(1))
    lam = torch.tensor(0.3)
    mixed = method.mixed_embeddings(ctx, triplets, lam, inputs, features, embeddings)
    p, n = triplets.positives, triplets.negatives
    head = ctx.modules["embedding"]
    expected = {
        "feature": lambda: head(0.3 * features[p] + 0.7 * features[n]),
        "input": lambda: head(ctx.model.forward_features(0.3 * inputs[p] + 0.7 * inputs[n])),
        "embedding": lambda: 0.3 * nnf.normalize(embeddings[p], dim=1) + 0.7 * nnf.normalize(embeddings[n], dim=1),
    }[mode]()
    assert mixed.shape == (len(p), 16)
    torch.testing.assert_close(mixed, expected, rtol=1e-5, atol=1e-5)
    assert features.ndim == 4  # feature mode blends the last conv map (B, 64, 4, 4), not a pooled vector
    if mode == "feature":  # the head's global max pooling makes it differ from mixing embeddings
        assert not torch.allclose(mixed, 0.3 * embeddings[p] + 0.7 * embeddings[n], atol=1e-4)


def test_steps_alternate_about_half_and_half_with_beta_two_lambdas(digits, make_context, train_step) -> None:
    method = metrix(mode="embedding")  # the cheapest mode: the draws are the same in every mode
    ctx = make_context()
    method.setup(ctx)
    batch = _step_batch(digits, 20)
    for _ in range(60):
        train_step(method, batch, ctx)
    means = ctx.log.means()
    assert 0.3 < means["positive_negative_steps"] < 0.7
    assert 0.4 < means["mean_lam"] < 0.6  # Beta(2, 2) has mean 1/2
    assert means["mixed_pairs"] > 0 and means["mixed_loss"] > 0
    for mixing, share in (("positive_negative", 1.0), ("anchor_negative", 0.0)):
        fixed = metrix(mixing=mixing, mode="embedding")
        fixed_ctx = make_context()
        fixed.setup(fixed_ctx)
        train_step(fixed, batch, fixed_ctx)
        assert fixed_ctx.log.means()["positive_negative_steps"] == share


def test_the_loss_is_clean_plus_weighted_mixed_against_the_clean_anchor(digits, make_context) -> None:
    method = metrix(mixing="anchor_negative", mix_weight=0.4)
    ctx = make_context()
    method.setup(ctx)
    ctx.batch = _step_batch(digits)
    state = ctx.generator.get_state()
    total = method.training_step(ctx.batch, ctx).loss
    ctx.generator.set_state(state)
    _, features, embeddings, clean = method.clean_step(ctx.batch, ctx)
    lam = beta(2.0, 2.0, (1,), ctx.generator)[0]
    triplets = metrix_triplets(ctx.batch["labeled"].labels, "anchor_negative", ctx.generator)
    mixed = ctx.modules["embedding"](torch.lerp(features[triplets.negatives], features[triplets.anchors], lam))
    expected = clean + 0.4 * mixed_pair_loss(embeddings[triplets.anchors], mixed, lam)
    torch.testing.assert_close(total, expected)
    assert metrix(mode="embedding").anchor_negative_weight == 0.3 and metrix().anchor_negative_weight == 0.4
    assert metrix(mode="input").hardest == 1 and metrix().hardest is None and metrix(negatives=3).hardest == 3


def test_training_pulls_classes_together(digits, make_context, fit) -> None:
    keep = digits.train_labels < 5
    digits_train = (digits.train_images, digits.train_labels)
    digits.train_images, digits.train_labels = digits.train_images[keep], digits.train_labels[keep]
    try:
        method = metrix()
        ctx = make_context()
        fit(method, ctx, 6)
    finally:
        digits.train_images, digits.train_labels = digits_train
    means = ctx.log.means()
    assert means["positive_distance"] < means["negative_distance"]
    test = digits.test_labels >= 5  # retrieval on classes never trained on
    embeddings = method.embed(ctx.model, digits.test_images[test], ctx.normalize)
    assert embeddings.shape == (int(test.sum()), 16)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(len(embeddings)))
    assert recall_at_k(embeddings, digits.test_labels[test], ks=(1,))[1] > 0.5  # chance is about 0.2


# -- protocol and evaluation -----------------------------------------------------------------------


PROTOCOL = DataSpec(train_classes=[0, 1, 2, 3, 4], test_classes=[5, 6, 7, 8, 9], train_size=150, test_size=200)


def test_a_run_reports_retrieval_of_the_embedding_on_held_out_classes(tmp_path) -> None:
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method={"type": "metrix", "mode": "input"}, label="m",
                          seed=0, data=PROTOCOL, epochs=1, batch_size=50, evaluations=())
    result = train_run(spec, cache_dir=tmp_path)
    for name in ("test_recall_at_1", "test_recall_at_2", "test_recall_at_4", "test_recall_at_8", "test_map_at_r"):
        assert 0.0 <= result.metrics[name] <= 1.0
    assert result.metrics["test_recall_at_1"] <= result.metrics["test_recall_at_8"]
    again = train_run(spec, cache_dir=tmp_path)  # the embedding head reloads from the phase cache
    assert again.checkpoints[0].reused and again.metrics["test_map_at_r"] == result.metrics["test_map_at_r"]


def _eval_context(method: ContrastiveMetric, ctx: TrainContext, data: RunData) -> EvalContext:
    return EvalContext(method, ctx.model, {}, data, ctx.normalize, torch.device("cpu"), 0)


def test_retrieval_ranks_the_method_embedding_not_forward_features(make_context) -> None:
    data = prepare_run_data("digits", PROTOCOL, seed=0)
    method = build_method("contrastive_metric", MethodContext(10, (1, 8, 8)))
    ctx = make_context()
    method.setup(ctx)
    metrics, _ = EVALUATIONS.get("retrieval")(_eval_context(method, ctx, data))
    test = data.evals["test"]
    embeddings = method.embed(ctx.model, test.inputs, ctx.normalize)
    assert metrics["test_map_at_r"] == map_at_r(embeddings, test.labels)
    assert metrics["test_recall_at_1"] == recall_at_k(embeddings, test.labels, ks=(1,))[1]
    assert set(metrics) == {f"test_recall_at_{k}" for k in (1, 2, 4, 8)} | {"test_map_at_r"}


def test_retrieval_refuses_a_class_with_one_sample(make_context) -> None:
    data = prepare_run_data("digits", PROTOCOL, seed=0)
    test = data.evals["test"]
    keep = torch.cat([(test.labels != 9).nonzero().squeeze(1), (test.labels == 9).nonzero()[0]])
    lonely = Split(test.inputs[keep], test.labels[keep], test.ids[keep], test.pool_size)
    data = RunData(data.streams, {"test": lonely}, data.num_classes, data.input_shape, data.modality)
    method = build_method("contrastive_metric", MethodContext(10, (1, 8, 8)))
    ctx = make_context()
    method.setup(ctx)
    with pytest.raises(ConfigError, match="retrieval: class 9 has fewer than 2 samples in the test split") as info:
        EVALUATIONS.get("retrieval")(_eval_context(method, ctx, data))
    assert len(str(info.value).splitlines()) == 1


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "pixels"}, "metrix: mode='pixels'; use one of feature, input, embedding"),
    ({"mixing": "both"}, "metrix: mixing='both'; use one of alternate, positive_negative, anchor_negative"),
    ({"alpha": 0}, r"metrix: alpha=0 must be a number > 0"),
    ({"mix_weight": -1}, "metrix: mix_weight=-1 must be a number >= 0"),
    ({"negatives": 0}, "metrix: negatives=0; use 'all', a count >= 1"),
    ({"embedding_dim": 0}, "metrix: embedding_dim=0 must be a positive integer"),
    ({"margin": 3}, r"metrix: margin=3 must be in \(0, 2\]"),
])
def test_bad_options_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        metrix(**options)
    assert len(str(info.value).splitlines()) == 1


def test_predict_is_refused_and_an_encoder_is_required(make_context) -> None:
    method = metrix()
    with pytest.raises(ConfigError, match="metrix learns an embedding, not a classifier; evaluate it with retrieval"):
        method.predict(None, torch.zeros(1, 1, 8, 8), lambda x: x)
    ctx = make_context()
    ctx.model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with pytest.raises(ConfigError, match="metrix: Sequential has no forward_features"):
        method.setup(ctx)
    with pytest.raises(ConfigError, match="contrastive_metric: the embedding head exists after setup"):
        build_method("contrastive_metric", MethodContext(10, (1, 8, 8))).head()


def test_bad_loss_inputs_are_one_line() -> None:
    with pytest.raises(Exception, match=r"labels must be \(3,\) integer class indices"):
        contrastive_pair_loss(torch.randn(3, 2), torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(Exception, match=r"lam=1.5 must lie in \[0, 1\]"):
        mixed_pair_loss(torch.randn(3, 2), torch.randn(3, 2), 1.5)
    with pytest.raises(Exception, match="margin=0 must be in"):
        contrastive_pair_loss(torch.randn(3, 2), torch.tensor([0, 1, 1]), margin=0)
