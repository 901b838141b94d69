"""MADAug: a policy network picks each image's ops and magnitudes, trained bi-level on held-out data.

Reference:
    Hou, Zhang and Zhou, "When to Learn What: Model-Adaptive Data Augmentation Curriculum",
    ICCV 2023 (arXiv:2309.04747); github.com/JackHck/MADAug ``adaptive_augmentor.py`` (the
    policy, exploit and explore) and ``main_higher.py`` (the training loop, the bi-level step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn
from torch.func import functional_call

from augbench.distributions import rand
from augbench.errors import ConfigError
from augbench.keyed import KeyedGenerator
from augbench.methods.base import METHODS, Method
from augbench.models.staged import StagedModel
from augbench.policies.ops import apply_op_layers, check_space, op_values
from augbench.policies.randaugment import RANDAUGMENT_OPS
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.transforms._args import Fill, check_fill

__all__ = ["MADAug", "PolicyNetwork", "ExploitDraw", "augment_fraction", "sample_exploit", "mix_all_ops"]

_EXPLOIT_VIEW = 0  # key view of the exploit draws (who is augmented, which ops, magnitude noise, signs)
_EXPLORE_VIEW = 1  # key view of the explore step's signs


def augment_fraction(epoch: int, tau: float) -> float:
    """The curriculum's augmented share of a batch, ``r = min(tanh(epoch / tau) + 0.01, 1)``.

    >>> augment_fraction(0, 40.0), round(augment_fraction(40, 40.0), 4), augment_fraction(400, 40.0)
    (0.01, 0.7716, 1.0)
    """
    return min(math.tanh(epoch / tau) + 0.01, 1.0)


class PolicyNetwork(nn.Module):
    """The policy ``h``: one linear layer from a task model's features to ``2 K`` outputs.

    Args:
        in_features: width ``D`` of the task model's penultimate features.
        num_ops: ``K``, the number of ops.

    Shape:
        ``(B, D)`` float features -> magnitudes ``(B, K)`` in (0, 1) (sigmoid) and op logits
        ``(B, K)`` (the caller divides by a temperature and takes the softmax).
    """

    def __init__(self, in_features: int, num_ops: int) -> None:
        super().__init__()
        self.num_ops = num_ops
        self.linear = nn.Linear(in_features, 2 * num_ops)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        magnitudes, logits = self.linear(features).split(self.num_ops, dim=1)
        return torch.sigmoid(magnitudes), logits


@dataclass(frozen=True)
class ExploitDraw:
    """The exploit step's per-sample augmentation.

    Attributes:
        augmented: ``(B,)`` bool, the samples the curriculum augments (probability ``r`` each).
        op_index: ``(B, k)`` int64 indices into the method's ops, ``k`` distinct ones per sample
            drawn without replacement from its weights (``-1`` in every layer of a sample that
            is not augmented).
        level: ``(B, k)`` float magnitudes in [0, 1]: the policy's ``mu`` of each drawn op
            moved by ``+-U(0, delta)`` and clipped.
        sign: ``(B, k)`` float, +1 or -1 (read by signed ops only).
    """

    augmented: Tensor
    op_index: Tensor
    level: Tensor
    sign: Tensor


def sample_exploit(
    magnitudes: Tensor, weights: Tensor, k: int, fraction: float, delta: float, generator: KeyedGenerator
) -> ExploitDraw:
    """Draw the exploit step's augmentation from the policy's outputs, with keyed draws.

    Each sample is augmented with probability ``fraction``; it then gets ``k`` distinct ops,
    sampled without replacement with probabilities proportional to its ``weights``
    (Gumbel-top-k: ``argtopk(log w + Gumbel noise)`` is exactly sequential sampling without
    replacement), each at its ``magnitudes`` entry moved up or down (probability 1/2 each) by
    ``U(0, delta)`` and clipped to [0, 1], with a random sign.

    Args:
        magnitudes: ``(B, K)`` float in [0, 1] (no gradient is needed).
        weights: ``(B, K)`` float probabilities, rows summing to 1.
        k: ops per augmented sample, ``1 <= k <= K``.
        fraction: per-sample augmentation probability in [0, 1].
        delta: magnitude noise bound in [0, 1].
        generator: keyed by the samples (on the device of ``weights``), so a sample's draw
            does not depend on its batch.
    """
    batch, num_ops = weights.shape
    augmented = rand((batch,), generator) < fraction
    uniform = rand((batch, num_ops), generator).clamp_(min=1e-7)
    scores = weights.clamp(min=1e-30).log() - (-uniform.log()).log()
    op_index = scores.topk(k, dim=1).indices
    amount = delta * rand((batch, k), generator)
    up = rand((batch, k), generator) < 0.5
    level = (magnitudes.gather(1, op_index) + torch.where(up, amount, -amount)).clamp(0.0, 1.0)
    sign = torch.where(rand((batch, k), generator) < 0.5, -1.0, 1.0)
    op_index = torch.where(augmented[:, None], op_index, torch.full_like(op_index, -1))
    return ExploitDraw(augmented, op_index, level, sign)


def mix_all_ops(
    images: Tensor,
    magnitudes: Tensor,
    weights: Tensor,
    ops: Sequence[str],
    space: str,
    fill: Fill,
    normalize: Callable[[Tensor], Tensor],
    generator: KeyedGenerator,
) -> Tensor:
    """The explore step's input: ``sum_k w_k * op_k(x)`` over all ``K`` ops, with a straight-through
    gradient to the magnitudes.

    Every sample goes through every op at its magnitude ``mu_k`` (one batched kernel call per
    op, a random sign per sample and op for signed ops), is normalised, and gets
    ``mu_k - stopgrad(mu_k)`` added to every pixel: the value is the augmented image and the
    gradient of every pixel with respect to ``mu_k`` is 1 (the reference's ``stop_gradient``).
    The mixture is then differentiable in ``w`` and ``mu``.

    Args:
        images: ``(B, C, H, W)`` stored images (uint8 0-255 or float 0-1), not augmented.
        magnitudes: ``(B, K)`` float in [0, 1], with gradient.
        weights: ``(B, K)`` float, rows summing to 1, with gradient.
        ops, space: the op names and the augmentation space of their ranges.
        fill: fill of geometric ops in [0, 1] units.
        normalize: maps stored images to the float model input.
        generator: keyed by the samples, on the images' device (draws the signs).

    Returns:
        ``(B, C, H, W)`` float model input.
    """
    batch, num_ops = weights.shape
    sign = torch.where(rand((batch, num_ops), generator) < 0.5, -1.0, 1.0)
    op_index = torch.arange(num_ops, device=images.device).repeat(batch, 1)  # (B, K)
    values = op_values(ops, check_space(space), op_index, magnitudes.detach(), sign)
    # Op-major rows (K * B): one grouped kernel call per op, no loop over samples.
    stacked = images.repeat(num_ops, *([1] * (images.ndim - 1)))
    augmented = apply_op_layers(stacked, ops, op_index.t().reshape(-1, 1), values.t().reshape(-1, 1), fill, "image")
    views = normalize(augmented).view(num_ops, *images.shape)  # (K, B, C, H, W)
    shift = (magnitudes - magnitudes.detach()).t()  # (K, B): zero value, gradient 1
    views = views + shift.reshape(num_ops, batch, *([1] * (images.ndim - 1)))
    return torch.einsum("bk,kb...->b...", weights, views)


def _features(model: StagedModel, inputs: Tensor) -> Tensor:
    """``(B, D)`` penultimate features of ``inputs`` in eval mode, without gradient."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        features = model.forward_features(inputs).flatten(1)
    model.train(was_training)
    return features


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@METHODS.register("madaug")
class MADAug(Method):
    """MADAug (Hou et al., ICCV 2023): a model-adaptive per-image augmentation policy and curriculum.

    A policy network ``h`` (:class:`PolicyNetwork`, one linear layer) reads the task model's
    penultimate features ``f(x)`` of the **un-augmented** image and outputs per-image
    magnitudes ``mu = sigmoid(.)`` in [0, 1] and op logits over the ``K`` ops. A magnitude is a
    level of the augmentation space (``space``): level 0 is the identity, level 1 the space's
    maximum (the RandAugment ranges by default), with a random sign for signed ops. Per step:

    1. **Explore** (every ``search_freq`` steps, before the task step): ``w = softmax(logits)``
       (temperature 1, as the reference's explore), ``x~ = sum_k w_k op_k(x)`` over all ops at
       magnitudes ``mu`` with a straight-through gradient (:func:`mix_all_ops`); one
       differentiable SGD step of the task model at the optimiser's current learning rate,
       ``theta' = theta - lr * grad CE(f_theta(x~), y)`` (``torch.func.functional_call`` on a
       parameter dict, the graph kept), then ``CE(f_theta'(x_val), y_val)`` on a batch of the
       ``val`` stream, a validation split held out of the pool before the training data are
       drawn; its gradient updates ``h`` only (Adam, ``policy_lr``). The task model's weights
       do not change here.
    2. **Exploit** (every step): ``r = min(tanh(epoch / tau) + 0.01, 1)``
       (:func:`augment_fraction`); each sample is augmented with probability ``r``; an
       augmented sample gets ``k`` distinct ops sampled without replacement from
       ``w = softmax(logits / temperature)``, each at ``mu +- U(0, magnitude_delta)`` clipped
       to [0, 1], applied in sequence (:func:`sample_exploit`, grouped per op by
       :func:`~augbench.policies.ops.apply_op_layers`); the others stay as stored. The loss is
       the cross-entropy of the task model on this batch (the loop's optimiser steps it).

    Every random number is a keyed draw (``ctx.keys("labeled", 0)`` for the exploit step,
    view 1 for the explore step's signs), so given the model and policy a sample's
    augmentation depends on the seed, its id and the epoch only. The policy is registered as
    module ``"policy"`` (saved with the phase, not in the task optimiser).

    Logged per epoch: ``augment_fraction`` (``r``, each sample's augmentation probability),
    ``augmented_share`` (the share actually augmented), ``policy_magnitude`` (mean ``mu`` over
    samples and ops), ``applied_magnitude`` (mean level of the applied ops), ``weight_entropy``
    (mean per-sample entropy of the exploit weights, nats; ``log K`` is uniform),
    ``op_weight_<Op>`` (mean exploit weight of each op) and, in epochs with an explore step,
    ``explore_val_loss`` (the validation loss after the differentiable step); the loop logs
    ``train_loss``.

    Simplified relative to the paper / reference code:

    - ops: augbench's policy ops and ranges (default RandAugment's 14 ops of the ``standard``
      space), not the reference's 17 (no Invert, Cutout or Flip by default; ``ops`` may add
      Invert with ``space: autoaugment``). A magnitude is severity (0 = identity) with a random
      sign, where the reference maps ``mu`` linearly onto ``[-max, max]`` (``mu = 0.5`` the
      identity) and then mirrors at random;
    - the augmented share is ``r`` in expectation (a keyed coin per sample) rather than the
      first ``floor(r B)`` samples of the batch, so it does not depend on batch order;
    - the differentiable step is plain SGD (no momentum buffer, no weight decay: neither
      depends on the policy) and unclipped; the reference's ``higher`` step copies the SGD
      state. Explore and the policy's feature pass run the task model in eval mode, as the
      reference does (its ``predict_aug_params`` sets ``eval()``), which also keeps batch-norm
      statistics untouched;
    - plain cross-entropy instead of label-smoothed, no "default transforms" after the policy
      (the digits harness has none; add them for CIFAR), the policy trains from the first
      epoch (the reference's ``bi_epochs`` default 300 never trains it).

    Args:
        ops: op names of the space (default RandAugment's 14).
        space: augmentation space of the ops' ranges: ``standard``, ``wide`` or ``autoaugment``.
        k: ops per augmented sample, ``1 <= k <= len(ops)`` (paper 2).
        temperature: ``T > 0`` of the exploit weights (paper 3 on CIFAR-10, 2 on SVHN).
        tau: curriculum time constant in epochs, ``> 0`` (paper 40 over 240 epochs).
        magnitude_delta: magnitude noise bound in [0, 1] (paper 0.3).
        search_freq: explore every this many steps, an int ``>= 1`` (paper 3 or 5).
        policy_lr: Adam learning rate of the policy, ``> 0`` (paper 1e-3).
        policy_weight_decay: Adam weight decay of the policy, ``>= 0`` (reference 1e-3).
        fill: fill of geometric ops in [0, 1] units.
        modality, input_shape: from the run's data; the policy's ops need grey or RGB images.
    """

    streams = ("labeled", "val")

    def __init__(
        self,
        ops: Sequence[str] = RANDAUGMENT_OPS,
        space: str = "standard",
        k: int = 2,
        temperature: float = 3.0,
        tau: float = 40.0,
        magnitude_delta: float = 0.3,
        search_freq: int = 3,
        policy_lr: float = 1e-3,
        policy_weight_decay: float = 1e-3,
        fill: float = 0.0,
        modality: str = "image",
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if modality != "image":
            raise ConfigError(
                f"madaug: its policy applies image ops to the un-augmented images, and the data are {modality!r}; "
                "use an image dataset, or a policy of that modality (e.g. ModalityRandAugment with supervised)"
            )
        if input_shape is not None and (len(input_shape) != 3 or input_shape[0] not in (1, 3)):
            raise ConfigError(
                f"madaug: samples of shape {tuple(input_shape)}; its ops need (C, H, W) images with 1 or 3 channels"
            )
        table = check_space(space)
        if isinstance(ops, str) or not ops or len(set(ops)) != len(ops):
            raise ConfigError(f"madaug: ops={ops!r} must be a list of distinct op names, e.g. ['Rotate', 'ShearX']")
        unknown = [op for op in ops if op not in table]
        if unknown:
            raise ConfigError(f"madaug: ops {unknown} are not in space {space!r}; choose from {', '.join(table)}")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(ops):
            raise ConfigError(f"madaug: k={k!r} must be an int in [1, {len(ops)}] (ops per sample; the paper uses 2)")
        if not _number(temperature) or temperature <= 0:
            raise ConfigError(f"madaug: temperature={temperature!r} must be a number > 0; the paper uses 3")
        if not _number(tau) or tau <= 0:
            raise ConfigError(f"madaug: tau={tau!r} must be a number of epochs > 0; the paper uses 40 of 240 epochs")
        if not _number(magnitude_delta) or not 0.0 <= magnitude_delta <= 1.0:
            raise ConfigError(f"madaug: magnitude_delta={magnitude_delta!r} must be a number in [0, 1]; the paper uses 0.3")
        if isinstance(search_freq, bool) or not isinstance(search_freq, int) or search_freq < 1:
            raise ConfigError(f"madaug: search_freq={search_freq!r} must be an int >= 1 (steps between policy updates)")
        if not _number(policy_lr) or policy_lr <= 0:
            raise ConfigError(f"madaug: policy_lr={policy_lr!r} must be a number > 0; the paper uses 1e-3")
        if not _number(policy_weight_decay) or policy_weight_decay < 0:
            raise ConfigError(f"madaug: policy_weight_decay={policy_weight_decay!r} must be a number >= 0")
        self.ops = tuple(ops)
        self.space = space
        self.k = k
        self.temperature = float(temperature)
        self.tau = float(tau)
        self.magnitude_delta = float(magnitude_delta)
        self.search_freq = search_freq
        self.policy_lr = float(policy_lr)
        self.policy_weight_decay = float(policy_weight_decay)
        self.fill = check_fill("madaug", fill)
        self._policy_optimizer: torch.optim.Optimizer | None = None
        self._applied_levels = torch.zeros(())
        self._applied_samples = torch.zeros(())

    def setup(self, ctx: TrainContext) -> None:
        """Build the policy for the model's feature width (module ``"policy"``) and its Adam optimiser."""
        model = ctx.model
        if not isinstance(model, StagedModel):
            raise ConfigError(
                f"madaug: the model is a {type(model).__name__}, which has no forward_features() for the policy's "
                "input; use a StagedModel (harness_cnn, lenet, preact_resnet18, ...)"
            )
        dtype = next(model.parameters()).dtype
        width = _features(model, torch.zeros(1, *model.input_shape, device=ctx.device, dtype=dtype)).shape[1]
        seed = int(torch.randint(2**62, (1,), generator=ctx.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            policy = PolicyNetwork(width, len(self.ops)).to(dtype)
        policy = ctx.add_module("policy", policy, trainable=False)
        self._policy_optimizer = torch.optim.Adam(
            policy.parameters(), lr=self.policy_lr, weight_decay=self.policy_weight_decay
        )
        self._applied_levels = torch.zeros((), device=ctx.device)
        self._applied_samples = torch.zeros((), device=ctx.device)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        if ctx.step % self.search_freq == 0:
            ctx.log.add("explore_val_loss", self.explore(batch, ctx))
        model, (policy, _) = ctx.model, self._policy(ctx)
        with torch.no_grad():
            magnitudes, logits = policy(_features(model, ctx.normalize(labeled.inputs)))
            weights = (logits / self.temperature).softmax(dim=1)
        fraction = augment_fraction(ctx.epoch, self.tau)
        with ctx.timer.augmentation():
            draw = sample_exploit(magnitudes, weights, self.k, fraction, self.magnitude_delta,
                                  KeyedGenerator(ctx.keys("labeled", _EXPLOIT_VIEW), ctx.seed))
            values = op_values(self.ops, check_space(self.space), draw.op_index.clamp(min=0), draw.level, draw.sign)
            images = apply_op_layers(labeled.inputs, self.ops, draw.op_index, values, self.fill, "image")
        loss = nnf.cross_entropy(model(ctx.normalize(images)), labeled.labels)
        self._log(ctx, fraction, draw, magnitudes, weights)
        return StepOutput(loss)

    def explore(self, batch: Batch, ctx: TrainContext) -> Tensor:
        """One policy update on the step's labeled batch and a ``val`` batch; returns the validation loss.

        The task model's parameters and gradients are left as they were (the one-step update
        lives in a parameter dict); only the policy's weights and its Adam state change.
        """
        policy, optimizer = self._policy(ctx)
        val_loss = self.lookahead_loss(batch, ctx)
        parameters = list(policy.parameters())
        for parameter, grad in zip(parameters, torch.autograd.grad(val_loss, parameters)):
            parameter.grad = grad
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return val_loss.detach()

    def lookahead_loss(self, batch: Batch, ctx: TrainContext) -> Tensor:
        """The bi-level objective as a function of the policy: ``CE(f_theta'(x_val), y_val)`` with
        ``theta' = theta - lr * grad_theta CE(f_theta(x~), y)`` and ``x~`` the policy's mixture of
        all ops on the labeled batch (:func:`mix_all_ops`); a 0-d tensor whose graph reaches the
        policy's parameters (through ``w`` exactly, through ``mu`` by the straight-through
        estimator). The task model runs in eval mode here and is restored afterwards.
        """
        labeled, val = batch["labeled"], batch["val"]
        model, (policy, _) = ctx.model, self._policy(ctx)
        was_training = model.training
        model.eval()
        try:
            magnitudes, logits = policy(_features(model, ctx.normalize(labeled.inputs)))
            generator = KeyedGenerator(ctx.keys("labeled", _EXPLORE_VIEW), ctx.seed)
            with ctx.timer.augmentation():
                mixed = mix_all_ops(labeled.inputs, magnitudes, logits.softmax(dim=1), self.ops, self.space,
                                    self.fill, ctx.normalize, generator)
            parameters = {name: p for name, p in model.named_parameters() if p.requires_grad}
            inner = nnf.cross_entropy(functional_call(model, parameters, (mixed,)), labeled.labels)
            grads = torch.autograd.grad(inner, list(parameters.values()), create_graph=True)
            lr = float(ctx.optimizer.param_groups[0]["lr"])
            stepped = {name: p - lr * g for (name, p), g in zip(parameters.items(), grads)}
            return nnf.cross_entropy(functional_call(model, stepped, (ctx.normalize(val.inputs),)), val.labels)
        finally:
            model.train(was_training)

    def _log(self, ctx: TrainContext, fraction: float, draw: ExploitDraw, magnitudes: Tensor, weights: Tensor) -> None:
        applied = draw.augmented.float()
        self._applied_levels += (draw.level.mean(dim=1) * applied).sum()
        self._applied_samples += applied.sum()
        ctx.log.add("augment_fraction", fraction)
        ctx.log.add("augmented_share", applied.mean())
        ctx.log.add("policy_magnitude", magnitudes.mean())
        ctx.log.add("weight_entropy", -(weights * weights.clamp(min=1e-30).log()).sum(dim=1).mean())
        for name, weight in zip(self.ops, weights.mean(dim=0)):
            ctx.log.add(f"op_weight_{name}", weight)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Log the epoch's mean level of the applied ops (one host sync per epoch)."""
        if float(self._applied_samples) > 0:
            ctx.log.add("applied_magnitude", self._applied_levels / self._applied_samples)
        self._applied_levels.zero_()
        self._applied_samples.zero_()

    def _policy(self, ctx: TrainContext) -> tuple[nn.Module, torch.optim.Optimizer]:
        if "policy" not in ctx.modules or self._policy_optimizer is None:
            raise ConfigError("madaug: no policy yet; setup(ctx) creates it when a phase starts")
        return ctx.modules["policy"], self._policy_optimizer
