"""FixMatch card (augbench/methods/fixmatch.py): confident weak-view pseudo-labels train the strong view."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.methods import FixMatch, MethodContext, build_method
from augbench.models import HarnessCNN
from augbench.policies.build import build_transform
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step
from augbench.testing import Recorder

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
POOL = 1797


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def fixmatch(**options: object) -> FixMatch:
    method = build_method({"type": "fixmatch", **options}, DIGITS)
    assert isinstance(method, FixMatch)
    return method


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def make_ctx(model: nn.Module, norm: Callable[[Tensor], Tensor] = normalize) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=norm,
        total_steps=10,
        seed=3,
    )


def stream(inputs: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> StreamBatch:
    return StreamBatch(inputs, labels, ids, passes=passes, pool_size=POOL)


def digits_batch(labeled: int = 8, unlabeled: int = 16, passes: int = 0) -> Batch:
    data = load_dataset("digits")
    unlabeled_ids = torch.arange(100, 100 + unlabeled)
    return Batch({
        "labeled": stream(data.inputs[:labeled], data.labels[:labeled], torch.arange(labeled)),
        "unlabeled": stream(data.inputs[unlabeled_ids], data.labels[unlabeled_ids], unlabeled_ids, passes),
    })


def step_loss(method: FixMatch, batch: Batch, ctx: TrainContext) -> Tensor:
    ctx.batch = batch
    return method.training_step(batch, ctx).loss


class Logits(nn.Module):
    """A model whose logits are its inputs times a trainable scale: the test chooses every logit."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, inputs: Tensor) -> Tensor:
        return self.scale * inputs.flatten(1)


def logit_batch(unlabeled_logits: Tensor, unlabeled_labels: Tensor | None = None) -> Batch:
    """Inputs that are the logits themselves (``(B, 1, 1, K)``), two labeled samples of class 0."""
    labeled = torch.zeros(2, 1, 1, 4)
    unlabeled = unlabeled_logits.view(-1, 1, 1, 4)
    count = unlabeled.shape[0]
    labels = torch.zeros(count, dtype=torch.int64) if unlabeled_labels is None else unlabeled_labels
    return Batch({
        "labeled": stream(labeled, torch.zeros(2, dtype=torch.int64), torch.arange(2)),
        "unlabeled": stream(unlabeled, labels, torch.arange(10, 10 + count)),
    })


# --- the loss ----------------------------------------------------------------------------------


def test_unlabeled_loss_divides_by_mu_b_not_by_the_kept_count() -> None:
    # Two confident samples (p = e^2 / (e^2 + 3) = 0.71 >= 0.5) and two uniform ones (p = 0.25).
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    method = FixMatch(threshold=0.5, weak=None, strong=None)
    ctx = make_ctx(Logits(), norm=lambda inputs: inputs)
    method.setup(ctx)
    loss = step_loss(method, logit_batch(logits), ctx)
    supervised = math.log(4)  # labeled logits are all zero
    per_sample = -math.log(math.e**2 / (math.e**2 + 3))  # CE of a kept sample against its argmax
    unlabeled = loss.item() - supervised
    assert unlabeled == pytest.approx(per_sample * 2 / 4, rel=1e-5)  # half of the kept samples' mean
    assert unlabeled != pytest.approx(per_sample, rel=1e-2)  # what normalising by the kept count gives
    assert ctx.log.means()["mask_rate"] == 0.5


def test_lambda_u_weighs_the_unlabeled_term() -> None:
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 0, 0, 0]])
    losses = []
    for lambda_u in (0.0, 1.0, 3.0):
        method = FixMatch(threshold=0.5, lambda_u=lambda_u, weak=None, strong=None)
        ctx = make_ctx(Logits(), norm=lambda inputs: inputs)
        method.setup(ctx)
        losses.append(step_loss(method, logit_batch(logits), ctx).item())
    assert losses[0] == pytest.approx(math.log(4))
    assert losses[2] - losses[0] == pytest.approx(3 * (losses[1] - losses[0]), rel=1e-5)


