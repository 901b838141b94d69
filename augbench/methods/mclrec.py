"""MCLRec: contrastive learning over data-augmented and learnable model-augmented views of histories.

Reference:
    Qin, Yuan, Wu, Jia, Lian, Zhao, "Meta-optimized Contrastive Learning for Sequential
    Recommendation", SIGIR 2023 (arXiv:2304.07763); official code github.com/QinHsiu/MCLRec
    (``recbole/model/sequential_recommender/mclrec.py``: ``meta_contrast``, ``meta_rl``,
    ``meta_contrast_rl_1``; ``recbole/model/extractors.py``: ``Extractor``;
    ``recbole/trainer/trainer.py``: the three optimiser steps of ``_train_epoch``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn
from torch.func import functional_call

from augbench.errors import ConfigError
from augbench.losses import view_pair_logits
from augbench.methods.base import METHODS
from augbench.methods.cl4srec import KEY_VIEWS, CL4SRec, check_number, sequence_encoder
from augbench.random import seeded_init
from augbench.train.context import Batch, StepOutput, TrainContext

__all__ = ["MCLRec", "ModelAugmenter", "margin_regulariser", "reference_margins"]

META_TEMPERATURE = 1.0
"""Temperature of the meta InfoNCE terms (dot products; fixed at 1 in the official code)."""


class ModelAugmenter(nn.Module):
    """MCLRec's learnable model augmenter: ``d -> d/2 -> d/4 -> d`` MLP with GELU, L2-normalised output.

    The official ``Extractor([64, 32, 16, 64], "gelu")`` for ``d = 64``: two GELU hidden layers,
    a linear output layer, then each row divided by its L2 norm (the code's ``Normalize``).

    Shape:
        ``(B, d)`` float -> ``(B, d)`` unit rows.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        first, second = max(1, width // 2), max(1, width // 4)
        self.layers = nn.Sequential(nn.Linear(width, first), nn.GELU(), nn.Linear(first, second), nn.GELU(),
                                    nn.Linear(second, width))

    def forward(self, states: Tensor) -> Tensor:
        return nnf.normalize(self.layers(states), dim=1)


def _pair_masks(rows: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Column of each row's positive ``(2B,)`` and the ``(2B, 2B)`` mask of its negatives."""
    positive = torch.arange(rows, device=device).roll(rows // 2)
    negatives = ~torch.eye(rows, dtype=torch.bool, device=device)
    negatives[torch.arange(rows, device=device), positive] = False
    return positive, negatives


def reference_margins(logits: Tensor) -> tuple[Tensor, Tensor]:
    """The official code's margins per anchor from the view-pair logits ``(2B, 2B)``.

    With ``p_i`` the anchor's positive logit and ``n*_i`` its largest negative logit:
    ``m_pos = min(p_i, n*_i)`` and ``m_neg = max(p_i, n*_i)`` (``meta_contrast_rl_1``; the
    code's "minimum positive" is a minimum over one column, i.e. ``p_i`` itself). Not detached:
    as in the code, gradients also flow through the margins.

    Shape:
        ``(2B, 2B)`` float, ``B >= 2`` -> ``m_pos``, ``m_neg`` ``(2B,)``.
    """
    positive, negatives = _pair_masks(logits.shape[0], logits.device)
    positives = logits.gather(1, positive[:, None]).squeeze(1)
    hardest = logits.masked_fill(~negatives, float("-inf")).amax(1)
    return torch.minimum(positives, hardest), torch.maximum(positives, hardest)


def margin_regulariser(logits: Tensor, margins: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """MCLRec's margin term of one view pair: ``mean relu(p - m_pos) + mean relu(m_neg - n)``.

    ``p`` are the ``2B`` positive logits, ``n`` the ``2B (2B - 2)`` negative logits of
    :func:`augbench.losses.view_pair_logits` (each mean over its own entries, as the code's
    ``torch.mean`` over ``ori_p`` and ``ori_n``). It is 0 exactly when every positive is at most
    its ``m_pos`` and every negative at least its row's ``m_neg``. With the default
    :func:`reference_margins` it penalises a positive above the anchor's hardest negative and
    negatives below ``max(p, n*)``: it keeps the model-augmented views from becoming trivially
    similar (the paper's regulariser against "too similar" learned views).

    Args:
        logits: ``(2B, 2B)`` view-pair logits (diagonal ``-inf``), ``B >= 1``.
        margins: ``(m_pos, m_neg)``, each ``(2B,)`` or a scalar; ``None``: :func:`reference_margins`.

    Shape:
        ``(2B, 2B)`` -> a scalar; 0 when ``B == 1`` (no negatives).
    """
    rows = logits.shape[0]
    if rows < 4:
        return logits.new_zeros(())
    lower, upper = reference_margins(logits) if margins is None else margins
    positive, negatives = _pair_masks(rows, logits.device)
    positives = logits.gather(1, positive[:, None]).squeeze(1)
    above = nnf.relu(positives - lower).mean()
    below = torch.where(negatives, nnf.relu(torch.as_tensor(upper, dtype=logits.dtype).reshape(-1, 1) - logits), 0.0)
    return above + below.sum() / (rows * (rows - 2))


@METHODS.register("mclrec")
class MCLRec(CL4SRec):
    """CL4SRec plus two learnable model augmenters, trained in a first-order alternation (MCLRec).

    Per step on the labeled stream's ``B`` histories ``x`` and next items ``y``:

    1. Data-augmented views ``s1, s2``: :class:`~augbench.methods.cl4srec.CL4SRec`'s keyed views
       (one engine call for both, key views 1 and 2; crop 0.5, mask 0.5, reorder 0.8), made
       **once** per step and shared by the three updates below.
    2. ``z1, z2 = f(s1), f(s2)`` (SASRec's ``forward_features``), model-augmented views
       ``z3 = A1(z1)``, ``z4 = A2(z2)`` with two :class:`ModelAugmenter` MLPs (module
       ``"augmenters"``, width ``d -> d/2 -> d/4 -> d``, unit output rows).
    3. ``L_meta = InfoNCE(z1, z4) + InfoNCE(z2, z3) + InfoNCE(z3, z4)`` (in-batch, dot products,
       ``T = 1``) ``+ margin_weight * sum`` of :func:`margin_regulariser` over the same three
       pairs (margins of :func:`reference_margins`).
    4. The three updates, first-order (no second-order gradients, as in the official code):

       (a) encoder: ``L_rec + lam * InfoNCE(z1, z2) + beta * L_meta`` (``L_rec``: CE over every
           item of the clean history's logits), the augmenters frozen (their weights enter
           detached); one step of the run's optimiser, taken inside the step;
       (b) augmenters: ``L_meta`` only, with ``z1, z2`` recomputed by the updated encoder
           without gradient (dropout on, as in the code); their own Adam (``augmenter_lr``);
       (c) (a) again with the updated augmenters: the loss this step returns, so the loop
           back-propagates it and steps the run's optimiser (and its schedule) as usual.

    With ``beta = 0`` the augmenters cannot reach the encoder, so (b) is skipped; with
    ``beta = lam = 0`` each of (a) and (c) is SASRec's loss. Logged per epoch: ``rec_loss``,
    ``cl_loss``, ``meta_loss`` and ``margin_loss`` (of (c)), ``augmenter_loss`` (of (b)).

    Simplified relative to the paper / official code: the views of
    :class:`~augbench.methods.cl4srec.CL4SRec` (each view draws its op independently; mask id 1);
    one learning rate for (a) and (c) (the run's, with its schedule); the official code also
    adds ``lam * InfoNCE(z1, z2)`` to (b)'s loss, which has no gradient on the augmenters and
    is left out.

    Args:
        lam: weight of the data-view InfoNCE, ``>= 0`` (card: 0 on Beauty, 0.03 on Yelp).
        beta: weight of ``L_meta`` in the encoder updates, ``>= 0`` (card: 0.05 Beauty, 0.1 Yelp).
        margin_weight: weight of the margin regulariser in ``L_meta``, ``>= 0`` (code: 0.1;
            0 removes it, the paper's ablation).
        augmenter_lr: the augmenters' Adam learning rate ``> 0``; ``None``: the run's learning
            rate at setup (the code uses one learning rate for all).
        temperature, similarity, crop_eta, mask_gamma, reorder_beta: of the data-view InfoNCE and
            the views, as in :class:`~augbench.methods.cl4srec.CL4SRec`.
        modality: the data's modality (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, L)`` int64 ids -> a scalar loss.
    """

    _who = "mclrec"

    def __init__(
        self,
        lam: float = 0.1,
        beta: float = 0.1,
        margin_weight: float = 0.1,
        augmenter_lr: float | None = None,
        temperature: float = 1.0,
        similarity: str = "dot",
        crop_eta: float = 0.5,
        mask_gamma: float = 0.5,
        reorder_beta: float = 0.8,
        modality: str = "sequence",
    ) -> None:
        super().__init__(lam, temperature, similarity, crop_eta, mask_gamma, reorder_beta, modality)
        self.beta = check_number(self._who, "beta", beta, 0.0, math.inf, 0.1)
        self.margin_weight = check_number(self._who, "margin_weight", margin_weight, 0.0, math.inf, 0.1)
        self.augmenter_lr = None if augmenter_lr is None else check_number(
            self._who, "augmenter_lr", augmenter_lr, 0.0, math.inf, 1e-3, open_low=True)
        self._augmenter_optimizer: torch.optim.Optimizer | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Build the two augmenters for the encoder's width (module ``"augmenters"``, not in the
        run's optimiser), initialised from a seed drawn from ``ctx.generator``, and their Adam."""
        model = sequence_encoder(ctx.model, self._who)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            probe = torch.zeros(1, *model.input_shape, dtype=torch.int64, device=ctx.device)
            width = model.forward_features(probe).shape[1]
        model.train(was_training)
        with seeded_init(ctx.generator):
            augmenters = nn.ModuleList([ModelAugmenter(width), ModelAugmenter(width)])
        augmenters = ctx.add_module("augmenters", augmenters, trainable=False)
        lr = self.augmenter_lr if self.augmenter_lr is not None else float(ctx.optimizer.param_groups[0]["lr"])
        self._augmenter_optimizer = torch.optim.Adam(augmenters.parameters(), lr=lr)

    def _augmenters(self, ctx: TrainContext) -> tuple[nn.Module, torch.optim.Optimizer]:
        if "augmenters" not in ctx.modules or self._augmenter_optimizer is None:
            raise ConfigError("mclrec: no augmenters yet; setup(ctx) creates them when a phase starts")
        return ctx.modules["augmenters"], self._augmenter_optimizer

    def meta_loss(self, z1: Tensor, z2: Tensor, ctx: TrainContext, frozen: bool) -> tuple[Tensor, Tensor]:
        """``(L_meta, its margin part)`` of the view representations ``z1, z2`` ``(B, d)``.

        ``frozen``: the augmenters' weights enter detached, so ``L_meta`` has no gradient on them
        (update (a)/(c)); otherwise the gradient reaches them (update (b))."""
        augmenters, _ = self._augmenters(ctx)
        outputs = []
        for augmenter, states in zip(augmenters, (z1, z2)):
            if frozen:
                weights = {name: parameter.detach() for name, parameter in augmenter.named_parameters()}
                outputs.append(functional_call(augmenter, weights, (states,)))
            else:
                outputs.append(augmenter(states))
        z3, z4 = outputs
        contrast, margin = z1.new_zeros(()), z1.new_zeros(())
        for first, second in ((z1, z4), (z2, z3), (z3, z4)):
            logits = view_pair_logits(first, second, META_TEMPERATURE)
            rows = logits.shape[0]
            contrast = contrast + nnf.cross_entropy(logits, torch.arange(rows, device=logits.device).roll(rows // 2))
            if self.margin_weight:
                margin = margin + margin_regulariser(logits)
        margin = self.margin_weight * margin
        return contrast + margin, margin

    def encoder_loss(self, inputs: Tensor, views: Tensor, labels: Tensor, ctx: TrainContext) -> Tensor:
        """Update (a)/(c)'s loss ``L_rec + lam * InfoNCE(z1, z2) + beta * L_meta``, augmenters frozen.

        Shape:
            ``inputs`` ``(B, L)``, ``views`` ``(2B, L)`` int64, ``labels`` ``(B,)`` -> a scalar."""
        logits, z1, z2 = self.encode(inputs, views, ctx)
        rec = nnf.cross_entropy(logits, labels)
        contrast = self.contrast(z1, z2)
        ctx.log.add("rec_loss", rec.detach())
        ctx.log.add("cl_loss", contrast.detach())
        loss = rec + self.lam * contrast
        if self.beta:
            meta, margin = self.meta_loss(z1, z2, ctx, frozen=True)
            ctx.log.add("meta_loss", meta.detach())
            ctx.log.add("margin_loss", margin.detach())
            loss = loss + self.beta * meta
        return loss

    def augmenter_step(self, views: Tensor, ctx: TrainContext) -> Tensor:
        """Update (b): one Adam step of the augmenters on ``L_meta``; the encoder runs without
        gradient (it gets no update). Returns the detached ``L_meta``."""
        _, optimizer = self._augmenters(ctx)
        model = sequence_encoder(ctx.model, self._who)
        with torch.no_grad():
            z1, z2 = model.forward_features(ctx.normalize(views)).chunk(2)
        meta, _ = self.meta_loss(z1, z2, ctx, frozen=False)
        optimizer.zero_grad(set_to_none=True)
        meta.backward()
        optimizer.step()
        return meta.detach()

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        views = ctx.augment(self.views, "labeled", KEY_VIEWS)
        loss = self.encoder_loss(labeled.inputs, views, labeled.labels, ctx)  # (a)
        ctx.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx.optimizer.step()
        if self.beta:
            ctx.log.add("augmenter_loss", self.augmenter_step(views, ctx))  # (b)
        return StepOutput(self.encoder_loss(labeled.inputs, views, labeled.labels, ctx))  # (c)
