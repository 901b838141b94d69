"""CAB-KWS (card: shared/methods/contrastive.md, "CAB-KWS").

The card's checklist: pretraining reads the inputs of every training clip and no label; the two
speed/gain views of a clip come from one keyed call per stream and share the clean clip's length
before pooling; the loss is L_rec + lambda * D; the decoder's gradient reaches the encoder (else
removing L_rec would change nothing) and reconstruction weight 0 builds no decoder; fine-tuning
starts from the pretrained encoder. Tiny speech_cnn on 2,000-sample synthetic waveforms.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.methods import CABKWS, MethodContext, build_method, resolve_method
from augbench.methods.cabkws import bottleneck_distance, match_length, standardized_frames
from augbench.models import ConvNet
from augbench.models.speech_cnn import SpeechCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LENGTH = 2000
AUDIO = MethodContext(10, (1, LENGTH), "audio")
TINY = {"type": "speech_cnn", "width": 0.25, "attention_heads": 2, "attention_dim": 16, "bottleneck": 8}


def cabkws(**options: object) -> CABKWS:
    return build_method({"type": "cabkws", **options}, AUDIO)


def tiny_model(seed: int = 0) -> SpeechCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpeechCNN(10, (1, LENGTH), width=0.25, attention_heads=2, attention_dim=16, bottleneck=8)


def context(method: CABKWS, seed: int = 0, model: torch.nn.Module | None = None, lr: float = 1e-3) -> TrainContext:
    model = tiny_model(seed) if model is None else model
    ctx = TrainContext(model, torch.optim.Adam(model.parameters(), lr=lr), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda waves: waves * 4.0, 100, seed=seed,
                       modality="audio")
    method.setup(ctx)
    return ctx


def waves(count: int, seed: int) -> Tensor:
    """``(count, 1, LENGTH)`` tones of random pitch under a smooth envelope, plus a little noise."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(LENGTH) / 8000.0
    pitch = 200 + 800 * torch.rand(count, 1, 1, generator=generator)
    envelope = torch.hann_window(LENGTH)
    return 0.3 * envelope * torch.sin(2 * math.pi * pitch * time) + 0.01 * torch.randn(count, 1, LENGTH, generator=generator)


def two_streams(labels: Tensor | None = None, unlabeled_labels: Tensor | None = None, passes: int = 0) -> Batch:
    labeled, unlabeled = waves(6, 1), waves(10, 2)
    labels = torch.arange(6) % 10 if labels is None else labels
    unlabeled_labels = torch.arange(10) if unlabeled_labels is None else unlabeled_labels
    return Batch({
        "labeled": StreamBatch(labeled, labels, torch.arange(6), passes=passes, pool_size=6),
        "unlabeled": StreamBatch(unlabeled, unlabeled_labels, torch.arange(10), passes=passes, pool_size=10),
    })


# -- views -----------------------------------------------------------------------------------------


def test_both_views_of_each_stream_come_from_one_keyed_call_and_keep_the_clean_length() -> None:
    method = cabkws()
    ctx = context(method)
    calls: list[tuple[int, Tensor]] = []
    pipeline = method.augment

    def recording(inputs: Tensor, generator: object = None, *, keys: Tensor, seed: int) -> Tensor:
        calls.append((inputs.shape[0], keys.clone()))
        return pipeline(inputs, keys=keys, seed=seed)

    method.augment = recording
    ctx.batch = two_streams()
    clean, first, second = method.views(ctx)
    assert [size for size, _ in calls] == [12, 20]  # one call per stream, both views in it
    assert torch.equal(calls[0][1], torch.cat([ctx.keys("labeled", 1), ctx.keys("labeled", 2)]))
    assert torch.equal(calls[1][1], torch.cat([ctx.keys("unlabeled", 1), ctx.keys("unlabeled", 2)]))
    assert clean.shape == first.shape == second.shape == (16, 1, LENGTH)
    assert torch.equal(clean, torch.cat([ctx.batch["labeled"].inputs, ctx.batch["unlabeled"].inputs]))
    assert all(not torch.equal(a, b) for a, b in zip(first, second))  # speed/gain draws differ per view
    assert [(view.stream, view.view) for view in method.keyed_views()] == [("labeled", (1, 2)), ("unlabeled", (1, 2))]