def test_loss_is_the_card_formula_on_one_concatenated_forward_pass() -> None:
    model, batch = Recorder(harness()), digits_batch()
    ctx = make_ctx(model)
    ctx.batch = batch
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    weak, strong = build_transform(fixmatch().spec["weak"]), build_transform(fixmatch().spec["strong"])
    labeled_weak = weak(labeled.inputs, keys=ctx.keys("labeled", 0), seed=ctx.seed)
    unlabeled_weak = weak(unlabeled.inputs, keys=ctx.keys("unlabeled", 0), seed=ctx.seed)
    unlabeled_strong = strong(unlabeled.inputs, keys=ctx.keys("unlabeled", 1), seed=ctx.seed)
    with torch.no_grad():
        inner = model.model
        confidence, pseudo = inner(normalize(unlabeled_weak)).softmax(1).max(1)
        ranked = confidence.sort().values
        threshold = ((ranked[7] + ranked[8]) / 2).item()  # half the samples pass, with a margin
        mask = (confidence >= threshold).float()
        per_sample = nnf.cross_entropy(inner(normalize(unlabeled_strong)), pseudo, reduction="none")
        expected = nnf.cross_entropy(inner(normalize(labeled_weak)), labeled.labels) + (per_sample * mask).sum() / 16
    assert 0 < mask.sum() < 16  # the test exercises a partial mask

    method = fixmatch(threshold=threshold)
    method.setup(ctx)
    loss = step_loss(method, batch, ctx)
    assert model.calls == 1  # labeled and unlabeled share one forward pass
    assert torch.equal(model.inputs, normalize(torch.cat([labeled_weak, unlabeled_weak, unlabeled_strong])))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_threshold_one_masks_everything_and_zero_keeps_everything() -> None:
    batch = digits_batch()
    results = {}
    for threshold in (1.0, 0.0):
        method = fixmatch(threshold=threshold)
        model = Recorder(harness())
        ctx = make_ctx(model)
        method.setup(ctx)
        results[threshold] = (step_loss(method, batch, ctx), model, ctx.log.means())
    loss, model, logs = results[1.0]
    labeled_logits, _, strong_logits = model.logits.detach().split([8, 16, 16])
    supervised = nnf.cross_entropy(labeled_logits, batch["labeled"].labels)
    assert logs["mask_rate"] == 0.0 and logs["unlabeled_loss"] == 0.0
    torch.testing.assert_close(loss, supervised)

    loss, model, logs = results[0.0]
    labeled_logits, weak_logits, strong_logits = model.logits.detach().split([8, 16, 16])
    everything = nnf.cross_entropy(strong_logits, weak_logits.argmax(1))  # mean over all mu*B samples
    assert logs["mask_rate"] == 1.0
    torch.testing.assert_close(loss, nnf.cross_entropy(labeled_logits, batch["labeled"].labels) + everything)


def test_pseudo_labels_come_from_the_weak_view_and_carry_no_gradient() -> None:
    method = fixmatch(threshold=0.0)
    model = Recorder(harness())
    ctx = make_ctx(model)
    method.setup(ctx)
    batch = digits_batch()
    loss = step_loss(method, batch, ctx)
    labeled_logits, weak_logits, strong_logits = model.logits.detach().split([8, 16, 16])
    from_weak = nnf.cross_entropy(strong_logits, weak_logits.argmax(1))
    from_strong = nnf.cross_entropy(strong_logits, strong_logits.argmax(1))
    supervised = nnf.cross_entropy(labeled_logits, batch["labeled"].labels)
    assert not torch.equal(weak_logits.argmax(1), strong_logits.argmax(1))  # the two choices differ here
    torch.testing.assert_close(loss, supervised + from_weak)
    assert not torch.allclose(loss, supervised + from_strong)

    loss.backward()
    labeled_grad, weak_grad, strong_grad = model.logits.grad.split([8, 16, 16])
    assert torch.count_nonzero(weak_grad) == 0  # stop-gradient: the targets do not learn
    assert torch.count_nonzero(labeled_grad) > 0 and torch.count_nonzero(strong_grad) > 0


def test_unlabeled_labels_never_reach_the_loss() -> None:
    batch = digits_batch()
    unlabeled = batch["unlabeled"]
    relabeled = Batch({"labeled": batch["labeled"], "unlabeled": stream(
        unlabeled.inputs, (unlabeled.labels + 3) % NUM_CLASSES, unlabeled.ids)})
    losses, grads = [], []
    for each in (batch, relabeled):
        method, model = fixmatch(threshold=0.3), harness()
        ctx = make_ctx(model)
        method.setup(ctx)
        loss = step_loss(method, each, ctx)
        loss.backward()
        losses.append(loss)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.equal(losses[0], losses[1]) and torch.equal(grads[0], grads[1])


