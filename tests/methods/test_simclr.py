"""SimCLR and the untrained floor (card: shared/methods/contrastive.md, SimCLR).

The card's checklist: two views per sample from one batched, keyed call; NT-Xent whose
positive is the other view of the same sample; a projector that is trained and then ignored
(the probes read the encoder); positive-pair accuracy well above chance; a random-init floor
that trains nothing. Tiny models (a 4-channel ConvNet on 8x8 digits), few steps.
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
from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError
from augbench.evaluation import EvalContext, evaluate_all
from augbench.methods import MethodContext, SimCLR, Untrained, build_method, resolve_method
from augbench.modalities import get_modality
from augbench.models import ConvNet
from augbench.registry import OptionError
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

DIGITS_CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}
TINY = {"type": "convnet", "base_channels": 8}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # 8x8 nets only lose time to intra-op threads


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:64], dataset.labels[:64]


def simclr(**options: object) -> SimCLR:
    return build_method({"type": "simclr", "augment": DIGITS_CROP, **options}, MethodContext(10, (1, 8, 8)))


def context(method: SimCLR, seed: int = 0, lr: float = 0.1) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 16.0 - 0.5, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, ids: Tensor, passes: int = 0) -> Batch:
    return Batch({"labeled": StreamBatch(images, labels, ids, passes=passes, pool_size=1000)})


def views_of(method: SimCLR, ctx: TrainContext, step_batch: Batch) -> Tensor:
    ctx.batch = step_batch
    return method.views(ctx)


# -- views ---------------------------------------------------------------------------------------


def test_two_views_per_sample_come_from_one_keyed_call(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr()
    ctx = context(method)
    calls: list[tuple[int, Tensor, int]] = []
    pipeline = method.augment

    def recording(images: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
        calls.append((images.shape[0], keys.clone(), seed))
        return pipeline(images, keys=keys, seed=seed)

    method.augment = recording
    images, labels = digits
    ctx.batch = batch(images[:16], labels[:16], torch.arange(100, 116), passes=2)
    method.training_step(ctx.batch, ctx)
    assert len(calls) == 1  # one engine call for both views of every sample
    size, keys, seed = calls[0]
    assert size == 32 and seed == ctx.seed
    assert torch.equal(keys, torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))


def test_views_differ_within_a_sample_and_between_copies_of_one_image(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr()
    ctx = context(method)
    images, labels = digits
    copies = images[:1].expand(8, -1, -1, -1).contiguous()  # one image, eight sample ids
    views = views_of(method, ctx, batch(copies, labels[:8], torch.arange(8)))
    assert views.shape == (16, 1, 8, 8) and views.dtype == torch.uint8
    first, second = views.chunk(2)
    assert all(not torch.equal(a, b) for a, b in zip(first, second))  # the two views of a sample differ
    assert len({row.numpy().tobytes() for row in views}) == 16  # per-sample draws, not one per call


def test_views_are_keyed_by_sample_and_epoch_not_by_batch_order(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr()
    ctx = context(method)
    images, labels = digits
    ids = torch.arange(10, 22)
    whole = views_of(method, ctx, batch(images[:12], labels[:12], ids))
    order = torch.randperm(12, generator=torch.Generator().manual_seed(3))
    shuffled = views_of(method, ctx, batch(images[order], labels[order], ids[order]))
    assert torch.equal(shuffled, whole[torch.cat([order, order + 12])])
    assert torch.equal(views_of(method, ctx, batch(images[:12], labels[:12], ids)), whole)  # replayable
    next_epoch = views_of(method, ctx, batch(images[:12], labels[:12], ids, passes=1))
    assert not torch.equal(next_epoch, whole)


def test_loss_does_not_depend_on_batch_order(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr()
    ctx = context(method)
    images, labels = digits
    ids = torch.arange(32)
    order = torch.randperm(32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        losses = []
        for index in (torch.arange(32), order):
            ctx.batch = batch(images[index], labels[index], ids[index])
            losses.append(method.training_step(ctx.batch, ctx).loss)
    torch.testing.assert_close(losses[0], losses[1])


def test_labels_are_never_read(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr()
    ctx = context(method)
    images, labels = digits
    with torch.no_grad():
        ctx.batch = batch(images[:16], labels[:16], torch.arange(16))
        true_labels = method.training_step(ctx.batch, ctx).loss
        ctx.batch = batch(images[:16], torch.zeros(16, dtype=torch.long), torch.arange(16))
        torch.testing.assert_close(method.training_step(ctx.batch, ctx).loss, true_labels)


# -- the loss ------------------------------------------------------------------------------------


def _reference_nt_xent(embeddings: Tensor, sample_ids: Tensor, temperature: float) -> Tensor:
    """Eq. (1) of the paper anchor by anchor: the positive is the other row with the same sample id."""
    unit = nnf.normalize(embeddings, dim=1)
    similarity = unit @ unit.T / temperature
    total = torch.zeros(())
    for anchor in range(len(unit)):
        others = [j for j in range(len(unit)) if j != anchor]
        (positive,) = [j for j in others if sample_ids[j] == sample_ids[anchor]]
        total += torch.logsumexp(similarity[anchor, others], 0) - similarity[anchor, positive]
    return total / len(unit)


def test_nt_xent_positive_is_the_other_view_of_the_same_sample(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr(temperature=0.3)
    ctx = context(method)
    images, labels = digits
    ids = torch.arange(40, 50)
    ctx.batch = batch(images[:10], labels[:10], ids)
    with torch.no_grad():
        loss = method.training_step(ctx.batch, ctx).loss
        views = method.views(ctx)  # the step's views, replayed from the keys
        embeddings = ctx.modules["projector"](ctx.model.forward_features(ctx.normalize(views)).flatten(1))
    sample_ids = torch.cat([ids, ids])
    torch.testing.assert_close(loss, _reference_nt_xent(embeddings, sample_ids, 0.3))
    wrong_pairs = torch.cat([ids, ids.roll(1)])  # pair each view with another sample's view
    assert not torch.allclose(loss, _reference_nt_xent(embeddings, wrong_pairs, 0.3), atol=1e-3)


def test_projector_is_trained_and_the_classifier_head_is_not(digits: tuple[Tensor, Tensor]) -> None:
    method = simclr(projection_dim=16)
    ctx = context(method)
    projector = ctx.modules["projector"]
    assert projector[-1].out_features == 16 and projector[0].in_features == 32  # 8 * base_channels
    optimised = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in projector.parameters())
    before = {name: p.detach().clone() for name, p in projector.named_parameters()}
    head = {name: p.detach().clone() for name, p in ctx.model.head.named_parameters()}
    encoder = ctx.model.stages["block1"][0].weight.detach().clone()
    images, labels = digits
    for start in (0, 16, 32):
        train_step(method, batch(images[start:start + 16], labels[start:start + 16], torch.arange(start, start + 16)), ctx)
    assert all(not torch.equal(p, before[name]) for name, p in projector.named_parameters())
    assert not torch.equal(ctx.model.stages["block1"][0].weight, encoder)
    assert all(torch.equal(p, head[name]) for name, p in ctx.model.head.named_parameters())  # pretraining ignores it


def test_projector_initialisation_is_seeded() -> None:
    first, second = context(simclr(), seed=4), context(simclr(), seed=4)
    for a, b in zip(first.modules["projector"].parameters(), second.modules["projector"].parameters()):
        assert torch.equal(a, b)


def test_probes_read_the_encoder_features_not_the_projection() -> None:
    data = prepare_run_data("digits", DataSpec(train_size=100, test_size=100), seed=0)
    method = simclr(projection_dim=16)
    ctx = context(method)
    normalize = get_modality("image").fit_normalizer(data.streams["labeled"].inputs)
    evaluation = EvalContext(method, ctx.model, {"pretrain": ctx.model}, data, normalize, torch.device("cpu"), 0)
    metrics, _ = evaluate_all(method.evaluations, evaluation)
    assert set(metrics) >= {"test_linear_probe_accuracy", "test_knn_accuracy"}
    assert evaluation.cache["features/labeled"].shape == (100, 32)  # h (8 * base_channels), not z (16)


def test_predict_is_refused_with_the_fix() -> None:
    for method in (simclr(), build_method("untrained", MethodContext(10, (1, 8, 8)))):
        with pytest.raises(ConfigError, match="linear_probe or knn"):
            method.predict(torch.nn.Identity(), torch.zeros(1, 1, 8, 8), lambda x: x)


# -- colour ----------------------------------------------------------------------------------------


def test_grey_images_get_intensity_jitter_only() -> None:
    grey = build_method({"type": "simclr", "augment": None, "color_p": 1.0}, MethodContext(10, (1, 8, 8)))
    assert "Grayscale" not in repr(grey.augment)  # grey-scale is the identity on grey images
    images = torch.randint(30, 200, (16, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    jittered = grey.augment(images, keys=torch.arange(16), seed=0)
    assert jittered.shape == images.shape and jittered.dtype == torch.uint8
    assert (jittered != images).any(dim=(1, 2, 3)).float().mean() > 0.9  # brightness/contrast change them


def test_rgb_colour_jitter_and_grey_scale() -> None:
    rgb = MethodContext(10, (3, 16, 16))
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    keys = torch.arange(32)
    grey = build_method({"type": "simclr", "augment": None, "color_strength": 0.0, "grayscale_p": 1.0}, rgb)
    out = grey.augment(images, keys=keys, seed=0)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    faint = build_method({"type": "simclr", "augment": None, "color_strength": 1e-4, "color_p": 1.0,
                          "grayscale_p": 0.0}, rgb)
    assert (faint.augment(images, keys=keys, seed=0).int() - images.int()).abs().max() <= 1
    strong = build_method({"type": "simclr", "augment": None, "color_strength": 1.0, "color_p": 1.0,
                           "grayscale_p": 0.0}, rgb)
    shifted = strong.augment(images, keys=keys, seed=0)
    assert (shifted.float() - images.float()).abs().mean() > 10
    assert torch.equal(strong.augment(images, keys=keys, seed=0), shifted)


# -- options -------------------------------------------------------------------------------------


def test_spec_has_the_card_defaults_and_no_data_options() -> None:
    spec = resolve_method("simclr")
    assert spec["temperature"] == 0.5 and spec["projection_dim"] == 128 and spec["hidden_dim"] is None
    assert spec["color_strength"] == 0.5 and spec["color_p"] == 0.8 and spec["grayscale_p"] == 0.2
    assert spec["augment"]["transforms"][0] == {"type": "RandomResizedCrop", "size": None, "scale": [0.08, 1.0]}
    assert "input_shape" not in spec
    assert resolve_method("untrained") == {"type": "untrained"}
    assert [phase.name for phase in build_method("simclr", MethodContext(10, (3, 32, 32))).phases(None)] == ["pretrain"]


@pytest.mark.parametrize(("options", "match"), [
    ({"temperature": 0.0}, "temperature=0.0"),
    ({"temperature": float("nan")}, "temperature=nan"),
    ({"temperature": "0.5"}, "temperature='0.5'"),
    ({"projection_dim": 0}, "projection_dim=0"),
    ({"hidden_dim": 1.5}, "hidden_dim=1.5"),
    ({"color_strength": 3.0}, r"color_strength=3.0 must be a number in \[0.0, 2.5\]"),
    ({"color_p": 1.5}, "color_p=1.5"),
    ({"grayscale_p": -0.1}, "grayscale_p=-0.1"),
    ({"augment": {"type": "RandomResizedCrop", "size": 16}}, "size: null"),
    ({"augment": None, "color_strength": 0.0, "grayscale_p": 0.0}, "two views identical"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_method({"type": "simclr", **options}, MethodContext(10, (3, 32, 32)))
    assert len(str(info.value).splitlines()) == 1


def test_colour_on_non_image_data_and_unknown_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="set color_strength: 0 and grayscale_p: 0"):
        build_method({"type": "simclr", "augment": None}, MethodContext(5, (2, 128), "timeseries"))
    with pytest.raises(OptionError, match="unknown option 'temprature'"):
        resolve_method({"type": "simclr", "temprature": 0.5})
    with pytest.raises(OptionError, match="set by the run"):
        resolve_method({"type": "simclr", "input_shape": [3, 32, 32]})


# -- end to end ----------------------------------------------------------------------------------


def _run(method: object, tmp_path: Path | None = None, epochs: int = 3) -> object:
    spec = RunSpec.create(dataset="digits", model=TINY, method=method, seed=0, epochs=epochs,
                          data=DataSpec(train_size=200, test_size=300), evaluations=())
    return train_run(spec, cache_dir=tmp_path)


def test_simclr_end_to_end_gives_probe_metrics_and_learns_to_find_positives() -> None:
    result = _run({"type": "simclr", "augment": DIGITS_CROP})
    assert 0.0 <= result.metrics["test_linear_probe_accuracy"] <= 1.0
    assert 0.0 <= result.metrics["test_knn_accuracy"] <= 1.0
    assert [c.phase for c in result.checkpoints] == ["pretrain"]
    curve = {(epoch, name): value for phase, epoch, name, value in result.curves}
    assert all(math.isfinite(value) for value in curve.values())
    chance = 1 / (2 * 50 - 1)  # batches of 50: 99 candidates per anchor
    assert curve[(2, "positive_accuracy")] > max(5 * chance, curve[(0, "positive_accuracy")])
    assert curve[(2, "train_loss")] < curve[(0, "train_loss")] < math.log(2 * 50 - 1)


def test_untrained_trains_no_parameter(tmp_path: Path) -> None:
    result = _run("untrained", tmp_path, epochs=5)
    assert set(result.metrics) >= {"test_linear_probe_accuracy", "test_knn_accuracy"}
    assert result.curves == [] and result.phase_metrics["init"]["train_samples"] == 0.0
    (checkpoint,) = result.checkpoints
    assert checkpoint.phase == "init"
    saved = torch.load(checkpoint.path, weights_only=True)["model"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the run's seed: the initialisation every method of the run starts from
        fresh = ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=8).state_dict()
    assert saved.keys() == fresh.keys()
    assert all(torch.equal(saved[name], fresh[name]) for name in fresh)  # weights and BN statistics
    assert isinstance(build_method("untrained", MethodContext(10, (1, 8, 8))), Untrained)
