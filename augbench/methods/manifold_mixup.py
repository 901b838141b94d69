"""Manifold Mixup: mix hidden states at a stage drawn per batch.

Reference:
    Verma et al., "Manifold Mixup: Better Representations by Interpolating Hidden States",
    ICML 2019.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.mix import Mixup, build_mixer
from augbench.models.staged import StagedModel
from augbench.random import randint
from augbench.registry import Spec

__all__ = ["ManifoldMixup", "mix_hidden"]


@METHODS.register("manifold_mixup")
class ManifoldMixup(Method):
    """Interpolate the hidden states of sample pairs at a random mixing point and train on soft targets.

    Per batch: ``mixer.sample`` draws the partners ``j`` and ``lam ~ Beta(alpha, alpha)``
    (exactly as Mixup would, from ``ctx.generator``), then one mixing point ``k`` is drawn
    uniformly from ``points`` (per batch, as in the reference code, never per sample). With
    ``h = model.forward_features(x, stop_at=k)`` the step computes
    ``model.forward_from(lam * h + (1 - lam) * h[j], start_at=k)`` and soft-target
    cross-entropy against ``lam * y + (1 - lam) * y[j]`` (the mixer's targets, with its label
    smoothing). At ``k = 0`` the mixed input is the Mixup batch itself (``mixer.apply``: the
    uint8 blend, rounded), so restricting ``points`` to ``(0,)`` reproduces Mixup draw for
    draw; at ``k > 0`` the hidden state of the normalised clean batch is blended in float.
    Picking ``k`` reads one number back to the host per step (it selects the code path).

    Args:
        mixer: the :class:`~augbench.mix.Mixup` that draws ``lam`` and the partners (its
            ``alpha``: 2.0 on CIFAR and in the benchmark's small-scale harness, 0.2 on
            Tiny-ImageNet; its ``per_sample`` and ``label_smoothing`` apply as for Mixup).
        points: the eligible mixing points of the model (``0`` = the input, ``k`` = after
            stage ``k``, see :class:`~augbench.models.staged.StagedModel`); default
            ``(0, 1)``, the small-scale harness's set {input, after conv1}. The point after the
            head is never eligible (it is not a mixing point).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 on the device -> a scalar float32 loss.
        ``ctx.model`` must be a :class:`~augbench.models.staged.StagedModel`.
    """

    spec_fields = {"mixer": "mixer"}

    def __init__(
        self, mixer: Spec | Mixup = "mixup", points: Sequence[int] = (0, 1), num_classes: int | None = None
    ) -> None:
        mixer = build_mixer(mixer, num_classes)
        if not isinstance(mixer, Mixup):
            raise ConfigError(
                f"ManifoldMixup: mixer must be a Mixup (hidden states are blended), got {mixer!r}; "
                "pass Mixup(num_classes, alpha=2.0)"
            )
        if (
            isinstance(points, (str, bytes))
            or not isinstance(points, Sequence)
            or not points
            or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in points)
            or len(set(points)) != len(points)
        ):
            raise ConfigError(
                f"ManifoldMixup: points={points!r} must be distinct mixing points >= 0; e.g. (0, 1) "
                "for the input and after the first stage"
            )
        self.mixer = mixer
        self.points = tuple(points)

    def setup(self, ctx: TrainContext) -> None:
        """Check that the model has stages and that every eligible point exists."""
        self._staged(ctx)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        model = self._staged(ctx)
        with ctx.timer.augmentation():
            params = self.mixer.sample(batch["labeled"].inputs, batch["labeled"].labels, generator=ctx.generator)
            mixed = self.mixer.apply(batch["labeled"].inputs, batch["labeled"].labels, params)
        choice = randint(torch.full((1,), len(self.points), device=ctx.generator.device), ctx.generator)
        point = self.points[int(choice)]
        if point == 0:
            logits = model(ctx.normalize(mixed.inputs))
        else:
            hidden = model.forward_features(ctx.normalize(batch["labeled"].inputs), stop_at=point)
            logits = model.forward_from(mix_hidden(hidden, mixed.index, mixed.lam), start_at=point)
        loss = soft_cross_entropy(logits, mixed.targets)
        ctx.log.add("mean_lam", mixed.lam.mean())
        ctx.log.add("mixing_point", float(point))
        return StepOutput(loss)


    def _staged(self, ctx: TrainContext) -> StagedModel:
        model = ctx.model
        if not isinstance(model, StagedModel):
            raise ConfigError(
                f"ManifoldMixup: the model {type(model).__name__} has no stages to mix between; "
                "use a StagedModel (harness_cnn, lenet, preact_resnet18, vit_tiny)"
            )
        if max(self.points) > model.num_stages:
            raise ConfigError(
                f"ManifoldMixup: points={self.points} exceed the {model.num_stages} stages of "
                f"{type(model).__name__} ({', '.join(model.stage_names)}); use points in 0..{model.num_stages}"
            )
        return model


def mix_hidden(hidden: Tensor, index: Tensor, lam: Tensor) -> Tensor:
    """``lam * hidden + (1 - lam) * hidden[index]`` per sample.

    Args:
        hidden: ``(B, ...)`` float hidden states (feature maps ``(B, C, h, w)``, tokens
            ``(B, T, D)``, ...).
        index: ``(B,)`` int64 partners.
        lam: ``(B,)`` float weights of the unshuffled samples, in [0, 1].

    Returns:
        The mixed states, same shape and dtype as ``hidden``.
    """
    weight = lam.to(hidden.dtype).view(-1, *([1] * (hidden.ndim - 1)))
    return torch.lerp(hidden[index], hidden, weight)
