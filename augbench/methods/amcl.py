"""AMCL: Adaptive Multi-head Contrastive Learning (the SimCLR variant).

Reference:
    Wang, Koniusz, Gedeon and Zheng, "Adaptive Multi-head Contrastive Learning", ECCV 2024
    (arXiv:2310.05615); official code LeiWangR/cl (``src/amcl_components/*.py``,
    ``src/models.py``: ``AMCLSimCLRModel``).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputValueError
from augbench.methods.base import METHODS
from augbench.methods.simclr import DEFAULT_AUGMENT, SimCLR
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.transforms.base import Transform

__all__ = ["AMCL", "PairTemperature", "HardestPairs", "hardest_pairs", "omega", "amcl_loss",
           "temperature_fit_loss", "fitted_temperature"]


def omega(tau: Tensor, dim: int) -> Tensor:
    """The temperature regulariser ``Omega(tau) = (m / 2) log(tau) + 1 / tau`` with ``m = dim``.

    It is the ``tau``-dependent part of the negative log-likelihood of an isotropic Gaussian
    with variance ``tau`` in ``m`` dimensions between two unit vectors
    (``||z_i - z_j||^2 / (2 tau) + (m / 2) log tau = -sim / tau + Omega(tau)``), so ``m`` is the
    embedding (projection) dimension; its minimum is at ``tau = 2 / m``. The official code
    writes ``m`` as ``size(1)`` of a 1-D similarity tensor (an index error); we take the
    projection dimension.

    Shape:
        ``tau`` any shape, float, > 0 -> same shape.

    >>> round(float(omega(torch.tensor(2.0 / 128), 128)), 3)  # the minimum, 64 log(1/64) + 64
    -202.169
    """
    return 0.5 * dim * torch.log(tau) + 1.0 / tau


def fitted_temperature(similarity: Tensor, beta: float, dim: int) -> Tensor:
    """The minimiser of :func:`temperature_fit_loss` for a pair of cosine ``similarity``:
    ``tau*(s) = 2 (1 - s + beta) / (beta m)`` (before the bounds), from
    ``d/dtau [(1 - s) / tau + beta Omega(tau)] = 0``. With ``beta = 0.1`` and ``m = 128`` it runs
    from ``2 / m = 0.0156`` (``s = 1``) to ``0.328`` (``s = -1``): inside the paper's bounds.

    Shape:
        ``similarity`` any shape in [-1, 1] -> same shape.
    """
    return 2.0 * (1.0 - similarity + beta) / (beta * dim)


class HardestPairs:
    """Each anchor's positive and hardest negative among the ``2B`` embeddings of one head.

    Attributes:
        unit: ``(2B, d)`` L2-normalised embeddings (rows ``b`` and ``B + b`` are sample ``b``'s views).
        positive: ``(2B,)`` int64, the row of each anchor's positive (the other view).
        positive_similarity: ``(2B,)`` cosine similarity to the positive.
        negative: ``(2B,)`` int64, the row of the hardest negative ``n*``: the most similar of the
            ``2B - 2`` views of other samples.
        negative_similarity: ``(2B,)`` cosine similarity to ``n*``.
    """

    def __init__(self, unit: Tensor, positive: Tensor, positive_similarity: Tensor, negative: Tensor,
                 negative_similarity: Tensor) -> None:
        self.unit = unit
        self.positive = positive
        self.positive_similarity = positive_similarity
        self.negative = negative
        self.negative_similarity = negative_similarity


def hardest_pairs(first: Tensor, second: Tensor) -> HardestPairs:
    """Positives and hardest negatives (by cosine similarity) of the ``2B`` views, no loop.

    Shape:
        ``first``, ``second`` ``(B, d)`` float, ``B >= 2`` -> :class:`HardestPairs` of ``2B`` anchors.

    Raises:
        InputValueError: shapes differ, or ``B < 2`` (an anchor needs at least one negative).
    """
    if first.shape != second.shape or first.ndim != 2 or first.shape[0] < 2:
        raise InputValueError(
            f"amcl: the two views' embeddings must both be (B, d) with B >= 2 (a negative per anchor), got "
            f"{tuple(first.shape)} and {tuple(second.shape)}; use a batch of at least 2 samples"
        )
    batch = first.shape[0]
    unit = nnf.normalize(torch.cat([first, second]), dim=1)
    similarity = unit @ unit.T
    rows = torch.arange(2 * batch, device=unit.device)
    positive = rows.roll(batch)
    positive_similarity = similarity[rows, positive]
    excluded = torch.zeros_like(similarity, dtype=torch.bool)
    excluded[rows, rows] = True
    excluded[rows, positive] = True
    negative_similarity, negative = similarity.masked_fill(excluded, float("-inf")).max(dim=1)
    return HardestPairs(unit, positive, positive_similarity, negative, negative_similarity)


def amcl_loss(positive_similarity: Tensor, negative_similarity: Tensor, positive_tau: Tensor, negative_tau: Tensor,
              beta: float, dim: int) -> Tensor:
    """The paper's SimCLR-variant loss of one head, per anchor:

    ``-sim(z_i, z_i+) / tau+ + sim(z_i, z_n*) / tau_n* + beta Omega(tau+) - beta Omega(tau_n*)``.

    With one fixed temperature (``tau+ = tau_n* = tau``) the regularisers cancel and it is
    ``(sim(z_i, z_n*) - sim(z_i, z_i+)) / tau``.

    Shape:
        all ``(2B,)`` float (temperatures > 0) -> ``(2B,)``.
    """
    return (-positive_similarity / positive_tau + negative_similarity / negative_tau
            + beta * omega(positive_tau, dim) - beta * omega(negative_tau, dim))


def temperature_fit_loss(positive_similarity: Tensor, negative_similarity: Tensor, positive_tau: Tensor,
                         negative_tau: Tensor, beta: float, dim: int) -> Tensor:
    """What the temperature MLPs minimise, per anchor: each scored pair's regularised Gaussian
    negative log-likelihood in its distance form, ``(1 - s) / tau + beta Omega(tau)``, summed over
    the positive and the hardest negative. Its minimiser is :func:`fitted_temperature`, inside
    the bounds for every ``s``; the similarities should be passed detached.

    Shape:
        all ``(2B,)`` float (temperatures > 0) -> ``(2B,)``.
    """
    return ((1.0 - positive_similarity) / positive_tau + beta * omega(positive_tau, dim)
            + (1.0 - negative_similarity) / negative_tau + beta * omega(negative_tau, dim))


class PairTemperature(nn.Module):
    """A head's pair-adaptive temperature ``tau = lo + (hi - lo) sigmoid(phi([z_i; z_j]))``.

    ``phi`` is ``Linear(2d, hidden) - ReLU - Linear(hidden, 1)`` on the concatenated unit
    embeddings (the official code's per-head MLP: 256 -> 128 -> 1 for ``d = 128``).

    Shape:
        ``anchor``, ``other`` ``(N, d)`` float -> ``(N,)`` float in ``[lo, hi]``.
    """

    def __init__(self, dim: int, hidden: int, bounds: tuple[float, float]) -> None:
        super().__init__()
        self.low, self.high = bounds
        self.phi = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, anchor: Tensor, other: Tensor) -> Tensor:
        score = self.phi(torch.cat([anchor, other], dim=1)).squeeze(1)
        return self.low + (self.high - self.low) * torch.sigmoid(score)

    def extra_repr(self) -> str:
        return f"bounds=({self.low}, {self.high})"


@METHODS.register("amcl")
class AMCL(SimCLR):
    """SimCLR with ``C`` projection heads and pair-adaptive, regularised temperatures (AMCL).

    Algorithm, per step on the labeled stream's ``B`` images (labels never read):

    1. Views: SimCLR's (:meth:`SimCLR.views`: one keyed call of the same pipeline, key views 1
       and 2, rows ``b`` and ``B + b`` are sample ``b``'s views); ``h = forward_features(views)``.
    2. Heads: ``z^c = g_c(h)`` for ``c = 1..C``, each SimCLR's projection head architecture with
       its own weights and its own seed (head 1 is exactly SimCLR's projector of the same run).
    3. Per head, every one of the ``2B`` anchors ``i``: its positive ``i+`` (the other view) and
       its hardest negative ``n*`` (the most cosine-similar of the ``2B - 2`` views of other
       samples, :func:`hardest_pairs`); temperatures ``tau = lo + (hi - lo) sigmoid(phi_c([z_i;
       z_j]))`` for the two pairs, one MLP ``phi_c`` per head (:class:`PairTemperature`).
    4. Loss: ``sum_c mean_i`` of the paper's equation (:func:`amcl_loss`):
       ``-sim(z_i, z_i+)/tau+ + sim(z_i, z_n*)/tau_n* + beta Omega(tau+) - beta Omega(tau_n*)``
       with ``Omega(tau) = (m/2) log tau + 1/tau``, ``m`` the projection dimension (see
       :func:`omega`), ``beta = 0.1``; the encoder and heads learn from it with the
       temperatures as per-pair weights, divided (``normalize_step``) by the batch's mean weight
       ``mean(1 / tau)`` (detached): the gradient's direction is the equation's, its size does
       not grow with ``m / 2``.
    5. The temperature MLPs learn from :func:`temperature_fit_loss` on the detached
       similarities: each pair's temperature is the regularised maximum-likelihood variance of
       its pair, ``tau*(s) = 2 (1 - s + beta) / (beta m)`` (:func:`fitted_temperature`): an
       aligned pair gets a low temperature (a large weight), a dissimilar positive (hard
       augmentation) a high one (a small weight), and a near-duplicate negative a low one.
    6. The heads and MLPs are thrown away; ``linear_probe`` and ``knn`` read ``h``.

    Why step 5 is not the paper's equation: minimising the equation itself over the
    temperatures is unbounded. Its ``tau+``-derivative is ``(s+ - beta + beta m tau / 2) / tau^2 > 0``
    whenever ``s+ > beta`` (every aligned positive), and its ``tau_n*`` part ``-(-s / tau +
    beta Omega(tau))`` has no minimum at all, so trained jointly both temperatures run to a
    bound whatever the sign convention of ``sim`` (a test shows it). Fitting each temperature
    to its own pair's likelihood, with ``sim`` in the Gaussian's distance form ``1 - s``, is the
    reading of the paper's maximum-likelihood derivation that keeps them inside ``[lo, hi]``.

    Logged per epoch: ``positive_temperature`` and ``negative_temperature`` (means over anchors
    and heads; stuck at ``lo`` or ``hi`` means a sign error), ``amcl_loss`` (step 4),
    ``temperature_fit`` (step 5), ``positive_similarity`` and ``negative_similarity`` (mean
    cosine to the positive and to the hardest negative over anchors and heads: both near 1
    means the heads collapsed) and ``positive_accuracy`` (head 1: the fraction of anchors whose
    positive beats their hardest negative, SimCLR's definition).

    Simplified relative to the paper and its code:

    - the temperature MLPs are fitted as in step 5 (the paper trains them on its equation,
      which pins them at the bounds; the official SimCLR step is a sketch that scores only
      positive pairs);
    - ``normalize_step``: the fitted temperatures sit near ``2 / m``, so the equation's pair
      weights ``1 / tau`` average ~``m / 2 = 64`` per head against NT-Xent's ``1 / 0.5``; that
      multiplies the run's SGD step ~100x (summed over 3 heads); in a 10-epoch digits pilot at
      lr 0.1 the heads collapsed at once (linear probe 65 %, 81 % with the division). Dividing
      by the mean weight keeps the run's learning rate meaningful and the paper's relative pair
      weights; ``normalize_step: false`` is the equation's own scale;
    - ``n*`` is the most similar negative, not the argmax of ``sim / tau`` over all negatives
      (that would need ``phi`` on all ``(2B)^2`` pairs);
    - the encoder gets no gradient through ``phi``'s input (the embeddings enter ``phi``
      detached), so the temperatures reweight pairs but do not shape the features directly;
    - the views, encoder and projector architecture are SimCLR's (:class:`SimCLR`); the
      paper's heads are 512 -> 512 -> 128 on a ResNet-18, here hidden = the encoder's width.

    Args:
        heads: number of projection heads ``C`` (3).
        beta: weight of the regulariser (0.1), > 0.
        temperature_bounds: ``(lo, hi)`` with ``0 < lo <= hi`` (``(1e-5, 2.0)``); ``lo == hi``
            fixes the temperature (then the loss is the hardest-negative contrast
            ``(sim(z_i, z_n*) - sim(z_i, z_i+)) / tau``).
        temperature_hidden: hidden width of each ``phi_c`` (128).
        temperature_lr: learning rate of the temperature MLPs' own Adam optimiser (1e-3), > 0:
            the fit's gradient grows as ``1 / tau`` at small temperatures, and the run's SGD
            step (shared with the encoder) throws ``phi`` into the saturated ends of the sigmoid.
        normalize_step: divide each head's encoder loss by its batch's mean ``1 / tau`` (true).
        projection_dim, hidden_dim, augment, color_strength, color_p, grayscale_p, input_shape:
            as :class:`SimCLR` (views and heads).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8, ``B >= 2`` -> a scalar loss.

    Raises:
        ConfigError: an option out of range (and SimCLR's view checks).
    """

    def __init__(
        self,
        heads: int = 3,
        beta: float = 0.1,
        temperature_bounds: tuple[float, float] = (1e-5, 2.0),
        temperature_hidden: int = 128,
        temperature_lr: float = 1e-3,
        normalize_step: bool = True,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        augment: Spec | Transform | None = DEFAULT_AUGMENT,
        color_strength: float = 0.5,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        input_shape: tuple[int, ...] = (3, 32, 32),
    ) -> None:
        super().__init__(projection_dim=projection_dim, hidden_dim=hidden_dim, augment=augment,
                         color_strength=color_strength, color_p=color_p, grayscale_p=grayscale_p,
                         input_shape=input_shape)
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ConfigError(f"amcl: heads={heads!r} must be a positive integer, e.g. 3")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta > 0):
            raise ConfigError(f"amcl: beta={beta!r} must be a positive number, e.g. 0.1")
        bounds = tuple(temperature_bounds) if isinstance(temperature_bounds, (list, tuple)) else ()
        if (len(bounds) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
                or not (0 < bounds[0] <= bounds[1] < math.inf)):
            raise ConfigError(
                f"amcl: temperature_bounds={temperature_bounds!r} must be [lo, hi] with 0 < lo <= hi, e.g. [1e-5, 2.0]"
            )
        if isinstance(temperature_hidden, bool) or not isinstance(temperature_hidden, int) or temperature_hidden < 1:
            raise ConfigError(f"amcl: temperature_hidden={temperature_hidden!r} must be a positive integer, e.g. 128")
        self.heads = heads
        self.beta = float(beta)
        self.temperature_bounds = (float(bounds[0]), float(bounds[1]))
        self.temperature_hidden = temperature_hidden
        if (isinstance(temperature_lr, bool) or not isinstance(temperature_lr, (int, float))
                or not (math.isfinite(temperature_lr) and temperature_lr > 0)):
            raise ConfigError(f"amcl: temperature_lr={temperature_lr!r} must be a positive number, e.g. 1e-3")
        self.temperature_lr = float(temperature_lr)
        if not isinstance(normalize_step, bool):
            raise ConfigError(f"amcl: normalize_step={normalize_step!r} must be true or false")
        self.normalize_step = normalize_step

    def setup(self, ctx: TrainContext) -> None:
        """Register SimCLR's ``projector`` (head 1), ``extra_heads`` (heads 2..C: the same
        architecture re-initialised, each from its own seed drawn from ``ctx.generator``) and
        ``temperatures`` (one :class:`PairTemperature` per head, seeded likewise), which have their
        own Adam optimiser (``temperature_lr``, in ``ctx.extra_optimizers``), not the run's."""
        super().setup(ctx)
        first = ctx.modules["projector"]
        extra = []
        for _ in range(self.heads - 1):
            head = copy.deepcopy(first)
            with seeded_init(ctx.generator):
                for module in head.modules():
                    if module is not head and callable(getattr(module, "reset_parameters", None)):
                        module.reset_parameters()
            extra.append(head)
        ctx.add_module("extra_heads", nn.ModuleList(extra))
        with seeded_init(ctx.generator):
            temperatures = nn.ModuleList(
                PairTemperature(self.projection_dim, self.temperature_hidden, self.temperature_bounds)
                for _ in range(self.heads)
            )
        ctx.add_module("temperatures", temperatures, trainable=False)
        ctx.extra_optimizers.append(torch.optim.Adam(ctx.modules["temperatures"].parameters(), lr=self.temperature_lr))

    def head_modules(self, ctx: TrainContext) -> list[nn.Module]:
        """The ``C`` projection heads in order (SimCLR's projector first)."""
        return [ctx.modules["projector"], *ctx.modules["extra_heads"]]

    def objective(self, features: Tensor, ctx: TrainContext) -> dict[str, Any]:
        """Per-head terms of the loss for encoder features ``h`` of the ``2B`` views.

        Returns ``pairs`` (one :class:`HardestPairs` per head), ``positive_tau`` and
        ``negative_tau`` (per head, ``(2B,)``), ``amcl``, ``step`` and ``fit`` (per head,
        scalars: the mean over anchors of :func:`amcl_loss` with detached temperatures; the
        same divided by the batch's mean pair weight ``1 / tau`` when ``normalize_step``; and the
        mean of :func:`temperature_fit_loss` with detached similarities).

        Shape:
            ``features`` ``(2B, D)`` float.
        """
        dim = self.projection_dim
        out: dict[str, Any] = {"pairs": [], "positive_tau": [], "negative_tau": [], "amcl": [], "step": [], "fit": []}
        for head, temperature in zip(self.head_modules(ctx), ctx.modules["temperatures"]):
            first, second = head(features).chunk(2)
            pairs = hardest_pairs(first, second)
            unit = pairs.unit.detach()
            positive_tau = temperature(unit, unit[pairs.positive])
            negative_tau = temperature(unit, unit[pairs.negative])
            amcl = amcl_loss(pairs.positive_similarity, pairs.negative_similarity, positive_tau.detach(),
                             negative_tau.detach(), self.beta, dim)
            step = amcl.mean()
            if self.normalize_step:  # pair weights relative to the batch's mean weight 1 / tau
                step = step / torch.cat([1.0 / positive_tau, 1.0 / negative_tau]).detach().mean()
            fit = temperature_fit_loss(pairs.positive_similarity.detach(), pairs.negative_similarity.detach(),
                                       positive_tau, negative_tau, self.beta, dim)
            for key, value in (("pairs", pairs), ("positive_tau", positive_tau), ("negative_tau", negative_tau),
                               ("amcl", amcl.mean()), ("step", step), ("fit", fit.mean())):
                out[key].append(value)
        return out

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        views = self.views(ctx)
        features = ctx.model.forward_features(ctx.normalize(views)).flatten(1)
        terms = self.objective(features, ctx)
        amcl = torch.stack(terms["amcl"]).sum()
        step = torch.stack(terms["step"]).sum()
        fit = torch.stack(terms["fit"]).sum()
        first = terms["pairs"][0]
        ctx.log.add("amcl_loss", amcl.detach())
        ctx.log.add("temperature_fit", fit.detach())
        ctx.log.add("positive_temperature", torch.stack(terms["positive_tau"]).detach().mean())
        ctx.log.add("negative_temperature", torch.stack(terms["negative_tau"]).detach().mean())
        for side in ("positive", "negative"):
            similarity = torch.stack([getattr(pairs, f"{side}_similarity").mean() for pairs in terms["pairs"]])
            ctx.log.add(f"{side}_similarity", similarity.detach().mean())
        ctx.log.add("positive_accuracy",
                    (first.positive_similarity > first.negative_similarity).float().mean().detach())
        return StepOutput(step + fit)
