"""CAB-KWS: contrastive augmentation for keyword spotting (bottleneck consistency + reconstruction).

Reference:
    CAB-KWS ("contrastive augmentation", unsupervised pretraining for keyword spotting) and its
    IJCNN-2022 predecessor, as summarised in the card (shared/methods/contrastive.md, "CAB-KWS");
    no public code was found, so the details below are a reconstruction, not verified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.spec import MethodContext, build_method
from augbench.policies.build import build_transform
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["CABKWS", "DEFAULT_AUGMENT", "match_length", "bottleneck_distance", "standardized_frames"]

PRETRAIN_PHASE = "pretrain"
FINETUNE_PHASE = "finetune"
DISTANCES = ("cosine", "mse")
PRETRAIN_STREAMS = ("labeled", "unlabeled")
_KEY_VIEWS = (1, 2)

DEFAULT_AUGMENT: dict[str, Any] = {
    "type": "Compose",
    "transforms": [
        {"type": "AudioSpeed", "factor": [0.9, 1.1]},
        {"type": "AudioGain", "gain_db": 6.0},
    ],
}
"""The card's views: speed perturbation x0.9-1.1 (resampling) then gain +-6 dB, per sample."""


def match_length(waveforms: Tensor, length: int) -> Tensor:
    """Crop (at the end) or zero-pad (at the end) the last axis to ``length`` samples.

    Speed perturbation changes an utterance's duration; both views and the clean input must have
    the same frame count before the bottleneck is pooled (the card's pitfall). ``AudioSpeed``
    already keeps the window; this guards pipelines that do not.

    Shape:
        ``(N, ..., T)`` -> ``(N, ..., length)``, same dtype.
    """
    size = waveforms.shape[-1]
    if size >= length:
        return waveforms[..., :length]
    return nnf.pad(waveforms, (0, length - size))


def bottleneck_distance(first: Tensor, second: Tensor, distance: str) -> Tensor:
    """Mean distance between paired pooled bottlenecks ``(N, D)``: ``1 - cos`` or squared error.

    ``cosine``: ``mean_n (1 - cos(first_n, second_n))`` in [0, 2]; ``mse``: ``mean_{n,d}
    (first - second)^2``. Returns a 0-d float tensor.
    """
    if distance == "cosine":
        return (1 - nnf.cosine_similarity(first, second, dim=1)).mean()
    return nnf.mse_loss(first, second)


def standardized_frames(frames: Tensor) -> Tensor:
    """Per-feature standardisation over the batch and time: the reconstruction target.

    ``frames`` ``(N, F, T)`` log-mel frames (``F`` = channels x mel bins) -> ``(N, F, T)`` with
    zero mean and unit variance per feature over ``N x T`` (no parameters, so the target cannot
    be shrunk by training, unlike the model's front-end batch norm).
    """
    mean = frames.mean(dim=(0, 2), keepdim=True)
    std = frames.std(dim=(0, 2), keepdim=True).clamp_min(1e-5)
    return (frames - mean) / std


class FrameDecoder(nn.Module):
    """Per bottleneck frame, an MLP predicting ``upsample`` log-mel frames of ``features`` values.

    Shape:
        ``(N, D, T')`` float bottleneck -> ``(N, features, T' * upsample)`` float frames.
    """

    def __init__(self, bottleneck: int, hidden: int, features: int, upsample: int) -> None:
        super().__init__()
        self.features, self.upsample = features, upsample
        self.net = nn.Sequential(nn.Linear(bottleneck, hidden), nn.ReLU(), nn.Linear(hidden, upsample * features))

    def forward(self, bottleneck: Tensor) -> Tensor:
        batch, _, frames = bottleneck.shape
        out = self.net(bottleneck.transpose(1, 2))  # (N, T', up * F)
        return out.reshape(batch, frames * self.upsample, self.features).transpose(1, 2)


