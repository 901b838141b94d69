"""SwAV (card: shared/methods/contrastive.md, SwAV).

The card's falsifiers as tests: Sinkhorn marginals uniform (samples exactly 1/B, prototypes
1/K as the iterations grow), no collapse in a short training (the assignments' entropy stays
high), codes without gradient and only from the two global crops, prototypes fixed during the
freeze, the queue used for the codes only, multi-crop views of the right shapes from one call
per group, a finite loss for a small epsilon; bad options and batches are one-line errors.
Tiny models (a 4-channel ConvNet) on digits upsampled to 16x16, so 8x8 small crops fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as nnf
from PIL import Image
from torch import Tensor

import augbench.methods.swav as swav_module
from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError, InputValueError
from augbench.evaluation import EvalContext, evaluate_all
from augbench.methods import MethodContext, SwAV, build_method, resolve_method
from augbench.modalities import get_modality
from augbench.models import ConvNet, HarnessCNN
from augbench.registry import OptionError
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny nets only lose time to intra-op threads

SHAPE = (1, 16, 16)
SMALL = {"small_crops": 2, "small_size": 8, "global_scale": [0.3, 1.0], "small_scale": [0.1, 0.3]}


@pytest.fixture(scope="module")
def digits16() -> tuple[Tensor, Tensor]:
    """200 digits, 8x8 upsampled (nearest) to 16x16 uint8 in 0..255."""
    dataset = load_dataset("digits")
    images = (dataset.inputs[:200].float() * (255 / 16)).round().to(torch.uint8)
    return images.repeat_interleave(2, -1).repeat_interleave(2, -2), dataset.labels[:200]


def swav(**options: object) -> SwAV:
    return build_method({"type": "swav", "num_prototypes": 10, **SMALL, **options}, MethodContext(10, SHAPE))


def context(method: SwAV, seed: int = 0, lr: float = 0.1) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvNet(in_channels=1, num_classes=10, image_size=SHAPE[1:], base_channels=4)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4),
                       torch.device("cpu"), 10, torch.Generator().manual_seed(seed + 1),
                       lambda images: images.float() / 255 - 0.5, 100, seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(images, labels, ids, passes=passes, pool_size=1000)})


def step_batch(data: tuple[Tensor, Tensor], start: int, size: int, passes: int = 0) -> Batch:
    images, labels = data
    ids = torch.arange(start, start + size)
    return batch(images[ids], labels[ids], ids, passes)


# -- Sinkhorn-Knopp ------------------------------------------------------------------------------


def _paper_sinkhorn(scores: Tensor, epsilon: float, iterations: int) -> Tensor:
    """``distributed_sinkhorn`` of main_swav.py on one device, in float64, as written (K x B)."""
    q = torch.exp(scores.double() / epsilon).T
    prototypes, samples = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / prototypes
        q = q / q.sum(dim=0, keepdim=True) / samples
    return (q * samples).T


def test_sinkhorn_marginals_are_uniform() -> None:
    scores = nnf.normalize(torch.randn(64, 12, generator=torch.Generator().manual_seed(0)), dim=1)
    codes = swav_module.sinkhorn_knopp(scores, 0.05, 3)
    plan = codes / 64  # before the final x B
    torch.testing.assert_close(plan.sum(1), torch.full((64,), 1 / 64))  # every sample: exactly 1/B
    deviation = [(swav_module.sinkhorn_knopp(scores, 0.05, n).mean(0) * 12 - 1).abs().max() for n in (1, 3, 10)]
    assert deviation[0] > deviation[1] > deviation[2] and deviation[1] < 0.5  # prototypes: 1/K as iterations grow
    unbalanced = (torch.softmax(scores / 0.05, dim=1).mean(0) * 12 - 1).abs().max()  # no Sinkhorn at all
    assert deviation[1] < unbalanced
    converged = swav_module.sinkhorn_knopp(scores, 0.05, 200) / 64
    torch.testing.assert_close(converged.sum(0), torch.full((12,), 1 / 12), atol=1e-6, rtol=0)
    torch.testing.assert_close(converged.sum(1), torch.full((64,), 1 / 64))
    assert (codes >= 0).all() and codes.dtype == torch.float32


def test_sinkhorn_matches_the_paper_and_survives_a_small_epsilon() -> None:
    scores = nnf.normalize(torch.randn(32, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    torch.testing.assert_close(swav_module.sinkhorn_knopp(scores, 0.05, 3).double(), _paper_sinkhorn(scores, 0.05, 3),
                               atol=1e-5, rtol=1e-4)
    assert not torch.isfinite(_paper_sinkhorn(scores.float(), 0.001, 3).float()).all()  # exp overflows as written
    for epsilon in (0.01, 0.001, 1e-4):
        codes = swav_module.sinkhorn_knopp(scores, epsilon, 3)
        assert torch.isfinite(codes).all()
        torch.testing.assert_close(codes.sum(1), torch.ones(32))  # every sample keeps a full code
    batched = swav_module.sinkhorn_knopp(torch.stack([scores, scores.flip(0)]), 0.05, 3)  # independent problems
    torch.testing.assert_close(batched[1], swav_module.sinkhorn_knopp(scores.flip(0), 0.05, 3))


def test_sinkhorn_codes_carry_no_gradient_and_bad_input_is_one_line() -> None:
    scores = torch.randn(6, 4, requires_grad=True)
    assert not swav_module.sinkhorn_knopp(scores).requires_grad
    for bad, match in ((torch.zeros(4), r"got \(4,\)"), (torch.zeros(0, 3), "N, K >= 1")):
        with pytest.raises(InputValueError, match=match):
            swav_module.sinkhorn_knopp(bad)
    with pytest.raises(InputValueError, match="epsilon=0"):
        swav_module.sinkhorn_knopp(torch.zeros(3, 2), epsilon=0)
    with pytest.raises(InputValueError, match="iterations=0"):
        swav_module.sinkhorn_knopp(torch.zeros(3, 2), iterations=0)


# -- views ---------------------------------------------------------------------------------------


def test_multi_crop_views_come_from_one_keyed_call_per_group(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=3)
    ctx = context(method)
    calls: list[tuple[str, tuple[int, ...], Tensor]] = []

    def recording(name: str, pipeline: Callable[..., Tensor]) -> Callable[..., Tensor]:
        def call(images: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
            out = pipeline(images, keys=keys, seed=seed)
            calls.append((name, tuple(out.shape), keys.clone()))
            return out
        return call

    method.global_augment = recording("global", method.global_augment)
    method.small_augment = recording("small", method.small_augment)
    ctx.batch = step_batch(digits16, 20, 12, passes=1)
    method.training_step(ctx.batch, ctx)
    assert [(name, shape) for name, shape, _ in calls] == [("global", (24, 1, 16, 16)), ("small", (36, 1, 8, 8))]
    assert torch.equal(calls[0][2], torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))
    assert torch.equal(calls[1][2], torch.cat([ctx.keys("labeled", view) for view in (3, 4, 5)]))
    declared = method.keyed_views()  # what the loop makes in chunks: the global crops' transform and key views
    assert [(view.transform, view.view) for view in declared] == [(method.global_augment, (1, 2))]


def test_crops_differ_and_are_keyed_by_sample_and_epoch(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=2)
    ctx = context(method)
    images, labels = digits16
    copies = images[:1].expand(8, -1, -1, -1).contiguous()  # one image, eight sample ids
    ctx.batch = batch(copies, labels[:8], torch.arange(8))
    global_crops, small_crops = method.views(ctx)
    assert global_crops.dtype == small_crops.dtype == torch.uint8
    assert len({row.numpy().tobytes() for row in global_crops}) == 16
    assert len({row.numpy().tobytes() for row in small_crops}) == 16
    order = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    ctx.batch = batch(copies, labels[:8], torch.arange(8)[order])
    shuffled, _ = method.views(ctx)
    assert torch.equal(shuffled, global_crops[torch.cat([order, order + 8])])
    ctx.batch = batch(copies, labels[:8], torch.arange(8), passes=1)
    assert not torch.equal(method.views(ctx)[0], global_crops)


def test_no_small_crops_means_two_global_views_only(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=0)
    ctx = context(method)
    ctx.batch = step_batch(digits16, 0, 10)
    global_crops, small_crops = method.views(ctx)
    assert global_crops.shape == (20, 1, 16, 16) and small_crops is None
    assert [view.view for view in method.keyed_views()] == [(1, 2)]


# -- the loss ------------------------------------------------------------------------------------


def _paper_loss(embeddings: Tensor, prototypes: Tensor, size: int, crops: int, method: SwAV,
                queue: Tensor | None = None) -> Tensor:
    """main_swav.py's loop over crops_for_assign = [0, 1] and every other crop."""
    output = embeddings @ prototypes.T
    loss = torch.zeros(())
    for crop_id in (0, 1):
        out = output[size * crop_id: size * (crop_id + 1)].detach()
        if queue is not None:
            out = torch.cat([queue[crop_id] @ prototypes.T, out])
        q = _paper_sinkhorn(out, method.epsilon, method.sinkhorn_iterations)[-size:].float()
        subloss = torch.zeros(())
        for view in [v for v in range(crops) if v != crop_id]:
            x = output[size * view: size * (view + 1)] / method.temperature
            subloss = subloss - torch.mean(torch.sum(q * nnf.log_softmax(x, dim=1), dim=1))
        loss = loss + subloss / (crops - 1)
    return loss / 2


