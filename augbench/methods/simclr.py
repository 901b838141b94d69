"""SimCLR: contrastive pretraining of the run's encoder.

Reference:
    Chen, Kornblith, Norouzi and Hinton, "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML 2020 (arXiv:2002.05709); official code google-research/simclr
    (``objective.py``, ``data_util.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.losses import nt_xent
from augbench.methods.base import METHODS, Method, Phase
from augbench.models.heads import encoder_width, projection_head
from augbench.policies.build import build_transform
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Compose, Transform
from augbench.transforms.color import ColorJitter, RandomGrayscale

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["SimCLR", "DEFAULT_AUGMENT"]

DEFAULT_AUGMENT: dict[str, Any] = {
    "type": "Compose",
    "transforms": [
        {"type": "RandomResizedCrop", "size": None, "scale": [0.08, 1.0]},
        {"type": "HorizontalFlip", "p": 0.5},
    ],
}
"""The paper's geometric part: random resized crop (area 8-100 %, aspect 3/4-4/3, back to the
input size, bilinear) and a horizontal flip with p 0.5. Read-only (it is the option's default)."""

_KEY_VIEWS = (1, 2)  # the key views of a sample's two views
_MAX_STRENGTH = 2.5  # the hue shift 0.2 * s must stay within half a turn


@METHODS.register("simclr")
class SimCLR(Method):
    """Pretrain the run's encoder so that two augmented views of a sample agree (NT-Xent).

    Algorithm, per step on the labeled stream's ``B`` images (their labels are never read):

    1. Views: the batch is concatenated with itself and augmented by **one** call of the
       pipeline with keys ``[ctx.keys("labeled", 1); ctx.keys("labeled", 2)]``, so every sample
       gets two different per-sample draws; rows ``b`` and ``B + b`` are its two views. The
       pipeline is ``augment`` (default :data:`DEFAULT_AUGMENT`), then colour jitter with
       probability ``color_p`` and grey-scale with probability ``grayscale_p``.
    2. ``h = model.forward_features(normalize(views)).flatten(1)`` (the encoder: the run's
       model before its head), ``z = g(h)`` with the projection head
       ``g = Linear(D, hidden_dim, bias=False) - BatchNorm1d - ReLU - Linear(hidden_dim,
       projection_dim)`` registered as ``ctx.add_module("projector", g)``.
    3. Loss: :func:`augbench.losses.nt_xent` over the ``2B`` embeddings (cosine similarity /
       ``temperature``, self-similarity masked with -inf, positive = the other view of the same
       sample), averaged over all ``2B`` anchors.
    4. The projector is thrown away: the protocol's evaluations (``linear_probe``, ``knn``) read
       ``forward_features`` of the trained encoder, never ``z``.

    Logged per epoch: ``positive_accuracy``, the fraction of the ``2B`` anchors whose most
    similar other embedding is their positive (chance is ``1 / (2B - 1)``; stuck at chance
    means the loss is broken).

    Colour jitter (torchvision's ``ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)`` with strength ``s``):
    brightness, contrast and saturation factors ~ U[max(0, 1 - 0.8s), 1 + 0.8s], hue shift
    ~ U[-0.2s, 0.2s] turns, all per sample. Single-channel images get brightness and contrast
    only, and no grey-scale step: saturation, hue and grey-scale are identities on grey images.

    Defaults follow the authors' CIFAR-10 recipe (google-research/simclr README): colour
    strength 0.5, jitter p 0.8, grey-scale p 0.2, no blur, temperature 0.5, projection to 128
    dimensions with a hidden layer as wide as the feature. Optimiser, schedule, epochs and
    batch size are the run's (the authors' CIFAR-10 recipe: LARS lr 1.0, wd 1e-4, batch 512, 1000
    epochs).

    The engine has no colour-jitter or grey-scale transform yet, so both are private
    transforms of this module, built on the :mod:`augbench.functional` kernels; they keep the
    per-sample, keyed sample/apply contract but are not registered or serialisable on their
    own (the method's spec describes them through its options).

    Simplified relative to the paper:

    - the four jitter ops run in a fixed order (brightness, contrast, saturation, hue) instead
      of a random order per image;
    - no Gaussian blur (the paper uses it on ImageNet only);
    - the projection head has one hidden layer with batch norm; the official code's head has
      batch norm after the output layer too;
    - batch-norm statistics are computed over both views of the batch on one device (no
      global/cross-replica batch norm);
    - pretraining sees only the labeled stream (no unlabeled or extra data); for 8x8 images
      the paper's 8 % crop area leaves about 2 x 2 pixels: pass e.g.
      ``augment: {type: RandomResizedCrop, size: null, scale: [0.3, 1.0]}`` there.

    Args:
        temperature: NT-Xent temperature ``tau > 0`` (0.5 on CIFAR-10, 0.1 on ImageNet).
        projection_dim: output dimension of the projection head (128).
        hidden_dim: hidden width of the projection head; ``None``: the encoder's feature width.
        augment: the views' geometric (or any engine) pipeline: a transform spec such as
            ``{type: RandomResizedCrop, size: null, scale: [0.2, 1.0]}`` or a policy string; it
            must keep the sample shape. ``None``: colour operations only.
        color_strength: colour-jitter strength ``s`` in [0, 2.5]; 0 turns the jitter off.
        color_p: probability that a view is colour-jittered, in [0, 1].
        grayscale_p: probability that a view is turned grey (RGB only), in [0, 1].
        input_shape: one stored sample's shape (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 (C = 1 or 3) -> a scalar loss.

    Raises:
        ConfigError: an option out of range, a pipeline that changes the sample shape or leaves
            both views identical (no augmentation at all), or colour operations on inputs that
            are not 1- or 3-channel images.
    """

    streams = ("labeled",)
    evaluations = ("linear_probe", "knn")

    def __init__(
        self,
        temperature: float = 0.5,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        augment: Spec | Transform | None = DEFAULT_AUGMENT,
        color_strength: float = 0.5,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        input_shape: tuple[int, ...] = (3, 32, 32),
    ) -> None:
        self.temperature = _positive_number("temperature", temperature, 0.5)
        self.projection_dim = _positive_int("projection_dim", projection_dim, 128)
        self.hidden_dim = None if hidden_dim is None else _positive_int("hidden_dim", hidden_dim, 512)
        color_strength = _number_in("color_strength", color_strength, 0.0, _MAX_STRENGTH, 0.5)
        color_p = _number_in("color_p", color_p, 0.0, 1.0, 0.8)
        grayscale_p = _number_in("grayscale_p", grayscale_p, 0.0, 1.0, 0.2)
        self.input_shape = tuple(int(size) for size in input_shape)
        steps = [] if augment is None else [build_transform(augment)]
        channels = self.input_shape[0]
        if color_strength > 0 and color_p > 0:
            _check_image("color_strength", self.input_shape)
            spread = 0.8 * color_strength  # torchvision's ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)
            steps.append(ColorJitter(spread, spread, spread, 0.2 * color_strength, p=color_p))
        if grayscale_p > 0 and channels != 1:
            _check_image("grayscale_p", self.input_shape)
            steps.append(RandomGrayscale(p=grayscale_p))
        if not steps:
            raise ConfigError(
                "simclr: augment=None with no colour jitter or grey-scale leaves the two views identical; "
                "set augment (e.g. the default crop + flip) or color_strength > 0"
            )
        self.augment = steps[0] if len(steps) == 1 else Compose(steps)
        if len(self.input_shape) == 3:
            shape = self.augment.output_shape(self.input_shape)
            if shape != self.input_shape:
                raise ConfigError(
                    f"simclr: augment turns {self.input_shape} samples into {shape}, but the encoder is built for "
                    "the stored size; resize back to it (RandomResizedCrop size: null)"
                )

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase; its encoder is the run's final model."""
        return [Phase("pretrain", self, self.spec)]

    def setup(self, ctx: TrainContext) -> None:
        """Register the projection head ``projector``, sized from the encoder's feature width and
        initialised from a seed drawn from ``ctx.generator`` (so a run is reproducible)."""
        width = encoder_width(ctx.model, self.input_shape, ctx.device, "simclr")
        hidden = self.hidden_dim or width
        with seeded_init(ctx.generator):
            projector = projection_head(width, hidden, self.projection_dim)
        ctx.add_module("projector", projector)

    def keyed_views(self) -> list[KeyedView]:
        """Both views of the labeled batch from one keyed call (key views 1 and 2)."""
        return [KeyedView(self.augment, "labeled", _KEY_VIEWS)]

    def views(self, ctx: TrainContext) -> Tensor:
        """The ``2B`` views of the current labeled batch from one keyed pipeline call.

        Rows ``b`` and ``B + b`` are the two views of sample ``b`` (key views 1 and 2), so a
        sample's views depend on the seed, its id and the epoch only.

        Shape:
            ``(B, C, H, W)`` stored images -> ``(2B, C, H, W)``, same dtype.
        """
        return ctx.augment(self.augment, "labeled", _KEY_VIEWS)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        views = self.views(ctx)
        features = ctx.model.forward_features(ctx.normalize(views)).flatten(1)
        first, second = ctx.modules["projector"](features).chunk(2)
        loss = nt_xent(first, second, self.temperature)
        ctx.log.add("positive_accuracy", _positive_accuracy(first.detach(), second.detach()))
        return StepOutput(loss)

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: pretraining never trains the model's classifier head."""
        raise ConfigError(
            "simclr trains an encoder, not a classifier; evaluate it with linear_probe or knn "
            "(set the experiment's evaluations: [linear_probe, knn])"
        )


def _positive_accuracy(first: Tensor, second: Tensor) -> Tensor:
    """Fraction of the ``2B`` anchors whose nearest other embedding (cosine) is their positive."""
    batch = first.shape[0]
    embeddings = nn.functional.normalize(torch.cat([first, second]), dim=1)
    similarity = embeddings @ embeddings.T
    similarity.fill_diagonal_(float("-inf"))
    positives = torch.arange(2 * batch, device=embeddings.device).roll(batch)
    return (similarity.argmax(1) == positives).float().mean()


def _check_image(option: str, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise ConfigError(
            f"simclr: {option} needs 1- or 3-channel images (C, H, W), the data has samples of shape {input_shape}; "
            "set color_strength: 0 and grayscale_p: 0"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_number(option: str, value: object, example: float) -> float:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"simclr: {option}={value!r} must be a positive number, e.g. {example}")
    return float(value)


def _positive_int(option: str, value: object, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"simclr: {option}={value!r} must be a positive integer, e.g. {example}")
    return value


def _number_in(option: str, value: object, low: float, high: float, example: float) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise ConfigError(f"simclr: {option}={value!r} must be a number in [{low}, {high}], e.g. {example}")
    return float(value)
