"""MultiAugs card, classification transfer (augbench/methods/multiaugs.py): one weak teacher, K strong chains."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods import FixMatch, MethodContext, MultiAugs, build_method
from augbench.methods.fixmatch import STRONG_AUGMENTATION
from augbench.methods.multiaugs import StrongView
from augbench.mix import CutMix
from augbench.models import HarnessCNN
from augbench.policies.build import build_transform
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.testing import Recorder

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
POOL = 1797
RANDAUGMENT = STRONG_AUGMENTATION["transforms"][0]
CUTMIX_CHAIN = {"augment": None, "mixer": {"type": "cutmix", "alpha": 1.0}}
FLIP = {"type": "HorizontalFlip", "p": 1.0}  # deterministic: repeated chains give identical views


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def multiaugs(**options: Any) -> MultiAugs:
    method = build_method({"type": "multiaugs", **options}, DIGITS)
    assert isinstance(method, MultiAugs)
    return method


def harness(seed: int = 0) -> HarnessCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def linear(seed: int = 0) -> nn.Module:
    """No batch norm: a sample's logits do not depend on the rest of the forward batch."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, NUM_CLASSES))


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def make_ctx(model: nn.Module) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=normalize,
        total_steps=10,
        seed=3,
    )


def stream(inputs: Tensor, labels: Tensor, ids: Tensor) -> StreamBatch:
    return StreamBatch(inputs, labels, ids, passes=0, pool_size=POOL)


def digits_batch(labeled: int = 8, unlabeled: int = 16) -> Batch:
    data = load_dataset("digits")
    ids = torch.arange(100, 100 + unlabeled)
    return Batch({
        "labeled": stream(data.inputs[:labeled], data.labels[:labeled], torch.arange(labeled)),
        "unlabeled": stream(data.inputs[ids], data.labels[ids], ids),
    })


def step(method: FixMatch, model: nn.Module, batch: Batch) -> tuple[Tensor, TrainContext]:
    ctx = make_ctx(model)
    method.setup(ctx)
    ctx.batch = batch
    return method.training_step(batch, ctx).loss, ctx


# --- K = 1 is FixMatch --------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.95, 0.3, 0.0])
def test_one_unmixed_chain_is_fixmatch_bit_for_bit(threshold: float) -> None:
    batch = digits_batch()
    results = []
    for method in (build_method({"type": "fixmatch", "threshold": threshold}, DIGITS),
                   multiaugs(strong=[STRONG_AUGMENTATION], threshold=threshold)):
        model = Recorder(harness())  # batch norm: the concatenated batch must be the same too
        loss, ctx = step(method, model, batch)
        loss.backward()
        results.append((loss, model.inputs, [p.grad for p in model.parameters()], ctx.log.means()))
    (loss_f, inputs_f, grads_f, logs_f), (loss_m, inputs_m, grads_m, logs_m) = results
    assert torch.equal(inputs_f, inputs_m) and torch.equal(loss_f, loss_m)
    assert all(torch.equal(a, b) for a, b in zip(grads_f, grads_m, strict=True))
    assert logs_m["unlabeled_loss"] == logs_m["unlabeled_loss_1"] == logs_f["unlabeled_loss"]
    assert logs_m["mask_rate"] == logs_f["mask_rate"]


# --- K chains, K views ----------------------------------------------------------------------------


def test_k_chains_give_k_distinct_keyed_views_in_one_forward_pass() -> None:
    method = multiaugs(strong=[STRONG_AUGMENTATION] * 3, threshold=0.0)  # the same chain, repeated
    model, batch = Recorder(harness()), digits_batch()
    loss, ctx = step(method, model, batch)
    assert model.calls == 1 and model.inputs.shape[0] == 8 + 16 * 4
    _, weak, *strong = model.inputs.split([8, 16, 16, 16, 16])
    transform = build_transform(STRONG_AUGMENTATION)
    for view, images in enumerate(strong, start=1):  # chain k: one keyed call with key view k
        expected = transform(batch["unlabeled"].inputs, keys=ctx.keys("unlabeled", view), seed=ctx.seed)
        assert torch.equal(images, normalize(expected))
    for first in range(3):
        for second in range(first + 1, 3):
            assert all(not torch.equal(strong[first][b], strong[second][b]) for b in range(16))
    assert all(not torch.equal(weak[b], strong[0][b]) for b in range(16))
    declared = {(view.stream, view.view) for view in method.keyed_views()}
    assert declared == {("labeled", (0,)), ("unlabeled", (0,)), ("unlabeled", (1,)), ("unlabeled", (2,)),
                        ("unlabeled", (3,))}


