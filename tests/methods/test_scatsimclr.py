"""ScatSimCLR (card: shared/methods/contrastive.md, ScatSimCLR).

The card's checklist: the encoder is a fixed scattering front-end (no trainable parameter)
behind a trainable adapter; the contrastive part is SimCLR's NT-Xent unchanged (lambda = 0 is
plain SimCLR); the rotation pretext rotates the *already augmented* view by k * 90 degrees with
keyed, uniformly drawn k and predicts k; loss = NT-Xent + lambda * CE; the control, a probe on
raw scattering features, trains nothing. Tiny models (8x8 digits, J = 1, L = 4), few steps.
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
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError, InputValueError
from augbench.methods import MethodContext, ScatSimCLR, SimCLR, build_method, resolve_method
from augbench.methods.scatsimclr import rotate_quarters
from augbench.models import ScatNet
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

DIGITS_CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}
TINY_SCATNET = {"type": "scatnet", "J": 1, "L": 4, "width": 8, "blocks": 1, "pool": 4}
DIGITS = MethodContext(10, (1, 8, 8))

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:64], dataset.labels[:64]


def scatsimclr(**options: object) -> ScatSimCLR:
    return build_method({"type": "scatsimclr", "augment": DIGITS_CROP, "model": TINY_SCATNET, **options}, DIGITS)


def context(method: SimCLR, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ScatNet(in_channels=1, num_classes=10, image_size=(8, 8), J=1, L=4, width=8, blocks=1, pool=4)
    ctx = TrainContext(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 16.0 - 0.5, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(images, labels, ids, passes=passes, pool_size=1000)})


# -- rotation pretext ------------------------------------------------------------------------------


def test_rotate_quarters_matches_rot90_per_sample() -> None:
    images = torch.randint(0, 255, (8, 2, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    quarters = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    rotated = rotate_quarters(images, quarters)
    for b in range(8):  # a reference, sample by sample
        assert torch.equal(rotated[b], torch.rot90(images[b], int(quarters[b]), dims=(-2, -1)))
    assert rotated.dtype == torch.uint8
    with pytest.raises(InputValueError, match="square"):
        rotate_quarters(torch.zeros(2, 1, 4, 6), torch.zeros(2, dtype=torch.long))


def test_rotation_labels_are_keyed_uniform_and_independent_of_batch_order(digits: tuple[Tensor, Tensor]) -> None:
    method = scatsimclr()
    ctx = context(method)
    images, labels = digits
    ids = torch.arange(64)
    ctx.batch = batch(images, labels, ids)
    quarters = method.rotation_labels(ctx)
    assert quarters.dtype == torch.int64 and set(quarters.tolist()) == {0, 1, 2, 3}
    order = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    ctx.batch = batch(images[order], labels[order], ids[order])
    assert torch.equal(method.rotation_labels(ctx), quarters[order])
    ctx.batch = batch(images, labels, ids, passes=1)
    assert not torch.equal(method.rotation_labels(ctx), quarters)  # a new draw each epoch
    many = torch.arange(4000)
    ctx.batch = batch(torch.zeros(4000, 1, 8, 8, dtype=torch.uint8), torch.zeros(4000, dtype=torch.long), many)
    counts = torch.bincount(method.rotation_labels(ctx), minlength=4).float() / 4000
    assert (counts - 0.25).abs().max() < 0.03


def test_rotation_is_applied_to_the_augmented_view(digits: tuple[Tensor, Tensor]) -> None:
    method = scatsimclr()
    ctx = context(method)
    images, labels = digits
    ctx.batch = batch(images[:32], labels[:32], torch.arange(32))
    rotated, quarters = method.rotated_views(ctx)
    first_views = method.views(ctx)[:32]  # SimCLR's first view of every sample (key view 1)
    assert torch.equal(rotated, rotate_quarters(first_views, quarters))
    turned = quarters != 0
    assert turned.sum() > 10
    # not "augment the rotated raw image": the crop would land elsewhere
    augment_after = method.augment(rotate_quarters(images[:32], quarters), keys=ctx.keys("labeled", 1), seed=ctx.seed)
    assert not torch.equal(rotated[turned], augment_after[turned])
    assert not torch.equal(rotated[turned], rotate_quarters(images[:32], quarters)[turned])  # it is augmented


def test_loss_is_simclr_plus_lambda_times_the_rotation_cross_entropy(digits: tuple[Tensor, Tensor]) -> None:
    images, labels = digits
    step_batch = batch(images[:24], labels[:24], torch.arange(100, 124))
    plain = build_method({"type": "simclr", "augment": DIGITS_CROP, "color_strength": 1.0}, DIGITS)
    plain_ctx = context(plain)
    plain_ctx.batch = step_batch
    for weight in (0.0, 0.3, 2.0):
        method = scatsimclr(rotation_weight=weight)
        ctx = context(method)  # same seed: same encoder and projector initialisation as plain_ctx
        assert ("rotation_head" in ctx.modules) == (weight > 0)
        ctx.batch = step_batch
        with torch.no_grad():
            if weight > 0:
                ctx.modules["rotation_head"].eval()  # dropout off, so the reference below sees the same head
            loss = method.training_step(step_batch, ctx).loss
            contrastive = plain.training_step(step_batch, plain_ctx).loss
            if weight == 0:
                assert torch.equal(loss, contrastive)  # lambda = 0 is plain SimCLR
                continue
            rotated, quarters = method.rotated_views(ctx)
            logits = ctx.modules["rotation_head"](ctx.model.forward_features(ctx.normalize(rotated)))
            torch.testing.assert_close(loss, contrastive + weight * nnf.cross_entropy(logits, quarters))


def test_front_end_stays_fixed_while_adapter_and_heads_train(digits: tuple[Tensor, Tensor]) -> None:
    method = scatsimclr()
    ctx = context(method)
    model = ctx.model
    scattering = model.stages["scattering"]
    assert list(scattering.parameters()) == []
    optimised = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimised for name in ("projector", "rotation_head") for p in ctx.modules[name].parameters())
    filters = {name: buffer.clone() for name, buffer in scattering.named_buffers()}
    adapter = model.stages["adapter"][0].weight.detach().clone()
    head = ctx.modules["rotation_head"][0].weight.detach().clone()
    images, labels = digits
    for start in (0, 16, 32):
        train_step(method, batch(images[start:start + 16], labels[start:start + 16], torch.arange(start, start + 16)),
                   ctx)
    assert all(torch.equal(buffer, filters[name]) for name, buffer in scattering.named_buffers())
    assert not torch.equal(model.stages["adapter"][0].weight, adapter)
    assert not torch.equal(ctx.modules["rotation_head"][0].weight, head)
    assert ctx.modules["rotation_head"][-1].out_features == 4
    assert ctx.modules["rotation_head"][0].in_features == 8 * 4 * 4  # width * pool**2


# -- options ---------------------------------------------------------------------------------------


def test_spec_has_the_card_defaults() -> None:
    spec = resolve_method("scatsimclr")
    assert spec["rotation_weight"] == 0.3 and spec["temperature"] == 0.5 and spec["projection_dim"] == 128
    assert spec["color_strength"] == 1.0 and spec["grayscale_p"] == 0.2
    assert spec["model"]["type"] == "scatnet" and (spec["model"]["J"], spec["model"]["L"]) == (2, 16)
    assert "input_shape" not in spec and "modality" not in spec
    (phase,) = build_method("scatsimclr", MethodContext(10, (1, 28, 28))).phases(None)
    assert phase.name == "pretrain" and phase.model["type"] == "scatnet" and phase.epochs is None
    (run_model,) = build_method({"type": "scatsimclr", "model": None, "pretrain_epochs": 0}, DIGITS).phases(None)
    assert run_model.model is None and run_model.epochs == 0


@pytest.mark.parametrize(("options", "match"), [
    ({"rotation_weight": -0.1}, "rotation_weight=-0.1"),
    ({"rotation_weight": float("nan")}, "rotation_weight=nan"),
    ({"pretrain_epochs": -1}, "pretrain_epochs=-1"),
    ({"model": {"type": "scatnett"}}, "option 'model' is not a valid model spec"),
    ({"model": {"type": "scatnet", "depth": 3}}, "option 'model' is not a valid model spec"),
    ({"temperature": 0.0}, "temperature=0.0"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_method({"type": "scatsimclr", **options}, MethodContext(10, (1, 28, 28)))
    assert len(str(info.value).splitlines()) == 1


def test_rotation_needs_square_images() -> None:
    wide = MethodContext(10, (1, 16, 24))
    with pytest.raises(ConfigError, match="set rotation_weight: 0"):
        build_method({"type": "scatsimclr", "model": None}, wide)
    assert build_method({"type": "scatsimclr", "model": None, "rotation_weight": 0}, wide).rotation_weight == 0


# -- end to end ------------------------------------------------------------------------------------


def _run(method: dict, epochs: int) -> object:
    spec = RunSpec.create(dataset="digits", model={"type": "convnet", "base_channels": 4}, method=method, seed=0,
                          epochs=epochs, batch_size=50, data=DataSpec(train_size=200, test_size=300), evaluations=(),
                          optimizer={"type": "adam", "lr": 1e-3})
    return train_run(spec)


def test_end_to_end_learns_positives_and_rotations() -> None:
    result = _run({"type": "scatsimclr", "augment": DIGITS_CROP, "model": TINY_SCATNET}, epochs=6)
    assert 0.0 <= result.metrics["test_linear_probe_accuracy"] <= 1.0 and "test_knn_accuracy" in result.metrics
    curve = {(epoch, name): value for _, epoch, name, value in result.curves}
    assert all(math.isfinite(value) for value in curve.values())
    assert curve[(5, "positive_accuracy")] > max(5 / 99, curve[(0, "positive_accuracy")])
    late = sum(curve[(epoch, "rotation_accuracy")] for epoch in (3, 4, 5)) / 3  # 0.39 here; chance is 1/4
    assert late > max(0.32, curve[(0, "rotation_accuracy")] + 0.05)
    assert curve[(5, "rotation_loss")] < curve[(0, "rotation_loss")]


def test_raw_scattering_control_trains_nothing() -> None:
    raw = {"type": "scatsimclr", "model": {**TINY_SCATNET, "features": "scattering"}, "pretrain_epochs": 0}
    result = _run(raw, epochs=5)
    assert result.curves == [] and result.phase_metrics["pretrain"]["train_samples"] == 0.0
    assert set(result.metrics) >= {"test_linear_probe_accuracy", "test_knn_accuracy"}
    assert result.metrics["test_linear_probe_accuracy"] > 0.5  # raw scattering of digits is linearly informative
