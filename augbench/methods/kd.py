"""Knowledge distillation (Hinton et al.): a trained, frozen teacher's softened outputs teach a student."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf

from augbench.errors import ConfigError
from augbench.losses import kd_kl_divergence
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.spec import MethodContext, build_method
from augbench.modalities import get_modality
from augbench.models import MODELS
from augbench.policies.build import build_transform
from augbench.registry import Spec, spec_type
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["KnowledgeDistillation"]

TEACHER_PHASE = "teacher"


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _augmentation(option: str, spec: Spec | None) -> Transform | None:
    try:
        return build_transform(spec)
    except (ValueError, TypeError) as error:  # ConfigError and the transforms' own argument checks
        raise ConfigError(f"kd: option {option!r} is not a valid transform spec ({error})") from None


@METHODS.register("kd")
class KnowledgeDistillation(Method):
    """Hinton knowledge distillation in two phases: ``teacher`` (cached), then ``student``.

    Algorithm (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015):

    1. Phase ``teacher``: plain supervised training (``{type: supervised, augment:
       teacher_augment}``) of the ``teacher`` model on the labeled stream for ``teacher_epochs``
       epochs. Its phase spec is exactly that supervised spec, so its cache key depends only on
       the data, the seed, the teacher model, its epochs, its augmentation and the optimiser
       settings: every student run with those settings (any ``temperature``, ``alpha`` or
       student ``augment``) reuses one cached teacher.
    2. Phase ``student`` (the run's model): every batch is augmented once (``augment``, keyed
       draws, view 0) and the *same* augmented batch goes through the frozen teacher (eval mode,
       ``torch.no_grad()``, no parameter in any optimiser) and the student. With
       ``p^T = softmax(z / T)``::

           loss = alpha * T**2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(z_student, y)

       The ``T**2`` factor (inside :func:`augbench.losses.kd_kl_divergence`) keeps the soft
       term's gradient on the same scale as ``T`` changes. ``alpha = 0`` is plain supervised
       training of the student, step for step.

    Logged per epoch: ``kd_loss`` (the ``T**2``-scaled KL), ``ce_loss`` and
    ``teacher_agreement`` (fraction of the batch where the student's and the teacher's arg-max
    classes agree). The evaluations score the student. Cost over the student alone: the teacher
    phase (once per data/seed/teacher settings, then cached) and one teacher forward per batch.

    Reference: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network", NIPS
    2014 Deep Learning Workshop, arXiv:1503.02531.

    Simplified relative to the paper: the teacher is trained here on the run's own labeled
    stream with the run's optimiser, schedule and batch size (the paper's MNIST teacher was a
    large dropout net trained on jittered full MNIST); the transfer set is the labeled training
    stream itself; the hard-label term is plain cross-entropy at ``T = 1`` weighted by
    ``1 - alpha``; no dropout or weight tricks beyond the run's optimiser.

    Args:
        temperature: ``T > 0`` softening both distributions (default 4, the common CIFAR
            setting, e.g. RepDistiller's; the paper used 1-20).
        alpha: weight in ``[0, 1]`` of the distillation term (default 0.9, the common CIFAR
            setting);
            ``1 - alpha`` weighs the hard-label cross-entropy.
        augment: transform spec applied to the student's batch (the teacher sees the same
            augmented batch), or ``None`` (default) for none.
        teacher: model spec of the teacher (``{type: harness_cnn, width: 4}``); ``None``
            (default) uses the run's model, i.e. a teacher of the student's architecture.
        teacher_epochs: epochs of the teacher phase; ``None`` (default) uses the run's epochs.
        teacher_augment: transform spec of the teacher's supervised training, or ``None``.
        input_shape, modality: from the run's data (used to check ``teacher``).
    """

    spec_fields = {"teacher": "model", "augment": "transform", "teacher_augment": "transform"}

    def __init__(
        self,
        temperature: float = 4.0,
        alpha: float = 0.9,
        augment: Spec | None = None,
        teacher: Spec | None = None,
        teacher_epochs: int | None = None,
        teacher_augment: Spec | None = None,
        input_shape: tuple[int, ...] | None = None,
        modality: str | None = None,
    ) -> None:
        if not _number(temperature) or temperature <= 0:
            raise ConfigError(
                f"kd: temperature={temperature!r} must be a number > 0 (4 is common on CIFAR, the paper used 1-20)"
            )
        if not _number(alpha) or not 0 <= alpha <= 1:
            raise ConfigError(
                f"kd: alpha={alpha!r} must be a number in [0, 1] "
                "(weight of the distillation term; 0.9 is common on CIFAR)"
            )
        if teacher_epochs is not None and (
            isinstance(teacher_epochs, bool) or not isinstance(teacher_epochs, int) or teacher_epochs < 1
        ):
            raise ConfigError(
                f"kd: teacher_epochs={teacher_epochs!r} must be a positive integer, or null for the run's epochs"
            )
        if teacher is not None:
            _check_teacher(teacher, input_shape, modality)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.augment = _augmentation("augment", augment)
        _augmentation("teacher_augment", teacher_augment)
        self.teacher = teacher
        self.teacher_epochs = teacher_epochs
        self.teacher_augment = teacher_augment

    def phases(self, context: MethodContext) -> list[Phase]:
        """``teacher`` (plain supervised training of the teacher model, cached), then ``student``."""
        teacher_method = build_method({"type": "supervised", "augment": self.teacher_augment}, context)
        return [
            Phase(TEACHER_PHASE, teacher_method, teacher_method.spec, model=self.teacher, epochs=self.teacher_epochs,
                  evaluations=("accuracy",)),
            Phase("student", self, self.spec),
        ]

    def setup(self, ctx: TrainContext) -> None:
        """Freeze the teacher: eval mode (BatchNorm statistics and dropout fixed), no gradients."""
        teacher = self._teacher(ctx)
        teacher.eval()
        teacher.requires_grad_(False)

    def keyed_views(self) -> list[KeyedView]:
        """The student's (and teacher's) augmented labeled batch (key view 0)."""
        return [] if self.augment is None else [KeyedView(self.augment, "labeled", 0)]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        model_inputs = ctx.normalize(ctx.augment(self.augment, "labeled"))
        with torch.no_grad():
            teacher_logits = self._teacher(ctx)(model_inputs)
        student_logits = ctx.model(model_inputs)
        kd_loss = kd_kl_divergence(student_logits, teacher_logits, self.temperature)
        ce_loss = nnf.cross_entropy(student_logits, labeled.labels)
        ctx.log.add("kd_loss", kd_loss)
        ctx.log.add("ce_loss", ce_loss)
        ctx.log.add("teacher_agreement", (student_logits.argmax(1) == teacher_logits.argmax(1)).float().mean())
        return StepOutput(self.alpha * kd_loss + (1 - self.alpha) * ce_loss)

    @staticmethod
    def _teacher(ctx: TrainContext) -> torch.nn.Module:
        if TEACHER_PHASE not in ctx.models:
            raise ConfigError(
                f"kd: no trained {TEACHER_PHASE!r} model in ctx.models (phases: {', '.join(ctx.models) or 'none'}); "
                "run kd through train_run, which trains the teacher phase first"
            )
        return ctx.models[TEACHER_PHASE]


def _check_teacher(teacher: Spec, input_shape: tuple[int, ...] | None, modality: str | None) -> None:
    """One line naming ``teacher`` when its model spec is unknown or has a bad option.

    Without the run's data (a method built by hand) only the model name is checked; the run
    resolves the full spec before the teacher phase trains.
    """
    try:
        if input_shape is None:
            MODELS.get(spec_type(teacher, "model"))
        else:
            context = ("num_classes", *get_modality(modality or "image").model_shape(tuple(input_shape)))
            MODELS.resolve(teacher, context=context)
    except ConfigError as error:
        raise ConfigError(f"kd: option 'teacher' is not a valid model spec ({error})") from None