# --- keyed views --------------------------------------------------------------------------------


def model_inputs(method: FixMatch, batch: Batch) -> Tensor:
    model = Recorder(harness())
    ctx = make_ctx(model, norm=lambda images: images.float())
    method.setup(ctx)
    step_loss(method, batch, ctx)
    return model.inputs


def test_views_are_keyed_per_sample_and_weak_differs_from_strong() -> None:
    method = fixmatch()
    batch = digits_batch()
    first = model_inputs(method, batch)
    assert torch.equal(first, model_inputs(method, batch))  # same keys -> same views
    labeled, weak, strong = first.split([8, 16, 16])
    assert all(not torch.equal(weak[b], strong[b]) for b in range(16))  # every sample: two different views

    ctx = make_ctx(harness())
    ctx.batch = batch
    weak_transform = build_transform(method.spec["weak"])
    expected = weak_transform(batch["labeled"].inputs, keys=ctx.keys("labeled", 0), seed=ctx.seed).float()
    assert torch.equal(labeled, expected)  # the labeled batch gets the weak view, never the strong one

    order = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    unlabeled = batch["unlabeled"]
    shuffled = Batch({"labeled": batch["labeled"], "unlabeled": stream(
        unlabeled.inputs[order], unlabeled.labels[order], unlabeled.ids[order])})
    _, weak_shuffled, strong_shuffled = model_inputs(method, shuffled).split([8, 16, 16])
    assert torch.equal(weak_shuffled, weak[order]) and torch.equal(strong_shuffled, strong[order])

    _, weak_next, strong_next = model_inputs(method, digits_batch(passes=1)).split([8, 16, 16])
    assert not torch.equal(strong_next, strong) and not torch.equal(weak_next, weak)  # a new pass, new draws


def test_one_image_under_different_ids_gets_different_strong_views() -> None:
    image = load_dataset("digits").inputs[:1].expand(16, -1, -1, -1).contiguous()
    batch = Batch({
        "labeled": stream(image[:2], torch.zeros(2, dtype=torch.int64), torch.arange(2)),
        "unlabeled": stream(image, torch.zeros(16, dtype=torch.int64), torch.arange(100, 116)),
    })
    strong = model_inputs(fixmatch(), batch)[18:]
    assert len({tuple(view.flatten().tolist()) for view in strong}) > 12


# --- the EMA evaluation model ------------------------------------------------------------------


def test_ema_follows_the_online_model_and_is_what_evaluation_uses() -> None:
    method = fixmatch(threshold=0.3, ema_momentum=0.75)
    ctx = make_ctx(harness())
    method.setup(ctx)
    initial = [p.detach().clone() for p in ctx.model.parameters()]
    train_step(method, digits_batch(), ctx)
    ema = method.eval_model(ctx.model)
    assert ema is ctx.modules["ema"] and ema is not ctx.model
    assert not ema.training and not any(p.requires_grad for p in ema.parameters())
    for start, online, averaged in zip(initial, ctx.model.parameters(), ema.parameters(), strict=True):
        torch.testing.assert_close(averaged, 0.75 * start + 0.25 * online.detach())
    assert not all(torch.equal(a, b) for a, b in zip(ema.parameters(), ctx.model.parameters()))


def test_eval_model_before_setup_is_one_line() -> None:
    with pytest.raises(ConfigError, match="setup") as error:
        fixmatch().eval_model(harness())
    assert "\n" not in str(error.value)


# --- logs ---------------------------------------------------------------------------------------