def test_swapped_prediction_loss_matches_the_reference(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=2)
    ctx = context(method)
    ctx.batch = step_batch(digits16, 0, 16)
    with torch.no_grad():
        loss = method.training_step(ctx.batch, ctx).loss
        embeddings = method.project(ctx, *method.views(ctx))  # the step's crops, replayed from the keys
    prototypes = ctx.modules["prototypes"].weight
    torch.testing.assert_close(loss, _paper_loss(embeddings, prototypes, 16, 4, method), atol=1e-5, rtol=1e-5)
    assert embeddings.shape == (64, 128)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(64))


def test_codes_come_from_global_crops_only_and_carry_no_gradient(
    digits16: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    method = swav(small_crops=2)
    ctx = context(method)
    seen: list[tuple[tuple[int, ...], bool, bool]] = []
    real = swav_module.sinkhorn_knopp

    def spy(scores: Tensor, epsilon: float, iterations: int) -> Tensor:
        codes = real(scores, epsilon, iterations)
        seen.append((tuple(scores.shape), scores.requires_grad, codes.requires_grad))
        return codes

    monkeypatch.setattr(swav_module, "sinkhorn_knopp", spy)
    ctx.batch = step_batch(digits16, 0, 12)
    loss = method.training_step(ctx.batch, ctx).loss
    assert loss.requires_grad
    assert seen == [((2, 12, 10), False, False)]  # two global crops x B samples x K, no graph


def test_labels_are_never_read(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav()
    ctx = context(method)
    images, labels = digits16
    with torch.no_grad():
        ctx.batch = batch(images[:16], labels[:16], torch.arange(16))
        true_labels = method.training_step(ctx.batch, ctx).loss
        ctx.batch = batch(images[:16], torch.zeros(16, dtype=torch.long), torch.arange(16))
        torch.testing.assert_close(method.training_step(ctx.batch, ctx).loss, true_labels)


def test_loss_is_finite_for_a_small_epsilon(digits16: tuple[Tensor, Tensor]) -> None:
    for epsilon in (1e-3, 1e-4):
        method = swav(epsilon=epsilon, freeze_prototypes_epochs=0)
        ctx = context(method)
        output = train_step(method, step_batch(digits16, 0, 16), ctx)
        assert torch.isfinite(output.loss)
        assert all(torch.isfinite(p).all() for p in ctx.modules["prototypes"].parameters())
        assert all(torch.isfinite(p).all() for p in ctx.model.parameters())


# -- prototypes ------------------------------------------------------------------------------------


def test_prototypes_are_unit_rows_and_fixed_during_the_freeze(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(freeze_prototypes_epochs=1)
    ctx = context(method)
    prototypes = ctx.modules["prototypes"].weight
    torch.testing.assert_close(prototypes.norm(dim=1), torch.ones(10))
    start = prototypes.detach().clone()
    encoder = ctx.model.stages["block1"][0].weight.detach().clone()
    for first in (0, 16, 32):
        train_step(method, step_batch(digits16, first, 16), ctx)
    assert torch.equal(prototypes, start) and prototypes.grad is None  # no gradient, no decay, no momentum
    assert not torch.equal(ctx.model.stages["block1"][0].weight, encoder)  # the encoder did train
    ctx.epoch = 1
    for first in (48, 64):
        train_step(method, step_batch(digits16, first, 16), ctx)
    assert (prototypes - start).abs().max() > 1e-3
    ctx.batch = step_batch(digits16, 80, 16)
    with torch.no_grad():
        method.training_step(ctx.batch, ctx)  # each step starts by re-normalising the rows
    torch.testing.assert_close(prototypes.norm(dim=1), torch.ones(10))


def test_freeze_in_steps(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(freeze_prototypes_epochs=0, freeze_prototypes_steps=2)
    ctx = context(method)
    prototypes = ctx.modules["prototypes"].weight
    start = prototypes.detach().clone()
    for first in (0, 16):
        train_step(method, step_batch(digits16, first, 16), ctx)
    assert torch.equal(prototypes, start) and ctx.step == 2
    train_step(method, step_batch(digits16, 32, 16), ctx)
    assert (prototypes - start).abs().max() > 1e-3


# -- queue ---------------------------------------------------------------------------------------


def test_queue_fills_from_its_epoch_and_is_used_for_the_codes_only(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=1, queue_length=32, queue_start_epoch=1)
    ctx = context(method)
    used = []
    for epoch, first in ((0, 0), (1, 16), (1, 32), (1, 48)):
        ctx.epoch = epoch
        train_step(method, step_batch(digits16, first, 16), ctx)
        used.append(ctx.log.means()["queue_used"])
    assert used == [0.0, 0.0, 0.0, 1.0]  # not filled in epoch 0; used once 32 rows are in
    queue = method._queue
    assert queue is not None and queue.shape == (2, 32, 128) and not queue.requires_grad
    ctx.batch = step_batch(digits16, 64, 16, passes=1)
    with torch.no_grad():
        embeddings = method.project(ctx, *method.views(ctx))
        loss = method.training_step(ctx.batch, ctx).loss
    prototypes = ctx.modules["prototypes"].weight.detach()  # as the step re-normalised them
    torch.testing.assert_close(loss, _paper_loss(embeddings, prototypes, 16, 3, method, queue), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(loss, _paper_loss(embeddings, prototypes, 16, 3, method), atol=1e-4)  # it mattered
    newest = method._queue
    assert newest is not None
    torch.testing.assert_close(newest[:, :16], embeddings[:32].view(2, 16, -1))  # FIFO: the batch enters first
    torch.testing.assert_close(newest[:, 16:], queue[:, :16])


def test_queue_gradient_flows_only_through_the_predictions(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=0, queue_length=16, queue_start_epoch=0, freeze_prototypes_epochs=0)
    ctx = context(method)
    train_step(method, step_batch(digits16, 0, 16), ctx)
    ctx.batch = step_batch(digits16, 16, 16)
    loss = method.training_step(ctx.batch, ctx).loss
    queue = method._queue
    assert queue is not None and not queue.requires_grad and queue.grad_fn is None
    loss.backward()  # the graph reaches the predictions' parameters only
    assert ctx.modules["prototypes"].weight.grad is not None


# -- training ------------------------------------------------------------------------------------


def test_short_training_does_not_collapse(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(small_crops=2, num_prototypes=10, queue_length=80, queue_start_epoch=1)
    ctx = context(method, lr=0.05)
    images, labels = digits16
    order = torch.Generator().manual_seed(3)
    logs = []
    for epoch in range(4):
        ctx.epoch = epoch
        for index in torch.randperm(160, generator=order).split(40):
            train_step(method, batch(images[index], labels[index], index, epoch), ctx)
        logs.append(ctx.log.means())
    assert all(math.isfinite(value) for log in logs for value in log.values())
    assert all(log["assignment_entropy"] > 0.6 * math.log(10) for log in logs)  # collapse would be 0
    assert all(log["marginal_deviation"] < 0.5 for log in logs)
    assert logs[-1]["train_loss"] < logs[0]["train_loss"]
    assert logs[-1]["queue_used"] == 1.0 and logs[0]["queue_used"] == 0.0


def test_probes_read_the_encoder_features() -> None:
    data = prepare_run_data("digits", DataSpec(train_size=100, test_size=100), seed=0)
    method = build_method({"type": "swav", "num_prototypes": 10, "small_crops": 0}, MethodContext(10, (1, 8, 8)))
    with torch.random.fork_rng(devices=[]):
        model = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(0), lambda images: images.float() / 16.0 - 0.5, 10)
    method.setup(ctx)
    normalize = get_modality("image").fit_normalizer(data.streams["labeled"].inputs)
    evaluation = EvalContext(method, ctx.model, {"pretrain": ctx.model}, data, normalize, torch.device("cpu"), 0)
    metrics, _ = evaluate_all(method.evaluations, evaluation)
    assert set(metrics) >= {"test_linear_probe_accuracy", "test_knn_accuracy"}
    assert evaluation.cache["features/labeled"].shape == (100, 32)  # h, not z (128) or the K scores
    with pytest.raises(ConfigError, match="linear_probe or knn"):
        method.predict(ctx.model, torch.zeros(1, 1, 8, 8), normalize)


def test_end_to_end_multi_crop_run_logs_the_card_checks(digits16: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    images, labels = digits16
    for index, (image, label) in enumerate(zip(images.numpy(), labels.tolist())):
        folder = tmp_path / "digits16" / f"{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(folder / f"{index:03d}.png")
    method = {"type": "swav", "num_prototypes": 10, **SMALL, "queue_length": 100, "queue_start_epoch": 1}
    spec = RunSpec.create(dataset={"type": "image_folder", "mode": "L"}, model={"type": "convnet", "base_channels": 4},
                          method=method, seed=0, epochs=3, data=DataSpec(train_size=150, test_size=50),
                          evaluations=(), data_root=str(tmp_path / "digits16"))
    result = train_run(spec)  # the benchmark's path: preflight, phase loop, chunked global crops, probes
    assert 0.0 <= result.metrics["test_linear_probe_accuracy"] <= 1.0
    assert 0.0 <= result.metrics["test_knn_accuracy"] <= 1.0
    assert [c.phase for c in result.checkpoints] == ["pretrain"]
    curve = {(epoch, name): value for phase, epoch, name, value in result.curves}
    assert all(math.isfinite(value) for value in curve.values())
    assert {"code_entropy", "assignment_entropy", "marginal_deviation", "queue_used"} <= {n for _, n in curve}
    assert curve[(2, "assignment_entropy")] > 0.5 * math.log(10) and curve[(2, "queue_used")] > 0


# -- options and bad input -------------------------------------------------------------------------


def test_spec_has_the_paper_defaults() -> None:
    spec = resolve_method("swav")
    assert spec["num_prototypes"] == 3000 and spec["projection_dim"] == 128 and spec["temperature"] == 0.1
    assert spec["epsilon"] == 0.05 and spec["sinkhorn_iterations"] == 3 and spec["small_crops"] == 6
    assert spec["global_scale"] == [0.14, 1.0] and spec["small_scale"] == [0.05, 0.14]
    assert spec["freeze_prototypes_epochs"] == 1 and spec["queue_length"] == 0 and spec["queue_start_epoch"] == 15
    assert "input_shape" not in spec
    method = build_method("swav", MethodContext(10, (3, 224, 224)))
    assert method.small_size == 96 and [phase.name for phase in method.phases(None)] == ["pretrain"]
    with pytest.raises(OptionError, match="unknown option 'nmb_crops'"):
        resolve_method({"type": "swav", "nmb_crops": [2, 6]})


@pytest.mark.parametrize(("options", "match"), [
    ({"small_crops": 14}, "small_crops <= 13"),
    ({"small_crops": -1}, "small_crops=-1"),
    ({"small_crops": 1.5}, "small_crops=1.5"),
    ({"small_size": 16}, "below the images' shorter side 16"),
    ({"small_size": 0}, "small_size=0"),
    ({"global_scale": [0.5, 0.2]}, "global_scale"),
    ({"small_scale": [0.0, 0.1]}, "small_scale"),
    ({"small_scale": 0.1}, "small_scale=0.1"),
    ({"num_prototypes": 1}, "num_prototypes=1"),
    ({"epsilon": 0.0}, "epsilon=0.0"),
    ({"temperature": float("nan")}, "temperature=nan"),
    ({"sinkhorn_iterations": 0}, "sinkhorn_iterations=0"),
    ({"queue_length": -1}, "queue_length=-1"),
    ({"num_prototypes": 40, "queue_length": 32}, "queue_length=32 holds fewer embeddings than num_prototypes=40"),
    ({"freeze_prototypes_steps": -5}, "freeze_prototypes_steps=-5"),
    ({"color_strength": 3.0}, "color_strength=3.0"),
    ({"blur_p": 2.0}, "blur_p=2.0"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_method({"type": "swav", **SMALL, **options}, MethodContext(10, SHAPE))
    assert len(str(info.value).splitlines()) == 1


def test_non_image_data_and_models_that_do_not_pool_globally_are_refused() -> None:
    with pytest.raises(ConfigError, match="use an image dataset"):
        build_method("swav", MethodContext(5, (2, 128), "timeseries"))
    method = swav()
    model = HarnessCNN(in_channels=1, num_classes=10, image_size=SHAPE[1:])  # flatten + linear: size-bound
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(0), lambda images: images.float(), 10)
    with pytest.raises(ConfigError, match="must pool globally") as info:
        method.setup(ctx)
    assert len(str(info.value).splitlines()) == 1
    swav(small_crops=0).setup(ctx)  # two global crops need no global pooling


@pytest.mark.parametrize(("options", "size", "match"), [
    ({}, 1, "batch_size >= 2"),
    ({"queue_length": 10}, 16, "queue_length=10 cannot hold one batch of 16; use queue_length: 16"),
])
def test_batches_too_small_or_too_large_for_the_queue_are_refused(
    digits16: tuple[Tensor, Tensor], options: dict, size: int, match: str
) -> None:
    method = swav(**options)
    ctx = context(method)
    ctx.batch = step_batch(digits16, 0, size)
    with pytest.raises(ConfigError, match=match) as info:
        method.training_step(ctx.batch, ctx)
    assert len(str(info.value).splitlines()) == 1


def test_a_queue_of_any_length_at_least_a_batch_works(digits16: tuple[Tensor, Tensor]) -> None:
    method = swav(queue_length=20, queue_start_epoch=0)  # not a multiple of 16: the FIFO keeps the newest 20
    ctx = context(method)
    train_step(method, step_batch(digits16, 0, 16), ctx)
    before = method._queue
    ctx.batch = step_batch(digits16, 16, 16)
    with torch.no_grad():
        newest = method.project(ctx, *method.views(ctx))[:32].view(2, 16, -1)
        method.training_step(ctx.batch, ctx)
    queue = method._queue
    assert before is not None and queue is not None and queue.shape == (2, 20, 128)
    torch.testing.assert_close(queue[:, :16], newest)
    torch.testing.assert_close(queue[:, 16:], before[:, :4])
