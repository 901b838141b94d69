"""UDA card (augbench/methods/uda.py): TSA, an unsharpened confidence mask, sharpened stop-gradient targets, KL."""

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
from augbench.errors import ConfigError
from augbench.methods import UDA, MethodContext, build_method
from augbench.methods.uda import tsa_threshold
from augbench.models import HarnessCNN
from augbench.models.text_cnn import TextCNN
from augbench.policies.build import build_transform
from augbench.text import REWRITERS
from augbench.train.context import Batch, StreamBatch, TrainContext, stream_keys
from augbench.train.loop import train_step
from augbench.transforms.base import Compose
from augbench.transforms.text import TextRewrite
from augbench.testing import Recorder

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
POOL = 1797


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def uda(context: MethodContext = DIGITS, **options: object) -> UDA:
    method = build_method({"type": "uda", **options}, context)
    assert isinstance(method, UDA)
    return method


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def identity(inputs: Tensor) -> Tensor:
    return inputs


def make_ctx(model: nn.Module, norm: Callable[[Tensor], Tensor] = normalize, step: int = 0) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=norm,
        total_steps=10,
        seed=3,
        step=step,
    )


def stream(inputs: Tensor, labels: Tensor, ids: Tensor, pool: int = POOL) -> StreamBatch:
    return StreamBatch(inputs, labels, ids, passes=0, pool_size=pool)


def digits_batch(labeled: int = 8, unlabeled: int = 16, offset: int = 100) -> Batch:
    data = load_dataset("digits")
    unlabeled_ids = torch.arange(offset, offset + unlabeled)
    return Batch({
        "labeled": stream(data.inputs[:labeled], data.labels[:labeled], torch.arange(labeled)),
        "unlabeled": stream(data.inputs[unlabeled_ids], data.labels[unlabeled_ids], unlabeled_ids),
    })