def test_pseudo_label_accuracy_is_over_the_kept_samples_of_the_epoch() -> None:
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    # Pseudo-labels: 0, 1 (kept), 0, 0 (dropped); true labels 0, 3, 0, 0 -> kept 1/2, all 3/4.
    labels = torch.tensor([0, 3, 0, 0])
    method = FixMatch(threshold=0.5, weak=None, strong=None)
    ctx = make_ctx(Logits(), norm=lambda inputs: inputs)
    method.setup(ctx)
    step_loss(method, logit_batch(logits, labels), ctx)
    step_loss(method, logit_batch(torch.zeros(4, 4), labels), ctx)  # nothing kept in the second step
    method.on_epoch_end(ctx)
    logs = ctx.log.means()
    assert logs["pseudo_label_accuracy"] == 0.5
    assert logs["pseudo_label_accuracy_all"] == pytest.approx((3 / 4 + 3 / 4) / 2)
    assert logs["mask_rate"] == 0.25
    step_loss(method, logit_batch(torch.zeros(4, 4), labels), ctx)
    method.on_epoch_end(ctx)
    assert "pseudo_label_accuracy" not in ctx.log.means()  # undefined when nothing passed the mask


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"lambda_u": -1.0}, "lambda_u"),
        ({"lambda_u": float("nan")}, "lambda_u"),
        ({"ema_momentum": 1.2}, "ema_momentum"),
        ({"weak": {"type": "RandomResizedCrop", "size": 6}}, "weak view"),
    ],
)
def test_bad_options_fail_in_one_line(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        fixmatch(**options)
    assert "\n" not in str(error.value)


def test_defaults_are_the_papers() -> None:
    spec = fixmatch().spec
    assert (spec["threshold"], spec["lambda_u"], spec["ema_momentum"]) == (0.95, 1.0, 0.999)
    weak = {key: spec["weak"][key] for key in ("type", "degrees", "translate")}  # the rest: RandomAffine's defaults
    assert weak == {"type": "RandomAffine", "degrees": 0, "translate": [0.125, 0.125]}
    strong = spec["strong"]["transforms"][0]  # RandAugment, 2 ops, magnitude uniform in [0, 10] per op
    assert {key: strong[key] for key in ("type", "num_ops", "magnitude", "num_magnitude_bins")} == {
        "type": "RandAugment", "num_ops": 2, "magnitude": 10, "num_magnitude_bins": 11}
    assert strong["magnitude_std"] == float("inf")


# --- end to end ---------------------------------------------------------------------------------


def tiny_run(data: DataSpec | None = None, **options: object) -> RunSpec:
    return RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "fixmatch", **options}, seed=0,
        data=data or DataSpec(labeled_per_class=2, unlabeled=60, ratio=2, test_size=100),
        epochs=2, batch_size=10, evaluations=("calibration",),
    )


def test_a_data_spec_without_unlabeled_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unlabeled") as error:
        train_run(tiny_run(DataSpec(train_size=50)))
    assert "\n" not in str(error.value)


def test_train_run_logs_the_curves_and_reuses_the_cached_ema(tmp_path: Path) -> None:
    spec = tiny_run(threshold=0.0)
    result = train_run(spec, cache_dir=tmp_path)
    names = {(epoch, name) for phase, epoch, name, _ in result.curves}
    for name in ("mask_rate", "pseudo_label_accuracy", "unlabeled_loss", "pseudo_label_accuracy_all"):
        assert {(0, name), (1, name)} <= names
    curves = {(epoch, name): value for _, epoch, name, value in result.curves}
    assert curves[(0, "mask_rate")] == 1.0 and 0 <= curves[(1, "pseudo_label_accuracy")] <= 1
    assert 0 <= result.metrics["test_accuracy"] <= 1
    again = train_run(spec, cache_dir=tmp_path)
    assert again.checkpoints[0].reused
    assert again.metrics["test_nll"] == result.metrics["test_nll"]  # the EMA copy came back from the cache


def test_train_run_evaluates_the_ema_copy() -> None:
    # ema_momentum 1: the EMA copy stays at the initialisation, so what trains does not matter.
    frozen = [train_run(tiny_run(threshold=t, ema_momentum=1.0)).metrics["test_nll"] for t in (0.0, 1.0)]
    online = [train_run(tiny_run(threshold=t, ema_momentum=0.0)).metrics["test_nll"] for t in (0.0, 1.0)]
    assert frozen[0] == frozen[1]
    assert online[0] != online[1] and online[0] != frozen[0]


def test_mask_rate_rises_from_zero_with_accurate_kept_pseudo_labels() -> None:
    # The card's check in miniature: 10 labels per class, tau 0.95, 40 steps.
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "fixmatch", "ema_momentum": 0.9}, seed=0,
        data=DataSpec(labeled_per_class=10, unlabeled=400, ratio=2, test_size=100),
        epochs=8, batch_size=20, optimizer={"type": "sgd", "lr": 0.1}, evaluations=(),
    )
    curves = {(epoch, name): value for _, epoch, name, value in train_run(spec).curves}
    assert curves[(0, "mask_rate")] == 0.0 and curves[(7, "mask_rate")] > 0.05
    kept = [value for (_, name), value in curves.items() if name == "pseudo_label_accuracy"]
    assert kept and min(kept) >= 0.9