def test_views_that_change_duration_are_cropped_or_padded_to_the_clean_length() -> None:
    assert torch.equal(match_length(torch.ones(2, 1, 5), 3), torch.ones(2, 1, 3))
    assert torch.equal(match_length(torch.ones(2, 1, 3), 5), torch.tensor([1.0, 1, 1, 0, 0]).expand(2, 1, 5))
    method = cabkws()
    ctx = context(method)
    ctx.batch = two_streams()
    for change in (300, -300):  # a pipeline that slows every clip down (longer) or speeds it up (shorter)

        def stretch(inputs: Tensor, generator: object = None, *, keys: Tensor, seed: int, change: int = change) -> Tensor:
            return match_length(inputs, LENGTH + change) * (1 + (keys % 3).view(-1, 1, 1))

        method.augment = stretch
        clean, first, second = method.views(ctx)
        assert first.shape == second.shape == clean.shape == (16, 1, LENGTH)  # same frame count before pooling
        with torch.no_grad():
            assert torch.isfinite(method.training_step(ctx.batch, ctx).loss)


def test_views_are_keyed_by_sample_and_pass() -> None:
    method = cabkws()
    ctx = context(method)
    ctx.batch = two_streams()
    first = method.views(ctx)
    assert all(torch.equal(a, b) for a, b in zip(method.views(ctx), first))  # replayable
    ctx.batch = two_streams(passes=1)
    assert not torch.equal(method.views(ctx)[1], first[1])


# -- no labels in pretraining ----------------------------------------------------------------------


def test_pretraining_reads_no_labels_garbage_labels_give_identical_training() -> None:
    garbage = torch.full((6,), 10**9, dtype=torch.long), torch.full((10,), -7, dtype=torch.long)
    states = []
    for labels in ((None, None), garbage):
        method = cabkws()
        ctx = context(method, seed=3)
        losses = [train_step(method, two_streams(*labels, passes=p), ctx).loss.detach() for p in range(2)]
        states.append((losses, {k: v.clone() for k, v in ctx.model.state_dict().items()},
                       {k: v.clone() for k, v in ctx.modules["decoder"].state_dict().items()}))
    (losses_a, model_a, decoder_a), (losses_b, model_b, decoder_b) = states
    assert all(torch.equal(a, b) for a, b in zip(losses_a, losses_b))
    assert all(torch.equal(model_a[k], model_b[k]) for k in model_a)
    assert all(torch.equal(decoder_a[k], decoder_b[k]) for k in decoder_a)


def test_pretraining_needs_the_unlabeled_stream() -> None:
    assert CABKWS.streams == ("labeled", "unlabeled")
    method = cabkws()
    ctx = context(method)
    ctx.batch = Batch({"labeled": two_streams()["labeled"]})
    with pytest.raises(ConfigError, match="unlabeled"):
        method.views(ctx)


# -- the loss and the decoder ----------------------------------------------------------------------


def _encoder_grads(model: torch.nn.Module) -> dict[str, float]:
    return {name: 0.0 if p.grad is None else float(p.grad.abs().sum()) for name, p in model.named_parameters()}


def test_decoder_gradient_reaches_the_encoder() -> None:
    method = cabkws(consistency_weight=0.0)  # the loss is L_rec only
    ctx = context(method)
    ctx.batch = two_streams()
    loss = method.training_step(ctx.batch, ctx).loss
    loss.backward()
    grads = _encoder_grads(ctx.model)
    for stage in ("conv1", "conv2", "conv3", "attention", "bottleneck"):
        assert any(value > 0 for name, value in grads.items() if name.startswith(f"stages.{stage}.")), stage
    assert all(value == 0 for name, value in grads.items() if name.startswith("head."))  # no classifier training
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ctx.modules["decoder"].parameters())
    assert math.isclose(float(loss.detach()), ctx.log.means()["rec_loss"], rel_tol=1e-6)