def test_chain_losses_are_summed_or_averaged_over_identical_views() -> None:
    # A deterministic chain repeated: both views are the same images, and without batch norm the
    # same logits, so the sum doubles the single-chain term and the mean keeps it.
    batch = digits_batch()
    single, _ = step(multiaugs(strong=[FLIP], threshold=0.0), linear(), batch)
    summed, _ = step(multiaugs(strong=[FLIP, FLIP], threshold=0.0), linear(), batch)
    mean, _ = step(multiaugs(strong=[FLIP, FLIP], threshold=0.0, fusion="mean"), linear(), batch)
    supervised, _ = step(multiaugs(strong=[FLIP], threshold=1.0), linear(), batch)  # mask everything
    unlabeled = single - supervised
    assert unlabeled > 0.1
    torch.testing.assert_close(summed - supervised, 2 * unlabeled)
    torch.testing.assert_close(mean - supervised, unlabeled)


def test_summed_loss_is_each_chains_pseudo_label_cross_entropy() -> None:
    chains = [STRONG_AUGMENTATION, RANDAUGMENT]
    batch = digits_batch()
    probe = Recorder(harness())
    step(multiaugs(strong=chains, threshold=0.0), probe, batch)
    ranked = probe.logits.detach()[8:24].softmax(1).amax(1).sort().values
    threshold = ((ranked[7] + ranked[8]) / 2).item()  # half the pseudo-labels pass, with a margin
    model = Recorder(harness())
    loss, ctx = step(multiaugs(strong=chains, threshold=threshold, lambda_u=2.0), model, batch)
    labeled, weak, *strong = model.logits.detach().split([8, 16, 16, 16])
    confidence, pseudo = weak.softmax(1).max(1)
    mask = (confidence >= threshold).float()
    assert mask.sum() == 8
    terms = [(nnf.cross_entropy(each, pseudo, reduction="none") * mask).sum() / 16 for each in strong]
    assert not torch.allclose(terms[0], terms[1])  # the two chains contribute different terms
    expected = nnf.cross_entropy(labeled, batch["labeled"].labels) + 2.0 * (terms[0] + terms[1])
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    logs = ctx.log.means()
    assert logs["unlabeled_loss_1"] == pytest.approx(terms[0].item(), rel=1e-5)
    assert logs["unlabeled_loss_2"] == pytest.approx(terms[1].item(), rel=1e-5)


def test_gradient_reaches_every_strong_view_but_not_the_teacher() -> None:
    model = Recorder(harness())
    loss, _ = step(multiaugs(threshold=0.0), model, digits_batch())
    loss.backward()
    labeled_grad, weak_grad, *strong_grads = model.logits.grad.split([8, 16, 16, 16])
    assert torch.count_nonzero(weak_grad) == 0
    assert torch.count_nonzero(labeled_grad) > 0 and all(torch.count_nonzero(g) > 0 for g in strong_grads)


# --- the mixer chain -------------------------------------------------------------------------------


def test_mixer_chain_is_cutmix_of_the_unlabeled_batch_with_pseudo_label_targets() -> None:
    method = multiaugs(strong=[CUTMIX_CHAIN], threshold=0.0)  # every mask 1: plain soft targets
    model, batch = Recorder(harness()), digits_batch()
    ctx = make_ctx(model)
    method.setup(ctx)
    ctx.batch = batch
    replay = copy.deepcopy(ctx.generator)
    loss = method.training_step(batch, ctx).loss
    labeled_logits, weak_logits, strong_logits = model.logits.detach().split([8, 16, 16])
    pseudo = weak_logits.argmax(1)
    images = batch["unlabeled"].inputs
    reference = CutMix(NUM_CLASSES, alpha=1.0)(images, pseudo, generator=replay)
    assert torch.equal(model.inputs[24:], normalize(reference.inputs))  # partners from the unlabeled batch
    assert (reference.lam < 1).any() and (reference.lam > 0).any()
    expected = nnf.cross_entropy(labeled_logits, batch["labeled"].labels)
    expected = expected + soft_cross_entropy(strong_logits, reference.targets)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_mixed_view_loss_supervises_each_part_only_if_its_source_passed_the_mask() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    pseudo = torch.tensor([0, 1])
    view = StrongView(torch.zeros(2, 1, 2, 2), lam=torch.tensor([0.75, 0.5]), index=torch.tensor([1, 0]))
    ce = nnf.cross_entropy(logits[[0, 0, 1, 1]], torch.tensor([0, 1, 1, 0]), reduction="none")  # (b, label)
    full = (0.75 * ce[0] + 0.25 * ce[1] + 0.5 * ce[2] + 0.5 * ce[3]) / 2
    torch.testing.assert_close(view.loss(logits, pseudo, torch.ones(2), 2.0), full)
    # sample 1 not confident: its own term and the part it lent to sample 0 both go
    torch.testing.assert_close(view.loss(logits, pseudo, torch.tensor([1.0, 0.0]), 2.0),
                               (0.75 * ce[0] + 0.5 * ce[3]) / 2)
    torch.testing.assert_close(StrongView(torch.zeros(2, 1, 2, 2)).loss(logits, pseudo, torch.ones(2), 2.0),
                               (ce[0] + ce[2]) / 2)


