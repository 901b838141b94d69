"""The ``Method`` interface, training phases and the one registry of methods.

The phase loop (:mod:`augbench.train.loop`) owns the model, optimiser, schedule, device, data,
timing and logging; a method owns the step. A method declares which data streams it needs
(``streams``), which phases it trains (default: one), and which evaluations its protocol
needs. A new method is one file in ``augbench/methods/`` plus a ``@METHODS.register(name)``
line; named configurations (``affine``, ``mixup``) are presets in ``presets.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from augbench.data.streams import RunData
from augbench.registry import Registry, Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["Method", "Phase", "METHODS"]


@dataclass(frozen=True)
class Phase:
    """One training phase of a run.

    Attributes:
        name: the phase's name (``train``, ``teacher``, ``pretrain``); later phases find its
            model as ``ctx.models[name]``.
        method: the method whose ``training_step`` this phase runs.
        spec: the resolved spec of what this phase trains; with the data, the model, the
            optimisation settings, the seed and the earlier phases it depends on, it is the
            phase's identity in the weights cache (so a TTA run reuses the baseline's weights).
        model: the model spec of this phase; ``None`` uses the run's model.
        init_from: start from the weights of this earlier phase's model instead of a fresh
            initialisation.
        epochs: ``None`` uses the run's epochs.
        optimizer, schedule: specs; ``None`` uses the run's.
        frozen: module-name prefixes whose parameters are not trained (e.g. ``("stages",)``
            to train only the head of a staged model).
        evaluations: evaluations of this phase's own model (with its method's ``predict``),
            stored with the phase's metrics (the run's evaluations judge the last phase).
        trainer: how the phase trains: ``"steps"``, the step loop
            (:func:`augbench.train.loop.fit`); ``"active_learning"``, rounds of training,
            pseudo-labelling and querying a pool (:func:`augbench.train.active.fit_active`).

    A phase may read every earlier phase's model (``ctx.models``), so its cache identity
    includes the identities of all phases before it.
    """

    name: str
    method: Method
    spec: Mapping[str, Any]
    model: Spec | None = None
    init_from: str | None = None
    epochs: int | None = None
    optimizer: Spec | None = None
    schedule: Spec | None = None
    frozen: tuple[str, ...] = ()
    evaluations: tuple[str, ...] = ()
    trainer: str = "steps"


class Method:
    """Base class of training methods. Override :meth:`training_step`; the rest is optional.

    Per batch the loop sets ``ctx.batch``, calls :meth:`training_step`, zeroes the gradients
    of ``ctx.optimizer`` and ``ctx.extra_optimizers``, back-propagates the returned loss, steps
    all optimisers and the schedule, then calls :meth:`on_after_step` (EMA/momentum updates).

    Class attributes:
        streams: the data streams the method reads (``labeled``, ``unlabeled``, ``target``);
            the run refuses a data spec that cannot provide them.
        evaluations: the evaluations its protocol needs (the experiment may add more).
        spec_fields: options that hold nested specs, by kind (``{"augment": "transform",
            "mixer": "mixer"}``; kinds: transform, mixer, method, model), resolved into the
            run's canonical spec.
        spec: the resolved spec the method was built from (set by ``build_method``).
    """

    streams: tuple[str, ...] = ("labeled",)
    evaluations: tuple[str, ...] = ("accuracy",)
    spec_fields: dict[str, str] = {}
    spec: dict[str, Any] = {}

    def phases(self, context: MethodContext) -> list[Phase]:
        """The phases a run of this method trains, in order (default: one ``train`` phase)."""
        return [Phase("train", self, self.spec)]

    def prepare_data(self, data: RunData, seed: int) -> RunData:
        """The run's data as this method's protocol sees it (default: unchanged). The run calls
        it once, with the run's seed, before building models: an open-set active-learning method
        recasts the classes as inliers plus one outlier class and the pool at an outlier ratio."""
        return data

    def setup(self, ctx: TrainContext) -> None:
        """Create extra networks (``ctx.add_module``) or optimisers before a phase starts."""

    def keyed_views(self) -> Sequence[KeyedView]:
        """The model-free views ``training_step`` reads through ``ctx.augment(transform, stream,
        view)``. The loop makes each for a chunk of upcoming steps in one batched call (same
        bits as a call per step, less dispatch); an undeclared view is made in the step."""
        return ()

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        """Compute the loss of one batch (the loop calls backward and steps)."""
        raise NotImplementedError

    def on_after_step(self, ctx: TrainContext) -> None:
        """Hook after every optimiser step, e.g. a momentum-encoder or EMA-teacher update."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Hook after each epoch, e.g. to update a policy."""

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The model to evaluate after training (an EMA copy for FixMatch); default ``model``."""
        return model

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Logits ``(B, num_classes)`` for a stored batch (uint8 images, float series, ...);
        ``normalize`` maps it to the model input. Test-time augmentation overrides this."""
        return model(normalize(inputs))


METHODS: Registry[Method] = Registry("method")
"""Every training method by name; built from specs by :func:`augbench.methods.spec.build_method`."""