class Logits(nn.Module):
    """A model whose logits are its inputs times a trainable scale: the test chooses every logit."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, inputs: Tensor) -> Tensor:
        return self.scale * inputs.flatten(1)


def logit_batch(labeled_logits: Tensor, unlabeled_logits: Tensor) -> Batch:
    """Inputs that are the logits themselves (``(B, 1, 1, K)``); every labeled sample is class 0."""
    labeled, unlabeled = labeled_logits.view(-1, 1, 1, 4), unlabeled_logits.view(-1, 1, 1, 4)
    return Batch({
        "labeled": stream(labeled, torch.zeros(len(labeled), dtype=torch.int64), torch.arange(len(labeled))),
        "unlabeled": stream(unlabeled, torch.zeros(len(unlabeled), dtype=torch.int64), torch.arange(10, 10 + len(unlabeled))),
    })


def step_loss(method: UDA, batch: Batch, ctx: TrainContext) -> Tensor:
    ctx.batch = batch
    return method.training_step(batch, ctx).loss


# --- TSA -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "values"),
    [
        ("none", (1.0, 1.0, 1.0)),
        ("linear", (0.1, 0.55, 1.0)),
        ("log", (0.1, 0.1 + 0.9 * (1 - math.exp(-2.5)), 0.1 + 0.9 * (1 - math.exp(-5)))),
        ("exp", (0.1 + 0.9 * math.exp(-5), 0.1 + 0.9 * math.exp(-2.5), 1.0)),
    ],
)
def test_tsa_schedules_at_the_start_middle_and_end(schedule: str, values: tuple[float, float, float]) -> None:
    got = tuple(tsa_threshold(schedule, t, NUM_CLASSES) for t in (0.0, 0.5, 1.0))
    assert got == pytest.approx(values, abs=1e-12)
    assert tsa_threshold(schedule, 2.0, NUM_CLASSES) == got[2]  # progress is clipped to [0, 1]


def test_log_releases_the_signal_before_linear_and_exp_after() -> None:
    for t in (0.1, 0.5, 0.9):
        assert tsa_threshold("log", t, 4) > tsa_threshold("linear", t, 4) > tsa_threshold("exp", t, 4)


def tsa_logits() -> Tensor:
    # Correct class 0; p(class 0) = 0.983, 0.25 (exactly), 0.475, 0.015.
    return torch.tensor([[5.0, 0, 0, 0], [0, 0, 0, 0], [1.0, 0, 0, 0], [0, 4.0, 0, 0]])


def test_tsa_leaves_out_confident_examples_and_divides_by_the_unmasked_count() -> None:
    labeled = tsa_logits()
    per_sample = nnf.cross_entropy(labeled, torch.zeros(4, dtype=torch.int64), reduction="none")
    expectations = {
        0: ([False, True, False, True], 0.25),  # eta = 1/K = 0.25: 0.25 itself is kept (strictly greater is left out)
        5: ([False, True, True, True], 0.625),  # eta = 0.25 + 0.5 * 0.75
    }
    for step, (kept, threshold) in expectations.items():
        method = UDA(augment=None, tsa="linear", lambda_u=0.0)
        ctx = make_ctx(Logits(), norm=identity, step=step)
        method.setup(ctx)
        loss = step_loss(method, logit_batch(labeled, torch.zeros(2, 4)), ctx)
        kept_mask = torch.tensor(kept)
        torch.testing.assert_close(loss, per_sample[kept_mask].mean())  # the mean over the kept examples
        assert loss.item() != pytest.approx(per_sample[kept_mask].sum().item() / 4, rel=1e-3)  # not over the batch
        logs = ctx.log.means()
        assert logs["tsa_threshold"] == pytest.approx(threshold)
        assert logs["tsa_kept"] == kept_mask.float().mean().item()


def test_tsa_with_every_example_left_out_gives_zero_not_nan() -> None:
    method = UDA(augment=None, tsa="exp", lambda_u=0.0)
    ctx = make_ctx(Logits(), norm=identity)
    method.setup(ctx)
    loss = step_loss(method, logit_batch(torch.tensor([[5.0, 0, 0, 0], [6.0, 0, 0, 0]]), torch.zeros(1, 4)), ctx)
    assert loss.item() == 0.0 and ctx.log.means()["tsa_kept"] == 0.0


def test_tsa_none_is_the_plain_mean() -> None:
    method = UDA(augment=None, lambda_u=0.0)
    ctx = make_ctx(Logits(), norm=identity, step=5)
    method.setup(ctx)
    loss = step_loss(method, logit_batch(tsa_logits(), torch.zeros(1, 4)), ctx)
    torch.testing.assert_close(loss, nnf.cross_entropy(tsa_logits(), torch.zeros(4, dtype=torch.int64)))
    assert "tsa_threshold" not in ctx.log.means()


# --- the unlabeled term --------------------------------------------------------------------------


def test_mask_is_computed_from_the_unsharpened_probabilities() -> None:
    # Row 0: max p = 0.525 (< 0.8), but sharpened by tau 0.4 it is 0.870 (> 0.8); row 1: 0.870 unsharpened.
    unlabeled = torch.tensor([[1.2, 0, 0, 0], [3.0, 0, 0, 0]])
    assert unlabeled.softmax(1).amax(1)[0] < 0.8 < (unlabeled[0] / 0.4).softmax(0).max()
    method = UDA(augment=None)
    ctx = make_ctx(Logits(), norm=identity)
    method.setup(ctx)
    loss = step_loss(method, logit_batch(torch.zeros(2, 4), unlabeled), ctx)
    logs = ctx.log.means()
    assert logs["mask_rate"] == 0.5  # a mask of sharpened probabilities would keep both
    target = (unlabeled[1] / 0.4).softmax(0)
    kl = (target * (target.log() - unlabeled[1].log_softmax(0))).sum()
    assert logs["unlabeled_loss"] == pytest.approx(kl.item() / 2, rel=1e-5)  # row 1's KL over the mu*B = 2 rows
    assert loss.item() == pytest.approx(math.log(4) + kl.item() / 2, rel=1e-5)


def test_temperature_sharpens_the_target_only() -> None:
    # Strong view = the sample itself: KL(softmax(z / tau) || softmax(z)) > 0 unless tau = 1; a
    # temperature on both sides would give 0 at every tau.
    unlabeled = torch.tensor([[3.0, 0, 0, 0], [0, 2.5, 0, 1.0]])
    results = {}
    for temperature in (0.4, 1.0):
        method = UDA(augment=None, temperature=temperature, confidence_threshold=0.0)
        ctx = make_ctx(Logits(), norm=identity)
        method.setup(ctx)
        step_loss(method, logit_batch(torch.zeros(2, 4), unlabeled), ctx)
        results[temperature] = ctx.log.means()["unlabeled_loss"]
    target = (unlabeled / 0.4).softmax(1)
    expected = (target * (target.log() - unlabeled.log_softmax(1))).sum(1).mean()
    assert results[0.4] == pytest.approx(expected.item(), rel=1e-5) and results[0.4] > 0.05
    assert results[1.0] == pytest.approx(0.0, abs=1e-7)


def test_loss_is_the_card_formula_on_one_concatenated_forward_pass() -> None:
    model, batch = Recorder(harness()), digits_batch()
    ctx = make_ctx(model)
    ctx.batch = batch
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    method = uda(confidence_threshold=0.0, temperature=0.5, lambda_u=2.0)
    strong = build_transform(method.spec["augment"])(unlabeled.inputs, keys=ctx.keys("unlabeled", 1), seed=ctx.seed)
    with torch.no_grad():
        inner = model.model
        original = inner(normalize(unlabeled.inputs))
        target = (original / 0.5).softmax(1)
        log_prediction = inner(normalize(strong)).log_softmax(1)
        kl = (target * (target.log() - log_prediction)).sum(1).mean()
        expected = nnf.cross_entropy(inner(normalize(labeled.inputs)), labeled.labels) + 2.0 * kl
    method.setup(ctx)
    loss = step_loss(method, batch, ctx)
    assert model.calls == 1  # labeled, unlabeled and strong view share one forward pass
    # The labeled batch and u are not augmented; u_aug is the keyed strong view (key view 1).
    assert torch.equal(model.inputs, normalize(torch.cat([labeled.inputs, unlabeled.inputs, strong])))
    assert not torch.equal(strong, unlabeled.inputs)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_the_target_passes_no_gradient() -> None:
    model = Recorder(harness())
    ctx = make_ctx(model)
    method = uda(confidence_threshold=0.0)
    method.setup(ctx)
    step_loss(method, digits_batch(), ctx).backward()
    labeled_grad, original_grad, strong_grad = model.logits.grad.split([8, 16, 16])
    assert torch.count_nonzero(original_grad) == 0  # stop-gradient on the unaugmented sample's prediction
    assert torch.count_nonzero(strong_grad) > 0 and torch.count_nonzero(labeled_grad) > 0


def test_confidence_threshold_one_leaves_the_supervised_loss_only() -> None:
    model = Recorder(harness())
    ctx = make_ctx(model)
    method = uda(confidence_threshold=1.0)
    method.setup(ctx)
    batch = digits_batch()
    loss = step_loss(method, batch, ctx)
    labeled_logits = model.logits.detach()[:8]
    torch.testing.assert_close(loss, nnf.cross_entropy(labeled_logits, batch["labeled"].labels))
    assert ctx.log.means()["mask_rate"] == 0.0


def test_unlabeled_labels_never_reach_the_loss() -> None:
    batch = digits_batch()
    unlabeled = batch["unlabeled"]
    relabeled = Batch({"labeled": batch["labeled"], "unlabeled": stream(
        unlabeled.inputs, (unlabeled.labels + 3) % NUM_CLASSES, unlabeled.ids)})
    losses = []
    for each in (batch, relabeled):
        method, ctx = uda(confidence_threshold=0.0), make_ctx(harness())
        method.setup(ctx)
        losses.append(step_loss(method, each, ctx))
    assert torch.equal(losses[0], losses[1])


# --- lambda_u = 0 --------------------------------------------------------------------------------


def test_lambda_zero_is_supervised_training_with_tsa_exactly() -> None:
    grads, losses = [], []
    for offset in (100, 500):  # two different unlabeled batches
        model = Recorder(harness())
        ctx = make_ctx(model, step=4)
        method = uda(lambda_u=0.0, tsa="linear")
        method.setup(ctx)
        batch = digits_batch(offset=offset)
        loss = step_loss(method, batch, ctx)
        loss.backward()
        assert model.calls == 1 and model.inputs.shape[0] == 8  # the unlabeled batch is never computed
        assert method.keyed_views() == []
        losses.append(loss)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.equal(losses[0], losses[1]) and torch.equal(grads[0], grads[1])
    labels = batch["labeled"].labels
    with torch.no_grad():
        logits = harness()(normalize(batch["labeled"].inputs))
        kept = logits.softmax(1).gather(1, labels[:, None]).squeeze(1) <= tsa_threshold("linear", 0.4, NUM_CLASSES)
    torch.testing.assert_close(losses[0], nnf.cross_entropy(logits[kept], labels[kept]))


def tiny_run(method: object, data: DataSpec | None = None, **options: object) -> RunSpec:
    return RunSpec.create(
        dataset="digits", model="harness_cnn", method=method, seed=0,
        data=data or DataSpec(labeled_per_class=2, unlabeled=60, ratio=2, test_size=100),
        epochs=2, batch_size=10, evaluations=(), **options,
    )


def test_lambda_zero_run_equals_the_supervised_run_bit_for_bit() -> None:
    augment = {"type": "RandomAffine", "degrees": 15}
    supervised = train_run(tiny_run({"type": "supervised", "augment": augment}))
    method = {"type": "uda", "lambda_u": 0.0, "ema_momentum": 0.0, "labeled_augment": augment}
    result = train_run(tiny_run(method))
    for name in ("test_accuracy", "test_nll"):
        assert result.metrics[name] == supervised.metrics[name]


# --- EMA -----------------------------------------------------------------------------------------


def test_ema_follows_the_online_model_and_is_what_evaluation_uses() -> None:
    method = uda(confidence_threshold=0.3, ema_momentum=0.75)
    ctx = make_ctx(harness())
    method.setup(ctx)
    initial = [p.detach().clone() for p in ctx.model.parameters()]
    train_step(method, digits_batch(), ctx)
    ema = method.eval_model(ctx.model)
    assert ema is ctx.modules["ema"] and ema is not ctx.model and not ema.training
    for start, online, averaged in zip(initial, ctx.model.parameters(), ema.parameters(), strict=True):
        torch.testing.assert_close(averaged, 0.75 * start + 0.25 * online.detach())


def test_eval_model_before_setup_is_one_line() -> None:
    with pytest.raises(ConfigError, match="setup") as error:
        uda().eval_model(harness())
    assert "\n" not in str(error.value)


# --- a tiny run ----------------------------------------------------------------------------------


def test_a_tiny_run_logs_a_mask_rate_above_zero_and_the_tsa_curves() -> None:
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "uda", "tsa": "linear", "ema_momentum": 0.9}, seed=0,
        data=DataSpec(labeled_per_class=5, unlabeled=200, ratio=2, test_size=100),
        epochs=6, batch_size=10, optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9}, evaluations=(),
    )
    curves = {(epoch, name): value for _, epoch, name, value in train_run(spec).curves}
    for name in ("mask_rate", "unlabeled_loss", "supervised_loss", "tsa_threshold", "tsa_kept"):
        assert all((epoch, name) in curves for epoch in range(6)), name
    assert curves[(5, "mask_rate")] > 0
    thresholds = [curves[(epoch, "tsa_threshold")] for epoch in range(6)]
    assert thresholds == sorted(thresholds) and 0.1 < thresholds[0] < thresholds[-1] < 1
    assert all(0 <= curves[(epoch, "tsa_kept")] <= 1 for epoch in range(6))


# --- text ----------------------------------------------------------------------------------------


def reverse_rewriter() -> Callable[[list[str]], list[str]]:
    return lambda sentences: [" ".join(reversed(sentence.split())) for sentence in sentences]


def text_batch(rows: int = 6, length: int = 12) -> Batch:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 50, (3 * rows, length), generator=generator)  # demo-vocabulary words
    lengths = torch.randint(2, length + 1, (3 * rows,), generator=generator)
    ids = ids.masked_fill(torch.arange(length) >= lengths[:, None], 0)
    labels = torch.randint(0, 2, (3 * rows,), generator=generator)
    return Batch({
        "labeled": stream(ids[:rows], labels[:rows], torch.arange(rows), pool=100),
        "unlabeled": stream(ids[rows:], labels[rows:], torch.arange(rows, 3 * rows), pool=100),
    })


def text_inputs(method: UDA, batch: Batch) -> Tensor:
    model = Recorder(TextCNN(vocab_size=50, num_classes=2, input_shape=(12,)))
    ctx = make_ctx(model, norm=identity)
    method.setup(ctx)
    step_loss(method, batch, ctx)
    return model.inputs


def test_text_strong_view_is_the_rewriter_then_the_text_ops() -> None:
    if "test_uda_reverse" not in REWRITERS:
        REWRITERS.register("test_uda_reverse")(reverse_rewriter)
    text = MethodContext(2, (12,), "text")
    batch = text_batch()
    unlabeled = batch["unlabeled"].inputs
    rewritten = text_inputs(uda(text, rewriter="test_uda_reverse", vocabulary="demo", text_augment=None), batch)[18:]
    lengths = (unlabeled != 0).sum(1)
    for row, original, n in zip(rewritten, unlabeled, lengths.tolist(), strict=True):
        assert row[:n].tolist() == original[:n].flip(0).tolist() and not row[n:].any()

    method = uda(text, rewriter="test_uda_reverse", vocabulary="demo")  # then the default EDA swap + delete
    pipeline = Compose([TextRewrite("demo", rewriter="test_uda_reverse"), build_transform(method.spec["text_augment"])])
    expected = pipeline(unlabeled, keys=stream_keys(batch["unlabeled"], 1), seed=make_ctx(Logits()).seed)
    inputs = text_inputs(method, batch)
    assert torch.equal(inputs[:18], torch.cat([batch["labeled"].inputs, unlabeled]))
    assert torch.equal(inputs[18:], expected) and not torch.equal(inputs[18:], rewritten)


# --- bad input -----------------------------------------------------------------------------------


def test_a_data_spec_without_unlabeled_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unlabeled: rest") as error:
        train_run(tiny_run("uda", DataSpec(train_size=50)))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("context", "options", "name"),
    [
        (DIGITS, {"confidence_threshold": 1.5}, "confidence_threshold"),
        (DIGITS, {"confidence_threshold": True}, "confidence_threshold"),
        (DIGITS, {"temperature": 0.0}, "temperature"),
        (DIGITS, {"temperature": float("nan")}, "temperature"),
        (DIGITS, {"lambda_u": -1.0}, "lambda_u"),
        (DIGITS, {"tsa": "cosine"}, "tsa='cosine'.*none, linear, log, exp"),
        (DIGITS, {"ema_momentum": 1.2}, "ema_momentum"),
        (DIGITS, {"beta": 0.8}, "unknown option 'beta'"),
        (DIGITS, {"augment": {"type": "RandomResizedCrop", "size": 6}}, "augment turns"),
        (DIGITS, {"augment": {"type": "TextRandomSwap"}}, "augment is a pipeline for text data"),
        (DIGITS, {"rewriter": "identity", "vocabulary": "demo"}, "remove rewriter"),
        (MethodContext(2, (12,), "text"), {"text_augment": "rand-m9-n2"}, "text_augment is a pipeline for image data"),
        (MethodContext(2, (12,), "text"), {"rewriter": "identity"}, "add vocabulary"),
        (MethodContext(2, (12,), "text"), {"rewriter": "back_translation", "vocabulary": "demo"}, "unknown rewriter"),
    ],
)
def test_bad_options_fail_in_one_line(context: MethodContext, options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        uda(context, **options)
    assert "\n" not in str(error.value)


def test_text_runs_take_the_text_view_and_leave_the_image_default_unused() -> None:
    assert uda(MethodContext(2, (12,), "text")).strong.modality == "text"


def test_defaults_are_the_papers() -> None:
    spec = uda().spec
    assert (spec["confidence_threshold"], spec["temperature"], spec["lambda_u"], spec["tsa"]) == (0.8, 0.4, 1.0, "none")
    assert spec["ema_momentum"] == 0.9999 and spec["labeled_augment"] is None
    randaugment, cutout = spec["augment"]["transforms"]
    assert (randaugment["type"], randaugment["num_ops"], cutout["type"]) == ("RandAugment", 2, "RandomErasing")
