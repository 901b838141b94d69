"""Invariance-constrained learning: Metropolis-Hastings sampling of augmentations + a dual variable.

Reference:
    Hounie, Chamon and Ribeiro, "Automatic Data Augmentation via Invariance-Constrained
    Learning", ICML 2023 (arXiv:2209.15031); official code github.com/ihounie/daug
    (``TrivialAugment/train_pd_batch.py``, configs under ``confs/results/``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError, InputValueError
from augbench.keyed import KEY_VIEWS, KeyedGenerator
from augbench.methods.base import METHODS, Method
from augbench.policies.build import build_transform
from augbench.policies.ops import apply_op_layers
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = [
    "MCMCInvariance", "UniformInvariance", "SpaceProposals", "ChainSample", "DIGITS_SPACE",
    "metropolis_hastings", "dual_ascent",
]

DIGITS_SPACE: Mapping[str, Spec | None] = {
    "identity": None,
    "rotate": {"type": "RandomAffine", "degrees": 30, "interpolation": "bilinear"},
    "translate": {"type": "RandomAffine", "degrees": 0, "translate": [0.25, 0.25]},
    "shear": {"type": "RandomAffine", "degrees": 0, "shear": 16.69924423399362, "interpolation": "bilinear"},
    "hflip": {"type": "HorizontalFlip", "p": 1.0},
    "vflip": {"type": "VerticalFlip", "p": 1.0},
}
"""The card's digits space G: identity; rotation by U(-30, 30) degrees; a shift of up to a quarter
of each side (U(-2, 2) whole pixels on 8x8 digits); an x-shear of U(-16.7, 16.7) degrees
(tan = 0.3, RandAugment's standard range); horizontal flip; vertical flip. Each element's own
level (angle, shift, shear) is drawn per sample by keyed draws, TrivialAugment-style (one op, a
random level). Read-only (it is the option's default)."""

_DRAW_STREAM = 0x6D636D63  # keyed stream of the op and acceptance draws (transforms draw on stream ())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metropolis_hastings(losses: Tensor, uniforms: Tensor) -> tuple[Tensor, Tensor]:
    """Independent Metropolis-Hastings chains with a state-independent proposal, one per column.

    Chain ``b`` starts at proposal 0; at transition ``t`` it moves to proposal ``t`` with
    probability ``min(1, losses[t, b] / losses[t_b, b])``, where ``t_b`` is its current state:
    a proposal with a loss at least as high is always taken, a lower one with the loss ratio.
    With the uniform proposal of :class:`SpaceProposals` the chain targets the density
    proportional to the loss (the dual's worst-case augmentation distribution) without its
    normaliser. Acceptance is ``uniforms[t - 1, b] * current < losses[t, b]``, which never
    divides: a zero current loss accepts any positive proposal, and ``0 / 0`` rejects (the
    reference's ``nan_to_num`` of the ratio). One vectorised update per transition, none per
    sample.

    Args:
        losses: ``(T, B)`` float losses of the ``T`` proposals of ``B`` chains (``>= 0``).
        uniforms: ``(T - 1, B)`` float numbers in [0, 1), one per transition.

    Returns:
        ``state``: ``(B,)`` int64 index of the proposal each chain ends at; ``accepted``:
        ``(T - 1, B)`` bool, whether transition ``t`` (row ``t - 1``) moved the chain.

    >>> losses = torch.tensor([[1.0, 1.0], [2.0, 0.5]])
    >>> metropolis_hastings(losses, torch.tensor([[0.9, 0.6]]))
    (tensor([1, 0]), tensor([[ True, False]]))
    """
    if losses.ndim != 2 or uniforms.shape != (losses.shape[0] - 1, losses.shape[1]):
        raise InputValueError(
            f"metropolis_hastings: losses {tuple(losses.shape)} and uniforms {tuple(uniforms.shape)} must be "
            "(T, B) and (T - 1, B)"
        )
    state = torch.zeros(losses.shape[1], dtype=torch.int64, device=losses.device)
    current = losses[0]
    accepted = torch.empty(uniforms.shape, dtype=torch.bool, device=losses.device)
    for transition in range(1, losses.shape[0]):
        accepted[transition - 1] = uniforms[transition - 1] * current < losses[transition]
        state = torch.where(accepted[transition - 1], transition, state)
        current = torch.where(accepted[transition - 1], losses[transition], current)
    return state, accepted


def dual_ascent(gamma: Tensor, constraint_loss: Tensor, epsilon: float, dual_lr: float) -> Tensor:
    """One projected dual ascent step: ``max(0, gamma + dual_lr * (constraint_loss - epsilon))``.

    The dual variable grows while the augmented loss violates its margin ``epsilon`` and shrinks
    (never below 0) once the constraint holds. Out of place: the old ``gamma`` may still be held
    by the autograd graph of the step's loss.

    >>> dual_ascent(torch.tensor(0.0), torch.tensor(1.5), epsilon=0.5, dual_lr=0.1)
    tensor(0.1000)
    >>> dual_ascent(torch.tensor(0.05), torch.tensor(0.0), epsilon=0.5, dual_lr=0.1)
    tensor(0.)
    """
    return torch.clamp(gamma + dual_lr * (constraint_loss.detach() - epsilon), min=0.0)


class SpaceProposals:
    """Uniform proposals over a space of transforms: a keyed view ``(inputs, keys, seed) -> inputs``.

    Row ``n`` gets element ``op[n]`` of the space, drawn uniformly from its key (stream
    :data:`_DRAW_STREAM`, so it is independent of the element's own draws), and that element's
    own keyed per-sample draw (angle, shift, ...). The rows are grouped by element and each
    element runs **one** batched call on its group (:func:`augbench.policies.ops.apply_op_layers`
    with the keys as the kernels' per-sample argument), never a call per sample. A pure function
    of the keys: the loop may make it for a chunk of steps at once (:mod:`augbench.train.views`).

    Args:
        names: the elements' names, in op-index order.
        transforms: one image transform per name, ``None`` for the identity.

    Shape:
        ``(N, C, H, W)`` uint8 or float images (1 or 3 channels) with ``(N,)`` int64 keys ->
        the same shape and dtype.
    """

    def __init__(self, names: Sequence[str], transforms: Sequence[Transform | None]) -> None:
        self.names = tuple(names)
        self.transforms = tuple(transforms)

    def draw(self, keys: Tensor, seed: int) -> tuple[Tensor, Tensor]:
        """``(N,)`` int64 op indices (uniform over the space) and ``(N,)`` acceptance uniforms in [0, 1)."""
        numbers = KeyedGenerator(keys, seed, (_DRAW_STREAM,)).rand((keys.shape[0], 2))
        count = len(self.names)
        return (numbers[:, 0] * count).long().clamp_(max=count - 1), numbers[:, 1]

    def __call__(self, inputs: Tensor, *, keys: Tensor, seed: int) -> Tensor:
        ops, _ = self.draw(keys, seed)
        kernels = {name: _kernel(transform, seed) for name, transform in zip(self.names, self.transforms)}
        return apply_op_layers(inputs, self.names, ops[:, None], keys.long()[:, None], 0.0, "image", kernels)


def _kernel(transform: Transform | None, seed: int) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """An op kernel ``(images, keys, fill) -> images`` that runs ``transform`` with keyed draws."""
    if transform is None:
        return lambda images, keys, fill: images
    return lambda images, keys, fill: transform(images, keys=keys, seed=seed)


@dataclass(frozen=True)
class ChainSample:
    """What the sampler chose for a batch of ``B`` samples.

    Attributes:
        inputs: ``(B, ...)`` the final augmented samples, in the stored layout (not normalised).
        ops: ``(B,)`` int64 index (into the space's sorted names) of each sample's final element.
        state: ``(B,)`` int64 proposal (key view) each chain ended at, in ``0..T-1``.
        initial_ops: ``(B,)`` int64 element of each chain's initial draw.
        accepted: ``(T - 1, B)`` bool acceptances of the ``T - 1`` transitions (``(0, B)`` for
            the uniform sampler).
        losses: ``(T, B)`` per-sample cross-entropy of the ``T`` proposals under no-grad
            (``(0, B)`` for the uniform sampler, which scores nothing).
    """

    inputs: Tensor
    ops: Tensor
    state: Tensor
    initial_ops: Tensor
    accepted: Tensor
    losses: Tensor


@METHODS.register("mcmc_invariance")
class MCMCInvariance(Method):
    """Invariance-constrained learning (Hounie, Chamon and Ribeiro, ICML 2023), primal-dual with MH.

    The problem ``min_f CE(f(x), y)`` subject to ``E_x max_{g in G} CE(f(g x), y) <= epsilon``
    (relaxed to a loss-weighted expectation over ``G``) is solved by alternating a primal SGD step
    and a dual ascent step; the augmentation distribution the dual calls for (density
    proportional to the loss) is sampled by Metropolis-Hastings without normalising it.

    Per step, with the labeled batch ``(x, y)`` of ``B`` samples:

    1. **Proposals** (:class:`SpaceProposals`): ``T = steps`` proposals per sample, element
       ``g ~ uniform(G)`` and the element's own level, all from keyed draws on key views
       ``0..T-1`` (``ctx.keys("labeled", t)``): a sample's proposals depend on the seed, its id
       and its pass only. All ``T * B`` proposals are augmented in one call, one batched
       transform call per element of ``G``.
    2. **Scoring**: the per-sample cross-entropy of all ``T * B`` proposals in **one** forward
       pass under ``torch.no_grad()``, with the model in **train mode** as the reference
       (batch-norm layers, if any, normalise with the proposal batch's statistics and update
       their running averages with it; the harness CNN has none).
    3. **Chains** (:func:`metropolis_hastings`): every sample runs its own chain, which
       **restarts every step**: ``g_0`` = proposal 0, then for ``t = 1..T-1`` move to proposal
       ``t`` with probability ``min(1, l(g_t') / l(g_t))``. The last state is kept; ``steps=2``
       (the paper's) is the initial draw plus one transition. No state is carried between steps.
    4. **Primal step**: ``loss = CE(f(x), y) + gamma * CE(f(g_T x), y)``, the clean and the
       augmented batch in two forward passes as the reference (so batch-norm statistics do not
       mix them); the loop back-propagates and steps the optimiser.
    5. **Dual step** (:func:`dual_ascent`): ``gamma <- max(0, gamma + dual_lr * (mean augmented
       loss - epsilon))`` with the step's detached augmented loss; ``gamma`` starts at 0 in
       every phase, so the first step is plain supervised training.

    Logged per epoch (means over its steps): ``acceptance_rate`` (share of transitions that
    moved), ``gamma`` (the weight the step's loss used), ``augmented_loss`` (the constraint's
    mean loss), ``clean_loss``, and ``op_frequency_<name>`` for every element of ``G`` (share
    of samples whose final state is that element; ``1 / |G|`` each under uniform sampling).

    Defaults are the paper's where it has them: ``steps`` 2, ``dual_lr`` 1e-4 per step,
    ``epsilon`` 0.6 (nats; WRN-40-2 on CIFAR-10: it is model- and data-specific, choose it
    on a validation split or from the loss scale); ``space`` is the card's digits space
    :data:`DIGITS_SPACE`.

    Simplified relative to the paper and its code:

    - ``G`` is a small named set of augbench transforms, each drawing its own level uniformly
      (:data:`DIGITS_SPACE`), not TrivialAugment's 31-level op table;
    - one augmented copy per sample (the code's ``n_aug = 1``); the optional variant that
      replaces clean inputs by augmented ones with probability ``gamma / (1 + gamma)``
      (``PD.sample``) is not implemented;
    - the reference clips the gradient norm at 5; the loop's optimiser does not clip;
    - the clean view is the stored sample as it is (the paper's clean view is the standard
      crop + flip + Cutout pipeline of CIFAR).

    Args:
        space: the transformation space ``G``: a mapping from element name to transform spec
            (``None``: the identity). A set: elements are indexed by sorted name, so the order
            of the mapping does not change the run. Every element must keep the sample shape.
        epsilon: the constraint's margin in nats, ``> 0``.
        dual_lr: dual step size ``eta_d > 0`` per optimiser step.
        steps: proposals per chain, ``2..16``: the initial draw plus ``steps - 1`` MH
            transitions (``steps = 1`` is uniform sampling: use ``mcmc_invariance_uniform``).
        input_shape: one sample's shape, from the run's data (checks that every element keeps it).
        modality: the run's data modality, from the run (the space holds image transforms).
    """

    registered_name = "mcmc_invariance"

    def __init__(
        self,
        space: Mapping[str, Spec | None] = DIGITS_SPACE,
        epsilon: float = 0.6,
        dual_lr: float = 1e-4,
        steps: int = 2,
        input_shape: Sequence[int] | None = None,
        modality: str = "image",
    ) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= KEY_VIEWS:
            raise ConfigError(
                f"mcmc_invariance: steps={steps!r} must be an integer in 2..{KEY_VIEWS} (the paper uses 2); "
                "for uniform sampling of the same space use method mcmc_invariance_uniform"
            )
        self._configure(space, epsilon, dual_lr, steps, input_shape, modality)

    def _configure(
        self, space: Mapping[str, Spec | None], epsilon: float, dual_lr: float, steps: int,
        input_shape: Sequence[int] | None, modality: str,
    ) -> None:
        who = self.registered_name
        if not _number(epsilon) or epsilon <= 0:
            raise ConfigError(
                f"{who}: epsilon={epsilon!r} must be a finite margin > 0 in nats (the paper uses 0.6 on CIFAR-10); "
                "pick it on a validation split or from the training loss scale"
            )
        if not _number(dual_lr) or dual_lr <= 0:
            raise ConfigError(f"{who}: dual_lr={dual_lr!r} must be a finite step size > 0 (the paper uses 1e-4 per step)")
        if modality != "image":
            raise ConfigError(f"{who}: the space holds image transforms; got data of modality {modality!r}")
        if not isinstance(space, Mapping) or not space or not all(isinstance(n, str) and n for n in space):
            raise ConfigError(
                f"{who}: space={space!r} must be a non-empty mapping from element names to transform specs "
                "(null for the identity), e.g. {identity: null, hflip: {type: HorizontalFlip, p: 1.0}}"
            )
        names = sorted(space)
        transforms = []
        for name in names:
            try:
                transform = build_transform(space[name])
            except (ConfigError, InputValueError) as error:
                raise ConfigError(f"{who}: space element {name!r} is not a valid transform spec ({error})") from None
            if input_shape is not None and transform is not None:
                shape = tuple(input_shape)
                output = tuple(transform.output_shape(shape))  # type: ignore[arg-type]
                if output != shape:
                    raise ConfigError(
                        f"{who}: space element {name!r} turns samples {shape} into {output}; "
                        "every element must keep the sample shape (one batch holds all of them)"
                    )
            transforms.append(transform)
        self.space = space
        self.epsilon = float(epsilon)
        self.dual_lr = float(dual_lr)
        self.steps = steps
        self.proposals = SpaceProposals(names, transforms)
        self._gamma = torch.zeros(())

    @property
    def gamma(self) -> float:
        """The current dual variable (one host sync)."""
        return float(self._gamma)

    def setup(self, ctx: TrainContext) -> None:
        """Start the phase with ``gamma = 0`` on the training device."""
        self._gamma = torch.zeros((), device=ctx.device)

    def keyed_views(self) -> list[KeyedView]:
        """The ``steps`` proposals of the labeled batch (key views ``0..steps-1``, model-free)."""
        return [KeyedView(self.proposals, "labeled", tuple(range(self.steps)))]

    def sample(self, ctx: TrainContext) -> ChainSample:
        """Run the sampler on the current batch (``ctx.batch``) and return what it chose."""
        if ctx.batch is None:
            raise ConfigError(f"{self.registered_name}.sample: no current batch; set ctx.batch first")
        labeled = ctx.batch["labeled"]
        size, views = len(labeled), tuple(range(self.steps))
        proposals = ctx.augment(self.proposals, "labeled", views)  # (T * B, ...), view-major
        keys = torch.cat([ctx.keys("labeled", view) for view in views])
        ops, uniforms = (drawn.view(self.steps, size) for drawn in self.proposals.draw(keys, ctx.seed))
        if self.steps == 1:
            empty = torch.empty(0, size, device=ops.device)
            return ChainSample(proposals, ops[0], torch.zeros_like(ops[0]), ops[0], empty.bool(), empty)
        with torch.no_grad():
            logits = ctx.model(ctx.normalize(proposals))
            losses = nnf.cross_entropy(logits, labeled.labels.repeat(self.steps), reduction="none").view(self.steps, size)
        state, accepted = metropolis_hastings(losses, uniforms[1:])
        rows = torch.arange(size, device=state.device)
        chosen = proposals.view(self.steps, size, *proposals.shape[1:])[state, rows]
        return ChainSample(chosen, ops[state, rows], state, ops[0], accepted, losses)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        chain = self.sample(ctx)
        clean = nnf.cross_entropy(ctx.model(ctx.normalize(labeled.inputs)), labeled.labels)
        augmented = nnf.cross_entropy(ctx.model(ctx.normalize(chain.inputs)), labeled.labels)
        gamma = self._gamma
        loss = clean + gamma * augmented
        self._gamma = dual_ascent(gamma, augmented, self.epsilon, self.dual_lr)
        if chain.accepted.numel():
            ctx.log.add("acceptance_rate", chain.accepted.float().mean())
        ctx.log.add("gamma", gamma)
        ctx.log.add("augmented_loss", augmented)
        ctx.log.add("clean_loss", clean)
        frequency = torch.bincount(chain.ops, minlength=len(self.proposals.names)).float() / max(1, len(labeled))
        for index, name in enumerate(self.proposals.names):
            ctx.log.add(f"op_frequency_{name}", frequency[index])
        return StepOutput(loss)


@METHODS.register("mcmc_invariance_uniform")
class UniformInvariance(MCMCInvariance):
    """The uniform control of :class:`MCMCInvariance`: the same space, loss and dual schedule,
    with each sample's augmentation drawn uniformly from ``G`` (no scoring pass, no chain).

    This is the paper's "uniform" ablation (its code with ``MH.steps = 1``): the loss weight
    ``gamma`` follows the same primal-dual schedule (``gamma_0 = 0``, the same ``epsilon`` and
    ``dual_lr``), so the only difference from ``mcmc_invariance`` is the sampler. One keyed
    proposal per sample (key view 0); ``acceptance_rate`` is not logged, ``op_frequency_*``
    stays near ``1 / |G|``.

    Args:
        space, epsilon, dual_lr, input_shape, modality: as :class:`MCMCInvariance`.
    """

    registered_name = "mcmc_invariance_uniform"

    def __init__(
        self,
        space: Mapping[str, Spec | None] = DIGITS_SPACE,
        epsilon: float = 0.6,
        dual_lr: float = 1e-4,
        input_shape: Sequence[int] | None = None,
        modality: str = "image",
    ) -> None:
        self._configure(space, epsilon, dual_lr, 1, input_shape, modality)