def test_unlabeled_labels_never_reach_the_loss_of_any_chain() -> None:
    batch = digits_batch()
    unlabeled = batch["unlabeled"]
    relabeled = Batch({"labeled": batch["labeled"], "unlabeled": stream(
        unlabeled.inputs, (unlabeled.labels + 3) % NUM_CLASSES, unlabeled.ids)})
    results = []
    for each in (batch, relabeled):
        model = harness()
        loss, _ = step(multiaugs(threshold=0.3), model, each)  # the default chains: one of them mixes
        loss.backward()
        results.append((loss, torch.cat([p.grad.flatten() for p in model.parameters()])))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


# --- options and bad input ---------------------------------------------------------------------------


def test_defaults_two_distinct_chains_fixmatch_threshold_summed() -> None:
    method = multiaugs()
    spec = method.spec
    assert (spec["threshold"], spec["lambda_u"], spec["fusion"]) == (0.95, 1.0, "sum")
    assert len(method.chains) == 2 and [chain.view for chain in method.chains] == [1, 2]
    assert method.chains[0].mixer is None and isinstance(method.chains[1].mixer, CutMix)
    assert spec["strong"][0] == STRONG_AUGMENTATION  # FixMatch's strong view (as written, not resolved)
    assert build_transform(spec["strong"][1]["augment"]).config() == build_transform(RANDAUGMENT).config()


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"strong": []}, ("strong", "non-empty list")),
        ({"strong": "rand-m9-n2"}, ("strong", "list")),
        ({"strong": [RANDAUGMENT] * 16}, ("16 strong chains", "15")),
        ({"strong": [RANDAUGMENT, "cutmix"]}, ("strong[1]", "is a mixer", "{mixer: 'cutmix'}")),
        ({"strong": [{"type": "cutmix"}]}, ("strong[0]", "is a mixer")),
        ({"strong": [{"augment": RANDAUGMENT}]}, ("strong[0]", "no mixer")),
        ({"strong": [{"augment": RANDAUGMENT, "mixer": "cutmix", "p": 0.5}]}, ("strong[0]", "unknown key 'p'")),
        ({"strong": [{"mixer": {"type": "cutmix", "label_smoothing": 0.1}}]}, ("strong[0]", "label_smoothing")),
        ({"strong": [{"mixer": "cutmixx"}]}, ("strong[0]", "unknown mixer 'cutmixx'")),
        ({"strong": [None]}, ("strong[0]", "null")),
        ({"strong": [{"type": "RandomResizedCrop", "size": 6}]}, ("strong[0]", "same size")),
        ({"fusion": "max"}, ("fusion", "'sum'")),
        ({"threshold": 1.5}, ("multiaugs: threshold",)),
        ({"lambda_u": -1.0}, ("multiaugs: lambda_u",)),
    ],
)
def test_bad_options_fail_in_one_line_naming_the_fix(options: dict[str, Any], names: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as error:
        multiaugs(**options)
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in names), message


def test_a_mixer_chain_needs_the_runs_num_classes() -> None:
    with pytest.raises(ConfigError, match=r"strong\[0\].*num_classes") as error:
        MultiAugs(strong=[CUTMIX_CHAIN])
    assert "\n" not in str(error.value)
    assert MultiAugs(strong=[STRONG_AUGMENTATION]).chains[0].mixer is None  # transform chains do not


# --- end to end -----------------------------------------------------------------------------------


def test_train_run_logs_every_chain_and_evaluates(tmp_path: Any) -> None:
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn", method={"type": "multiaugs", "threshold": 0.0}, seed=0,
        data=DataSpec(labeled_per_class=2, unlabeled=60, ratio=2, test_size=100),
        epochs=2, batch_size=10, evaluations=("calibration",),
    )
    result = train_run(spec, cache_dir=tmp_path)
    curves = {(epoch, name): value for _, epoch, name, value in result.curves}
    for epoch in (0, 1):
        total = curves[(epoch, "unlabeled_loss")]
        assert math.isclose(total, curves[(epoch, "unlabeled_loss_1")] + curves[(epoch, "unlabeled_loss_2")],
                            rel_tol=1e-5)
    assert curves[(0, "mask_rate")] == 1.0
    assert 0 <= result.metrics["test_accuracy"] <= 1
