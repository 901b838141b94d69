"""DANN: domain-adversarial training with a gradient reversal layer.

Reference:
    Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015;
    Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Method
from augbench.models.layers import grad_reverse
from augbench.models.staged import StagedModel
from augbench.train.context import Batch, StepOutput, TrainContext

__all__ = ["DANN", "DomainDiscriminator", "reversal_weight"]


def reversal_weight(progress: float, gamma: float = 10.0) -> float:
    """The GRL weight ramp ``lambda_p = 2 / (1 + exp(-gamma * p)) - 1`` of DANN.

    Equal to ``tanh(gamma * p / 2)``: it rises from 0 at ``p = 0`` to 0.9866 at ``p = 0.5`` and
    0.9999 at ``p = 1`` (``gamma = 10``), so the adversary's noisy early gradient does not reach
    the encoder.

    Args:
        progress: training progress ``p`` in [0, 1] (optimiser steps done / total steps).
        gamma: steepness, > 0 (the paper's 10).

    >>> round(reversal_weight(0.0), 4), round(reversal_weight(0.5), 4), round(reversal_weight(1.0), 4)
    (0.0, 0.9866, 0.9999)
    """
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainDiscriminator(nn.Module):
    """The domain head ``G_d``: an MLP ``D -> hidden... -> 1`` with ReLU and dropout, one logit per sample.

    Dropout draws its masks from an explicit generator (the run's, via :class:`DANN`), so a run
    is reproducible without touching torch's global RNG; it is active only in training mode.

    Args:
        in_features: ``D``, the size of the flattened encoder features.
        hidden: widths of the hidden layers (empty: a logistic-regression domain head).
        dropout: drop probability after every hidden ReLU, in [0, 1).

    Shape:
        ``(B, D)`` float -> ``(B,)`` float logits (> 0: "target").
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (1024, 1024), dropout: float = 0.5) -> None:
        super().__init__()
        widths = [in_features, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.output = nn.Linear(widths[-1], 1)
        self.dropout = dropout

    def forward(self, features: Tensor, generator: torch.Generator | None = None) -> Tensor:
        hidden = features
        for layer in self.hidden:
            hidden = nnf.relu(layer(hidden))
            if self.training and self.dropout > 0:
                keep = torch.rand(hidden.shape, generator=generator, device=hidden.device) >= self.dropout
                hidden = hidden * keep / (1.0 - self.dropout)
        return self.output(hidden).squeeze(1)


@METHODS.register("dann")
class DANN(Method):
    """Source cross-entropy plus a domain classifier behind a gradient reversal layer.

    Per step, with the labeled source batch ``x_s, y_s`` (``B`` samples) and a target batch
    ``x_t`` (``B`` samples; its labels are never read):

    1. ``h = G_f([x_s; x_t])``: one forward pass of the encoder
       (``model.forward_features``) over source and target together, so normalisation layers
       see both domains in every batch (batch-norm statistics must treat both domains alike);
    2. ``L_y = CE(G_y(h_s), y_s)`` with the model's own head (``model.forward_from``);
    3. ``L_d = BCE(G_d(GRL_lambda(flatten(h))), d)``, ``d = 0`` for source and 1 for target,
       the mean over all ``2B`` samples;
    4. minimise ``L_y + L_d`` over the model and ``G_d`` with the run's optimiser. The GRL is
       the identity forward and multiplies the gradient by ``-lambda_p`` backward, so ``G_d``
       descends ``L_d`` while the encoder ascends it; ``lambda_p = 2 / (1 + exp(-gamma p)) - 1``
       with ``p = ctx.step / ctx.total_steps`` (:func:`reversal_weight`).

    Logged per epoch (means over steps, no host sync): ``domain_accuracy`` (the discriminator's
    accuracy on the step's ``2B`` training samples, dropout active; 0.5 = the domains are
    aligned, 1.0 with falling target accuracy = the gradient is not reversed), ``domain_loss``,
    ``source_loss`` and ``lambda``. Evaluations: ``accuracy`` (source test split) and
    ``target_accuracy`` (the target domain's test split).

    Defaults are the paper's: ``gamma = 10``; the domain head ``D -> 1024 -> 1024 -> 1`` with
    ReLU and dropout 0.5 (its Office head), initialised from the run's generator.

    Simplified relative to the paper:

    - no learning-rate annealing ``mu_0 / (1 + 10 p)^0.75``: the run's schedule applies (the
      shipped config uses SGD lr 0.01, momentum 0.9 from the paper with the benchmark's cosine
      decay, the nearest registered schedule);
    - no reverse-validation model selection: the benchmark evaluates the final model;
    - the domain head reads the flattened output of the model's last feature stage (LeNet: the
      84-d ``fc2`` output), not a dedicated bottleneck;
    - the last labeled batch of an epoch may be smaller than the target batch (the halves are
      equal otherwise).

    Args:
        discriminator_hidden: hidden widths of the domain head (empty list: logistic regression).
        dropout: dropout after each hidden layer of the domain head, in [0, 1).
        gamma: steepness of the lambda ramp, > 0.

    Shape:
        ``batch["labeled"].inputs`` and ``batch["target"].inputs``: ``(B, *input_shape)`` stored
        samples of the same shape -> a scalar float loss. ``ctx.model`` must be a
        :class:`~augbench.models.staged.StagedModel`.
    """

    streams = ("labeled", "target")
    evaluations = ("accuracy", "target_accuracy")

    def __init__(
        self, discriminator_hidden: Sequence[int] = (1024, 1024), dropout: float = 0.5, gamma: float = 10.0
    ) -> None:
        if (
            isinstance(discriminator_hidden, (str, bytes))
            or not isinstance(discriminator_hidden, Sequence)
            or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in discriminator_hidden)
        ):
            raise ConfigError(
                f"dann: discriminator_hidden={discriminator_hidden!r} must be a list of positive ints, "
                "e.g. [1024, 1024] (the paper's domain head) or [] for a linear one"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"dann: dropout={dropout!r} must be a number in [0, 1), e.g. 0.5")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (math.isfinite(gamma) and gamma > 0):
            raise ConfigError(f"dann: gamma={gamma!r} must be a finite number > 0 (the paper's 10)")
        self.discriminator_hidden = tuple(discriminator_hidden)
        self.dropout = float(dropout)
        self.gamma = float(gamma)
        self._dropout_generator: torch.Generator | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Build the domain head for the model's feature size and register it as ``discriminator``."""
        model = ctx.model
        if not isinstance(model, StagedModel):
            raise ConfigError(
                f"dann: the model is a {type(model).__name__}, which has no forward_features(); "
                "use a StagedModel (lenet, harness_cnn, preact_resnet18, ...)"
            )
        was_training = model.training
        model.eval()
        with torch.no_grad():
            features = model.forward_features(torch.zeros(1, *model.input_shape, device=ctx.device)).flatten(1)
        model.train(was_training)
        seed = int(torch.randint(2**62, (1,), generator=ctx.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            discriminator = DomainDiscriminator(features.shape[1], self.discriminator_hidden, self.dropout)
        ctx.add_module("discriminator", discriminator)
        self._dropout_generator = torch.Generator(device=ctx.device).manual_seed(seed + 1)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        source, target = batch["labeled"], batch["target"]
        model = ctx.model
        lam = reversal_weight(ctx.step / max(ctx.total_steps, 1), self.gamma)
        features = model.forward_features(ctx.normalize(torch.cat([source.inputs, target.inputs])))
        logits = model.forward_from(features[: len(source)], model.num_stages)
        source_loss = nnf.cross_entropy(logits, source.labels)
        domain_logits = ctx.modules["discriminator"](grad_reverse(features.flatten(1), lam), self._dropout_generator)
        domains = torch.cat([domain_logits.new_zeros(len(source)), domain_logits.new_ones(len(target))])
        domain_loss = nnf.binary_cross_entropy_with_logits(domain_logits, domains)
        ctx.log.add("source_loss", source_loss)
        ctx.log.add("domain_loss", domain_loss)
        ctx.log.add("domain_accuracy", ((domain_logits > 0).float() == domains).float().mean())
        ctx.log.add("lambda", lam)
        return StepOutput(source_loss + domain_loss)