def test_reconstruction_weight_zero_builds_no_decoder_and_the_loss_is_lambda_times_distance() -> None:
    method = cabkws(reconstruction_weight=0.0, consistency_weight=2.0, distance="mse")
    ctx = context(method)
    assert "decoder" not in ctx.modules
    ctx.batch = two_streams()
    loss = method.training_step(ctx.batch, ctx).loss
    with torch.no_grad():  # replay the step's views and recompute D by hand
        clean, first, second = method.views(ctx)
        bottleneck = CABKWS._bottleneck(ctx.model, ctx.normalize(torch.cat([clean, first, second])))
        pooled = bottleneck.mean(-1)
        expected = 2.0 * ((pooled[16:32] - pooled[32:]) ** 2).mean()
    torch.testing.assert_close(loss.detach(), expected)
    assert "rec_loss" not in ctx.log.means()


def test_full_loss_is_rec_plus_lambda_distance_and_distances_match_their_formulas() -> None:
    method = cabkws(consistency_weight=0.5)
    ctx = context(method)
    ctx.batch = two_streams()
    with torch.no_grad():
        loss = method.training_step(ctx.batch, ctx).loss
    logged = ctx.log.means()
    assert math.isclose(float(loss), logged["rec_loss"] + 0.5 * logged["distance"], rel_tol=1e-5)
    assert 0 <= logged["pair_accuracy"] <= 1 and logged["bottleneck_std"] > 0
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(bottleneck_distance(a, b, "cosine"),
                               torch.stack([1 - (x @ y) / (x.norm() * y.norm()) for x, y in zip(a, b)]).mean())
    assert float(bottleneck_distance(a, 3 * a, "cosine")) < 1e-6  # scale-free
    torch.testing.assert_close(bottleneck_distance(a, b, "mse"), ((a - b) ** 2).mean())


def test_reconstruction_target_is_the_clean_log_mel_standardised() -> None:
    method = cabkws()
    ctx = context(method)
    frames = CABKWS._frames(ctx.model, waves(4, 0))
    assert frames.shape == (4, 40, 1 + LENGTH // 128)
    target = standardized_frames(frames)
    torch.testing.assert_close(target.mean(dim=(0, 2)), torch.zeros(40), atol=1e-5, rtol=0)
    torch.testing.assert_close(target.std(dim=(0, 2)), torch.ones(40), atol=1e-4, rtol=0)
    decoder = ctx.modules["decoder"]
    assert decoder.features == 40 and decoder.upsample * 4 >= frames.shape[-1] // 4  # covers every frame
    assert decoder(torch.zeros(4, 8, 4)).shape[-1] >= 1 + LENGTH // 128 - decoder.upsample


def test_pretraining_lowers_reconstruction_error() -> None:
    method = cabkws()
    ctx = context(method, lr=1e-2)
    losses = []
    for step in range(12):
        train_step(method, two_streams(passes=step), ctx)
        losses.append(ctx.log.means()["rec_loss"])
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3])


# -- phases ----------------------------------------------------------------------------------------


def test_phases_pretrain_then_finetune_from_its_weights() -> None:
    method = cabkws(pretrain_epochs=4, finetune_epochs=7)
    pretrain, finetune = method.phases(AUDIO)
    assert (pretrain.name, pretrain.epochs, pretrain.method) == ("pretrain", 4, method)
    assert "finetune_epochs" not in pretrain.spec  # the pretrained encoder is shared across fine-tuning settings
    assert (finetune.name, finetune.init_from, finetune.epochs) == ("finetune", "pretrain", 7)
    assert finetune.method.spec["type"] == "supervised" and finetune.method.streams == ("labeled",)


def _shared_fsdd() -> Path:
    root = Path(os.environ["AUGBENCH_DATA"]) / "fsdd"  # AUGBENCH_DATA is set by tests/conftest.py
    if not (root / "recordings").is_dir():
        pytest.skip(f"shared data folder {root} not found")
    return root


