"""ScatSimCLR: SimCLR on a fixed scattering front-end, regularised by a rotation pretext task.

Reference:
    Kinakh, Taran and Voloshynovskiy, "ScatSimCLR: self-supervised contrastive learning with
    pretext task regularization for small-scale datasets", ICCV workshops 2021
    (arXiv:2108.13939); official code vkinakh/scatsimclr (``src/models/scatnet_simclr.py``,
    ``src/trainer/pretext_task_trainer.py``). Card: shared/methods/contrastive.md, ScatSimCLR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputValueError
from augbench.keyed import KeyedGenerator
from augbench.methods.base import METHODS, Phase
from augbench.methods.simclr import DEFAULT_AUGMENT, SimCLR
from augbench.modalities import get_modality
from augbench.models.registry import MODELS
from augbench.random import seeded_init
from augbench.registry import Spec, spec_type
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.transforms.base import Transform

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["ScatSimCLR", "rotate_quarters", "ROTATIONS"]

ROTATIONS = 4
"""The pretext classes: 0, 90, 180 and 270 degrees."""

SCATNET: dict[str, Any] = {"type": "scatnet"}
"""The default encoder: :class:`augbench.models.scattering.ScatNet` (J 2, L 16, narrow adapter)."""

_ROTATION_VIEW = 3  # the key view of the rotation draw (the two SimCLR views use 1 and 2)
_HIDDEN = (512, 128)  # the paper's rotation head: FC 512 -> FC 128 -> 4, dropout 0.5 after each


def rotate_quarters(images: Tensor, quarters: Tensor) -> Tensor:
    """Rotate image ``b`` by ``quarters[b] * 90`` degrees counter-clockwise (``torch.rot90`` on (H, W)).

    Batched: one ``rot90`` per angle (three), selected per sample, no loop over the samples.

    Shape:
        ``images`` ``(B, C, S, S)`` any dtype (square), ``quarters`` ``(B,)`` int64 in 0..3 ->
        ``(B, C, S, S)``, same dtype.

    >>> image = torch.arange(4).reshape(1, 1, 2, 2)
    >>> rotate_quarters(image, torch.tensor([1]))[0, 0].tolist()
    [[1, 3], [0, 2]]
    """
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise InputValueError(
            f"rotate_quarters: images have shape {tuple(images.shape)}; quarter turns need square (B, C, S, S) images"
        )
    if quarters.shape != images.shape[:1]:
        raise InputValueError(f"rotate_quarters: quarters has shape {tuple(quarters.shape)}, expected ({len(images)},)")
    rotated = images
    for turns in range(1, ROTATIONS):
        chosen = (quarters == turns).view(-1, 1, 1, 1)
        rotated = torch.where(chosen, torch.rot90(images, turns, dims=(-2, -1)), rotated)
    return rotated


@METHODS.register("scatsimclr")
class ScatSimCLR(SimCLR):
    """SimCLR (:class:`augbench.methods.simclr.SimCLR`) on a ScatNet encoder, plus rotation prediction.

    Algorithm, per step on the labeled stream's ``B`` images (labels never read):

    1. The contrastive part is SimCLR's step unchanged: two keyed views per sample from one
       batched pipeline call (key views 1, 2), ``h = encoder(view)``, the projector ``g``,
       NT-Xent at ``temperature`` over the ``2B`` embeddings. The encoder is the phase's model,
       ``model`` (default ``{type: scatnet}``: a fixed scattering transform, batch norm, a small
       residual adapter and 4x4 pooling, :class:`augbench.models.scattering.ScatNet`).
    2. Pretext: the **first augmented view** of each sample (the same tensor the NT-Xent saw)
       is rotated by ``k_b * 90`` degrees counter-clockwise, ``k_b`` drawn uniformly in 0..3 per
       sample from its key (key view 3, so it depends on the seed, the sample and the epoch
       only); a separate encoder pass gives ``h_rot`` and the head ``FC(D, 512) - ReLU -
       Dropout 0.5 - FC(512, 128) - ReLU - Dropout 0.5 - FC(128, 4)`` (``ctx.add_module(
       "rotation_head")``) predicts ``k_b``.
    3. ``loss = NT-Xent + rotation_weight * CE(head(h_rot), k)``; ``rotation_weight = 0`` skips
       the rotated pass and is exactly :class:`SimCLR`'s loss on the same encoder.

    Logged per epoch: ``positive_accuracy`` (SimCLR's), ``rotation_loss`` and
    ``rotation_accuracy`` (chance 0.25). The probes (``linear_probe``, ``knn``) read ``h``.
    A phase of zero steps (``pretrain_epochs: 0``) builds no heads and trains nothing: with
    ``model: {type: scatnet, features: scattering}`` that is the card's control, a probe on the
    raw scattering coefficients.

    Cost: SimCLR's two views plus one more encoder pass on ``B`` rotated images (~1.5x SimCLR's
    forward/backward on the same encoder); the scattering front-end has no parameters and no
    weight gradients, but it is recomputed on every view.

    Simplified relative to the paper:

    - the rotated image is one of the two SimCLR views, rotated after its augmentation (the
      card's pitfall; the official code rotates the raw image and augments it afterwards, and
      feeds all four rotations of every image);
    - the projection head is SimCLR's (Linear - BN - ReLU - Linear), the paper's has no BN;
    - the encoder is narrow (see :class:`~augbench.models.scattering.ScatNet`), not ScatSimCLR30;
    - no jigsaw pretext; optimiser, schedule and batch size are the run's (the paper: Adam 3e-4,
      wd 1e-5, cosine, batch 64-256).

    Args:
        rotation_weight: ``lambda >= 0`` of the rotation loss (0.3 in the paper).
        model: the encoder's model spec; ``None`` uses the run's model (e.g. SimCLR + rotation
            on a CNN).
        pretrain_epochs: epochs of the pretraining phase, >= 0; ``None`` uses the run's.
        temperature, projection_dim, hidden_dim, augment, color_strength, color_p, grayscale_p:
            as :class:`SimCLR`, except the default colour strength 1.0 (the card's jitter (0.8, 0.8, 0.8, 0.2)).
        input_shape, modality: from the run's data (never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, S, S)`` uint8 square images -> a scalar loss.

    Raises:
        ConfigError: an option out of range, a model spec that is not valid for the data, or
            non-square images with ``rotation_weight > 0``; SimCLR's errors.
    """

    spec_fields = {"model": "model"}

    def __init__(
        self,
        rotation_weight: float = 0.3,
        model: Spec | None = SCATNET,
        pretrain_epochs: int | None = None,
        temperature: float = 0.5,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        augment: Spec | Transform | None = DEFAULT_AUGMENT,
        color_strength: float = 1.0,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        input_shape: tuple[int, ...] = (1, 28, 28),
        modality: str = "image",
    ) -> None:
        super().__init__(temperature=temperature, projection_dim=projection_dim, hidden_dim=hidden_dim,
                         augment=augment, color_strength=color_strength, color_p=color_p, grayscale_p=grayscale_p,
                         input_shape=input_shape)
        if isinstance(rotation_weight, bool) or not isinstance(rotation_weight, (int, float)) or not (
            0 <= rotation_weight < float("inf")
        ):
            raise ConfigError(f"scatsimclr: rotation_weight={rotation_weight!r} must be a number >= 0, e.g. 0.3")
        if pretrain_epochs is not None and (
            isinstance(pretrain_epochs, bool) or not isinstance(pretrain_epochs, int) or pretrain_epochs < 0
        ):
            raise ConfigError(f"scatsimclr: pretrain_epochs={pretrain_epochs!r} must be an integer >= 0 or null")
        self.rotation_weight = float(rotation_weight)
        if self.rotation_weight > 0 and (len(self.input_shape) != 3 or self.input_shape[1] != self.input_shape[2]):
            raise ConfigError(
                f"scatsimclr: the rotation pretext needs square images, the data has samples of shape "
                f"{self.input_shape}; set rotation_weight: 0"
            )
        if model is not None:
            _check_model(model, self.input_shape, modality)
        self.model = model
        self.pretrain_epochs = pretrain_epochs

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase on ``model`` for ``pretrain_epochs``; its encoder is the run's final model."""
        return [Phase("pretrain", self, self.spec, model=self.model, epochs=self.pretrain_epochs)]

    def setup(self, ctx: TrainContext) -> None:
        """SimCLR's projector, then the rotation head (seeded from ``ctx.generator``); nothing when
        the phase takes no step."""
        if ctx.total_steps == 0:
            return
        super().setup(ctx)
        if self.rotation_weight == 0:
            return
        width = ctx.modules["projector"][0].in_features
        with seeded_init(ctx.generator):
            head = nn.Sequential(
                nn.Linear(width, _HIDDEN[0]), nn.ReLU(inplace=True), nn.Dropout(0.5),
                nn.Linear(_HIDDEN[0], _HIDDEN[1]), nn.ReLU(inplace=True), nn.Dropout(0.5),
                nn.Linear(_HIDDEN[1], ROTATIONS),
            )
        ctx.add_module("rotation_head", head)

    def rotation_labels(self, ctx: TrainContext) -> Tensor:
        """``(B,)`` int64 quarter turns in 0..3 of the current labeled batch, keyed by sample (key view 3)."""
        generator = KeyedGenerator(ctx.keys("labeled", _ROTATION_VIEW), seed=ctx.seed)
        draws = generator.rand((len(ctx.batch["labeled"]),))
        return (draws * ROTATIONS).long().clamp_(max=ROTATIONS - 1).to(ctx.batch["labeled"].inputs.device)

    def rotated_views(self, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        """The first SimCLR view of every sample, rotated by its keyed quarter turns, and the turns.

        Shape:
            ``(B, C, S, S)`` same dtype as the stored images, and ``(B,)`` int64.
        """
        first = self.views(ctx)[: len(ctx.batch["labeled"])]  # already augmented (replayed from the keys)
        quarters = self.rotation_labels(ctx)
        with ctx.timer.augmentation():
            return rotate_quarters(first, quarters), quarters

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        contrastive = super().training_step(batch, ctx).loss
        if self.rotation_weight == 0:
            return StepOutput(contrastive)
        rotated, quarters = self.rotated_views(ctx)
        logits = ctx.modules["rotation_head"](ctx.model.forward_features(ctx.normalize(rotated)).flatten(1))
        rotation_loss = nnf.cross_entropy(logits, quarters)
        ctx.log.add("rotation_loss", rotation_loss.detach())
        ctx.log.add("rotation_accuracy", (logits.detach().argmax(1) == quarters).float().mean())
        return StepOutput(contrastive + self.rotation_weight * rotation_loss)


def _check_model(model: Spec, input_shape: tuple[int, ...], modality: str) -> None:
    """One line naming ``model`` when its spec is unknown or has a bad option for the data."""
    try:
        context = ("num_classes", *get_modality(modality).model_shape(tuple(input_shape)))
        MODELS.resolve(model, context=context)
        spec_type(model, "model")
    except ConfigError as error:
        raise ConfigError(f"scatsimclr: option 'model' is not a valid model spec ({error})") from None