@METHODS.register("cabkws")
class CABKWS(Method):
    """Pretrain a KWS encoder on unlabeled speech (bottleneck consistency + reconstruction), then fine-tune.

    Phase ``pretrain`` (the run's model, which needs a ``bottleneck`` stage, e.g. ``{type:
    speech_cnn, attention_heads: 4, bottleneck: 64}``: CNN -> frame self-attention -> per-frame
    bottleneck), per step on the inputs of the ``labeled`` and ``unlabeled`` streams together
    (``N`` clips; **no label is read**: the step never touches ``.labels``):

    1. Views: for each stream one keyed engine call makes both views (keys 1 and 2) with
       ``augment`` (default: speed x0.9-1.1, gain +-6 dB, per sample); every view is cropped or
       zero-padded to the clean clip's length (:func:`match_length`) so all three share a frame
       count.
    2. One forward of ``[clean; view 1; view 2]`` up to the bottleneck: ``b`` ``(3N, D, T')``
       per frame; pooled bottleneck ``p = model.stages["pool"](b)`` ``(3N, D)`` (mean over frames,
       what the classifier head reads).
    3. ``L_rec``: a decoder (:class:`FrameDecoder`, module ``decoder``) maps the clean clip's
       per-frame bottleneck to its log-mel frames; target = the clean input's log-mel frames
       (the model's parameter-free ``LogMel``), standardised per mel bin over the batch
       (:func:`standardized_frames`), MSE. Its gradient reaches the whole encoder.
    4. ``D``: :func:`bottleneck_distance` between the pooled bottlenecks of view 1 and view 2
       (``cosine``: ``1 - cos``, the default, or ``mse``).
    5. ``loss = reconstruction_weight * L_rec + consistency_weight * D``. With
       ``reconstruction_weight: 0`` no decoder is built (the "without L_rec" ablation);
       ``consistency_weight: 0`` is a plain frame autoencoder.

    Phase ``finetune``: plain supervised cross-entropy (``{type: supervised}``) on the labeled
    stream, starting from the pretrained encoder (``init_from``: every stage, the head is the
    pretrained model's untouched initialisation), fresh optimiser and schedule. The
    evaluations score it.

    Logged per pretraining epoch: ``rec_loss``, ``distance``, ``pair_accuracy`` (fraction of
    view-1 bottlenecks whose nearest view-2 bottleneck, by cosine, is their own: collapse shows
    as chance ``1 / N``) and ``bottleneck_std`` (mean over units of the std over the batch of
    the pooled clean bottleneck: ~0 is a collapsed representation).

    Cost: pretraining forwards/backwards 3 copies of ``N = (1 + ratio) * batch_size`` clips
    per step. The epoch follows the labeled stream (``ceil(labeled / batch_size)`` steps), so
    with few labels a pretraining epoch is few steps; ``pretrain_epochs`` sets their number.

    Simplified relative to the paper (no public code; details not verified):

    - the encoder is augbench's small ``speech_cnn`` (3 conv blocks) with one self-attention
      block over frames and a linear per-frame bottleneck, not the paper's compressed
      CNN-attention backbone;
    - the decoder is a per-frame MLP from the bottleneck to 4 log-mel frames (the conv stack
      halves time twice), not the paper's decoder; it reconstructs the clean clip only;
    - ``D`` compares the two augmented views (no negatives, no projection head); the card does
      not fix whether the clean clip is a view;
    - fine-tuning uses no augmentation and the run's optimiser and schedule.

    Args:
        augment: the views' waveform pipeline (a transform spec); it must change the clip.
        distance: ``cosine`` (default) or ``mse`` between pooled bottlenecks.
        consistency_weight: ``lambda >= 0`` (the card: 1).
        reconstruction_weight: ``>= 0``; 0 is the method without ``L_rec``.
        decoder_hidden: hidden width of the decoder MLP (> 0).
        pretrain_epochs, finetune_epochs: epochs of each phase; ``None`` uses the run's.
        input_shape, modality: from the run's data (waveforms ``(C, T)``, or spectrograms).

    Shape:
        ``batch["labeled"].inputs``, ``batch["unlabeled"].inputs`` ``(B, C, T)`` float -> a
        scalar loss.

    Raises:
        ConfigError: a bad option, both weights 0, a non-audio modality, or a model without a
            ``bottleneck`` stage.
    """

    streams = PRETRAIN_STREAMS
    evaluations = ("accuracy",)
    spec_fields = {"augment": "transform"}

    def __init__(
        self,
        augment: Spec | Transform = DEFAULT_AUGMENT,
        distance: str = "cosine",
        consistency_weight: float = 1.0,
        reconstruction_weight: float = 1.0,
        decoder_hidden: int = 128,
        pretrain_epochs: int | None = None,
        finetune_epochs: int | None = None,
        input_shape: Sequence[int] | None = None,
        modality: str = "audio",
    ) -> None:
        if modality not in ("audio", "spectrogram"):
            raise ConfigError(f"cabkws: needs speech (audio or spectrogram data), got modality {modality!r}; use fsdd")
        if augment is None:
            raise ConfigError("cabkws: augment=None leaves the two views identical; use the default speed + gain")
        if distance not in DISTANCES:
            raise ConfigError(f"cabkws: distance={distance!r} is unknown; use one of {', '.join(DISTANCES)}")
        for name, value in (("consistency_weight", consistency_weight), ("reconstruction_weight", reconstruction_weight)):
            if not _number(value) or value < 0:
                raise ConfigError(f"cabkws: {name}={value!r} must be a number >= 0 (the card: 1)")
        if consistency_weight == 0 and reconstruction_weight == 0:
            raise ConfigError("cabkws: consistency_weight and reconstruction_weight are both 0; set one > 0")
        if not _count(decoder_hidden):
            raise ConfigError(f"cabkws: decoder_hidden={decoder_hidden!r} must be a positive int, e.g. 128")
        for name, value in (("pretrain_epochs", pretrain_epochs), ("finetune_epochs", finetune_epochs)):
            if value is not None and not _count(value):
                raise ConfigError(f"cabkws: {name}={value!r} must be a positive int, or null for the run's epochs")
        self.augment = build_transform(augment)
        self.distance = distance
        self.consistency_weight = float(consistency_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.decoder_hidden = decoder_hidden
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.input_shape = None if input_shape is None else tuple(input_shape)

    def phases(self, context: MethodContext) -> list[Phase]:
        """``pretrain`` (this method, no labels, cached), then ``finetune`` (supervised, from its weights)."""
        finetune = build_method({"type": "supervised"}, context)
        pretrain_spec = {key: value for key, value in self.spec.items() if key != "finetune_epochs"}
        return [
            Phase(PRETRAIN_PHASE, self, pretrain_spec, epochs=self.pretrain_epochs),
            Phase(FINETUNE_PHASE, finetune, finetune.spec, init_from=PRETRAIN_PHASE, epochs=self.finetune_epochs),
        ]

    def setup(self, ctx: TrainContext) -> None:
        """Check the encoder's ``bottleneck`` stage and build the decoder (when ``reconstruction_weight > 0``),
        sized by a shape probe and initialised from a seed drawn from ``ctx.generator``."""
        stages = getattr(ctx.model, "stages", None)
        if not isinstance(stages, nn.ModuleDict) or "bottleneck" not in stages or "pool" not in stages:
            raise ConfigError(
                f"cabkws: {type(ctx.model).__name__} has no 'bottleneck' stage; use "
                "{type: speech_cnn, attention_heads: 4, bottleneck: 64}"
            )
        if self.reconstruction_weight == 0:
            return
        shape = self.input_shape or tuple(ctx.model.input_shape)
        was_training = ctx.model.training
        ctx.model.eval()  # a shape probe must not move batch-norm statistics
        with torch.no_grad():
            probe = torch.zeros(2, *shape, device=ctx.device)
            frames = self._frames(ctx.model, probe)
            bottleneck = self._bottleneck(ctx.model, probe)
        ctx.model.train(was_training)
        upsample = math.ceil(frames.shape[-1] / bottleneck.shape[-1])
        with seeded_init(ctx.generator):
            decoder = FrameDecoder(bottleneck.shape[1], self.decoder_hidden, frames.shape[1], upsample)
        ctx.add_module("decoder", decoder)

    def keyed_views(self) -> list[KeyedView]:
        """Both views of each pretraining stream from one keyed call (key views 1 and 2)."""
        return [KeyedView(self.augment, stream, _KEY_VIEWS) for stream in PRETRAIN_STREAMS]

    def views(self, ctx: TrainContext) -> tuple[Tensor, Tensor, Tensor]:
        """The clean clips and their two views, labeled then unlabeled rows, all of the clean length.

        Shape:
            stored ``(B_l, C, T)`` and ``(B_u, C, T)`` -> three ``(N, C, T)``, ``N = B_l + B_u``.
        """
        batch = ctx.batch
        clean, first, second = [], [], []
        for stream in PRETRAIN_STREAMS:
            inputs = batch[stream].inputs
            one, two = match_length(ctx.augment(self.augment, stream, _KEY_VIEWS), inputs.shape[-1]).chunk(2)
            clean.append(inputs)
            first.append(one)
            second.append(two)
        return torch.cat(clean), torch.cat(first), torch.cat(second)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        clean, first, second = self.views(ctx)
        count = clean.shape[0]
        model = ctx.model
        inputs = ctx.normalize(torch.cat([clean, first, second]))
        bottleneck = self._bottleneck(model, inputs)  # (3N, D, T')
        pooled = model.stages["pool"](bottleneck)  # (3N, D)
        clean_pooled, first_pooled, second_pooled = pooled.split(count)
        distance = bottleneck_distance(first_pooled, second_pooled, self.distance)  # logged even at weight 0
        loss = self.consistency_weight * distance
        if self.reconstruction_weight > 0:
            rec_loss = self.reconstruction_loss(ctx, inputs[:count], bottleneck[:count])
            loss = loss + self.reconstruction_weight * rec_loss
            ctx.log.add("rec_loss", rec_loss)
        with torch.no_grad():
            ctx.log.add("distance", distance)
            ctx.log.add("pair_accuracy", _pair_accuracy(first_pooled, second_pooled))
            ctx.log.add("bottleneck_std", clean_pooled.std(0).mean())
        return StepOutput(loss)

    def reconstruction_loss(self, ctx: TrainContext, clean_inputs: Tensor, clean_bottleneck: Tensor) -> Tensor:
        """MSE between the decoder's frames from the clean bottleneck and the clean clip's standardised log-mel.

        Shape:
            ``(N, C, T)`` normalised clean inputs, ``(N, D, T')`` bottleneck -> 0-d tensor.
        """
        with torch.no_grad():
            target = standardized_frames(self._frames(ctx.model, clean_inputs))
        decoded = ctx.modules["decoder"](clean_bottleneck)[..., : target.shape[-1]]
        return nnf.mse_loss(decoded, target)

    @staticmethod
    def _bottleneck(model: nn.Module, inputs: Tensor) -> Tensor:
        """The per-frame bottleneck ``(N, D, T')`` (the stages up to and with ``bottleneck``)."""
        return model.forward_features(inputs, stop_at=list(model.stages).index("bottleneck") + 1)

    @staticmethod
    def _frames(model: nn.Module, inputs: Tensor) -> Tensor:
        """Log-mel frames ``(N, C * n_mels, frames)`` of model inputs: the front-end's parameter-free
        ``LogMel`` for waveforms, the input itself for spectrograms."""
        if "frontend" in model.stages:
            inputs = model.stages["frontend"][0](inputs)
        return inputs.flatten(1, -2)


def _pair_accuracy(first: Tensor, second: Tensor) -> Tensor:
    """Fraction of rows of ``first`` whose most cosine-similar row of ``second`` is the same sample."""
    similarity = nnf.normalize(first, dim=1) @ nnf.normalize(second, dim=1).T
    return (similarity.argmax(1) == torch.arange(first.shape[0], device=first.device)).float().mean()


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