def test_finetune_starts_from_the_pretrained_encoder(tmp_path: Path) -> None:
    root = _shared_fsdd()
    lr = 1e-3
    spec = RunSpec.create(
        dataset={"type": "fsdd", "length": LENGTH}, model=TINY,
        method={"type": "cabkws", "pretrain_epochs": 4}, seed=0, epochs=1, batch_size=32,
        data=DataSpec(labeled_per_class=2, unlabeled=40, ratio=1),
        optimizer={"type": "adam", "lr": lr, "weight_decay": 0.0}, schedule="constant", evaluations=(),
        data_root=str(root))
    result = train_run(spec, cache_dir=tmp_path / "cache")
    assert [c.phase for c in result.checkpoints] == ["pretrain", "finetune"]
    pretrained, finetuned = (torch.load(c.path, weights_only=True)["model"] for c in result.checkpoints)
    init = tiny_model(0)  # the run's seed: the fresh initialisation every phase is built with
    names = [name for name, _ in init.named_parameters()]
    moved = max(float((pretrained[n] - init.state_dict()[n]).abs().max()) for n in names)
    assert moved > 2.5 * lr  # 4 Adam steps of pretraining moved the encoder away from its initialisation
    # one fine-tuning step (20 labelled clips) moves each weight by at most lr: it started from the pretrained ones
    assert max(float((finetuned[n] - pretrained[n]).abs().max()) for n in names) <= lr * 1.001
    assert math.isfinite(result.metrics["test_accuracy"])
    assert {"rec_loss", "distance", "pair_accuracy"} <= {name for phase, _, name, _ in result.curves if phase == "pretrain"}


# -- options and models ----------------------------------------------------------------------------


def test_spec_defaults_follow_the_card() -> None:
    spec = resolve_method("cabkws")
    assert spec["consistency_weight"] == 1.0 and spec["reconstruction_weight"] == 1.0
    assert spec["distance"] == "cosine"
    assert [t["type"] for t in spec["augment"]["transforms"]] == ["AudioSpeed", "AudioGain"]
    assert spec["augment"]["transforms"][0]["factor"] == [0.9, 1.1] and spec["augment"]["transforms"][1]["gain_db"] == 6.0
    assert "input_shape" not in spec and "modality" not in spec


@pytest.mark.parametrize(("options", "match"), [
    ({"distance": "l1"}, "distance='l1' is unknown; use one of cosine, mse"),
    ({"consistency_weight": -1.0}, "consistency_weight=-1.0 must be a number >= 0"),
    ({"reconstruction_weight": float("nan")}, "reconstruction_weight=nan"),
    ({"reconstruction_weight": 0.0, "consistency_weight": 0.0}, "both 0; set one > 0"),
    ({"decoder_hidden": 0}, "decoder_hidden=0"),
    ({"pretrain_epochs": 0}, "pretrain_epochs=0"),
    ({"finetune_epochs": 1.5}, "finetune_epochs=1.5"),
    ({"augment": None}, "views identical"),
])
def test_bad_options_are_one_line_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        cabkws(**options)
    assert len(str(info.value).splitlines()) == 1


def test_wrong_data_or_model_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="use fsdd") as info:
        build_method("cabkws", MethodContext(10, (1, 8, 8), "image"))
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(ConfigError, match="bottleneck: 64") as info:
        context(cabkws(), model=SpeechCNN(10, (1, LENGTH), width=0.25))
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(ConfigError, match="no 'bottleneck' stage"):
        context(cabkws(), model=ConvNet(in_channels=1, num_classes=10, image_size=(8, 8), base_channels=4))


def test_speech_cnn_defaults_unchanged_and_cabkws_parts_shapes() -> None:
    plain = SpeechCNN(10, (1, 8000), width=0.5)
    assert list(plain.stages) == ["frontend", "conv1", "conv2", "conv3", "pool"]
    assert sum(p.numel() for p in plain.parameters()) == 9156 and plain.head.in_features == 320
    model = SpeechCNN(10, (1, 8000), width=0.5, attention_heads=4, bottleneck=64)
    assert list(model.stages) == ["frontend", "conv1", "conv2", "conv3", "attention", "bottleneck", "pool"]
    x = torch.randn(3, 1, 8000)
    assert model.forward_features(x, stop_at=6).shape == (3, 64, 16) and model(x).shape == (3, 10)
    assert model.forward_features(torch.randn(2, 1, 6000), stop_at=6).shape == (2, 64, 12)  # any length
    attention_only = SpeechCNN(10, (1, 8000), width=0.5, attention_heads=2, attention_dim=32)
    assert attention_only(x).shape == (3, 10) and attention_only.head.in_features == 32
    for options, match in (({"attention_heads": 3}, "must divide attention_dim=64"),
                           ({"bottleneck": -1}, "bottleneck=-1"), ({"attention_dim": 0}, "attention_dim=0")):
        with pytest.raises(ConfigError, match=match) as info:
            SpeechCNN(10, (1, 8000), **options)
        assert len(str(info.value).splitlines()) == 1
