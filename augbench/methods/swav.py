"""SwAV: swapped prediction of Sinkhorn-Knopp cluster codes, with multi-crop.

Reference:
    Caron, Misra, Mairal, Goyal, Bojanowski and Joulin, "Unsupervised Learning of Visual
    Features by Contrasting Cluster Assignments", NeurIPS 2020 (arXiv:2006.09882); official code
    facebookresearch/swav (``main_swav.py``: ``train``, ``distributed_sinkhorn``;
    ``src/multicropdataset.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputValueError
from augbench.methods.base import METHODS, Method, Phase
from augbench.models.heads import projection_head
from augbench.models.staged import StagedModel
from augbench.random import seeded_init
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Compose, Transform
from augbench.transforms.color import ColorJitter, GaussianBlur, RandomGrayscale
from augbench.transforms.geometry import HorizontalFlip, RandomResizedCrop

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["SwAV", "sinkhorn_knopp"]

_GLOBAL_VIEWS = (1, 2)  # key views of the two global crops
_FIRST_SMALL_VIEW = 3  # small crop i uses key view 3 + i
_MAX_SMALL_CROPS = 16 - _FIRST_SMALL_VIEW  # key views run 0..15
_SMALL_RATIO = 96 / 224  # the paper's small / global crop side
_MAX_STRENGTH = 2.5  # the hue shift 0.2 * s must stay within half a turn


def sinkhorn_knopp(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    """Balanced soft assignments ("codes") of ``N`` samples to ``K`` prototypes (no gradient).

    The paper's ``distributed_sinkhorn`` on one device, with the plan stored transposed
    (samples x prototypes): ``P = exp(scores / epsilon)``, then ``iterations`` times: scale
    every prototype's column to sum to ``1 / K``, then every sample's row to sum to ``1 / N``;
    finally multiply by ``N`` so that each sample's codes sum to 1. Before the final ``x N``
    the sample marginals are exactly ``1 / N`` and the prototype marginals approach ``1 / K``
    as ``iterations`` grows (the equipartition constraint).

    Numerics: computed in float32 whatever the input dtype and in the log domain: each
    normalisation subtracts a log-sum-exp, i.e. the maximum is subtracted before every
    exponential. This is the paper's iteration exactly (its normalisation by the total is
    cancelled by the first prototype scaling and is left out), but ``exp(scores / epsilon)``
    is never formed, so a small ``epsilon`` (0.01, 0.001) neither overflows (the paper's
    code gives inf/NaN there) nor underflows whole rows: every sample's codes still sum to 1.

    Args:
        scores: cosine scores ``z . c_k`` of the samples with the prototypes (any leading
            dimensions are independent problems, e.g. the two global crops).
        epsilon: entropic regularisation ``> 0`` (0.05 in the paper); smaller gives harder codes.
        iterations: Sinkhorn iterations ``>= 1`` (3 in the paper).

    Shape:
        ``(..., N, K)`` float -> ``(..., N, K)`` float32 codes, rows summing to 1.

    >>> codes = sinkhorn_knopp(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))
    >>> torch.allclose(codes.sum(1), torch.ones(8)), codes.shape
    (True, torch.Size([8, 4]))
    """
    if not isinstance(scores, Tensor) or not scores.is_floating_point() or scores.ndim < 2 or 0 in scores.shape[-2:]:
        seen = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise InputValueError(f"sinkhorn_knopp: scores must be a float (..., N, K) tensor with N, K >= 1, got {seen}")
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise InputValueError(f"sinkhorn_knopp: epsilon={epsilon!r} must be a positive number, e.g. 0.05")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputValueError(f"sinkhorn_knopp: iterations={iterations!r} must be a positive integer, e.g. 3")
    samples, prototypes = scores.shape[-2:]
    log_prototypes, log_samples = math.log(prototypes), math.log(samples)
    with torch.no_grad():
        log_plan = scores.detach().float() / epsilon
        for _ in range(iterations):
            log_plan = log_plan - (torch.logsumexp(log_plan, dim=-2, keepdim=True) + log_prototypes)
            log_plan = log_plan - (torch.logsumexp(log_plan, dim=-1, keepdim=True) + log_samples)
        return torch.exp(log_plan + log_samples)


@METHODS.register("swav")
class SwAV(Method):
    """Pretrain the run's encoder by predicting one view's cluster codes from the other views.

    Algorithm, per step on the labeled stream's ``B`` images (their labels are never read):

    1. Multi-crop views, one engine call per group: the two **global crops** (random resized
       crop of area ``global_scale`` back to the stored size, key views 1 and 2, rows view-major:
       ``(2B, C, H, W)``) and ``V = small_crops`` **small crops** (area ``small_scale``, resized
       to ``small_size`` pixels, key views 3..2+V: ``(VB, C, s, s)``). Every crop then gets a
       horizontal flip (p 0.5), colour jitter (strength ``color_strength`` with probability
       ``color_p``; grey images get brightness and contrast only), grey-scale (p
       ``grayscale_p``, RGB only) and a Gaussian blur (p ``blur_p``, kernel about 10 % of the
       crop side, sigma in [0.1, 2]).
    2. ``h = encoder(x)`` per resolution group (the run's model before its head; it must pool
       globally so that small crops give features of the same width), ``z = normalize(g(h))``
       with the projector ``g = Linear(D, hidden) - BatchNorm1d - ReLU - Linear(hidden, d)``
       over all ``(2 + V) B`` crops, and scores ``z . c_k`` with ``K`` learnable prototypes
       ``C`` (``ctx.modules["prototypes"]``, a bias-free ``Linear(d, K)``), whose rows are
       re-normalised to unit length at the start of every step (as the reference does).
    3. Codes, only for the two global crops and with no gradient: :func:`sinkhorn_knopp` with
       ``epsilon`` and ``sinkhorn_iterations`` on each global crop's ``(B, K)`` scores. With
       ``queue_length > 0`` each global crop keeps a FIFO of its last ``queue_length``
       embeddings (detached), filled from epoch ``queue_start_epoch`` on; once full, the
       queue's scores under the current prototypes join the batch's in the Sinkhorn problem
       and only the batch's ``B`` rows of codes are kept. The queue enters nowhere else (not
       the loss, not the gradient).
    4. Swapped prediction: for each global crop ``s`` and every other crop ``t`` (the other
       global crop and all small crops), ``-mean_b sum_k q_s[b, k] log softmax(z_t[b] . C /
       temperature)_k``, averaged over the ``2 (1 + V)`` pairs.
    5. The prototypes get no gradient (so no update, weight decay or momentum either) while
       ``epoch < freeze_prototypes_epochs`` or ``step < freeze_prototypes_steps`` (the paper:
       the first 313 iterations, one ImageNet epoch at batch 4096).

    The projector and prototypes are thrown away: the protocol's evaluations (``linear_probe``,
    ``knn``) read ``forward_features`` of the trained encoder.

    Logged per epoch: ``code_entropy``, the mean entropy (nats) of a sample's codes;
    ``assignment_entropy``, the entropy of the histogram of the batch's hard assignments
    (argmax code; 0 means collapse onto one prototype, ``log min(K, B)`` is the most possible);
    ``marginal_deviation``, ``max_k |K * mean_n q[n, k] - 1|`` over the Sinkhorn problem
    (0 when the prototype marginals are uniform); ``queue_used``, 1 on steps whose codes used
    the queue.

    Defaults follow the paper (``main_swav.py``): 2 global + 6 small crops, global area
    0.14-1, small area 0.05-0.14 at 96/224 of the global side, ``epsilon`` 0.05, 3 Sinkhorn
    iterations, ``K`` 3000, ``d`` 128, temperature 0.1, colour strength 1.0 with p 0.8,
    grey-scale p 0.2, blur p 0.5, prototypes frozen for the first epoch, no queue (the paper's
    small-batch runs use 3840 vectors from epoch 15). Small datasets need far fewer prototypes
    (the card: K = 30-100 on a Fashion-MNIST subset).

    Simplified relative to the paper:

    - one device: no distributed Sinkhorn or all-gather, batch-norm statistics per resolution
      group on one device;
    - the projector's hidden layer is as wide as the encoder's feature by default (the paper:
      2048);
    - the optimiser and schedule are the run's (the paper: LARS, lr 4.8 -> 0.0048, warm-up);
    - the blur is the engine's fixed-kernel Gaussian (kernel ~10 % of the side) instead of
      PIL's radius blur; the colour-jitter ops run in a fixed order (as :class:`SimCLR`);
    - the last batch of an epoch may be smaller than the rest (the reference drops it); the
      queue pushes whatever the batch holds;
    - Sinkhorn runs in the log domain (the same iteration, see :func:`sinkhorn_knopp`);
    - only the global crops are declared in :meth:`keyed_views` (the small crops are made in
      the step by one keyed call), and a size-checked :class:`StagedModel` (convnet) encodes the
      small crops through its stages (see ``_features``).

    Args:
        num_prototypes: ``K >= 2``.
        projection_dim: ``d``, the projector's output and the prototypes' width (128).
        hidden_dim: the projector's hidden width; ``None``: the encoder's feature width.
        temperature: softmax temperature of the predictions ``> 0`` (0.1).
        epsilon: Sinkhorn regularisation ``> 0`` (0.05).
        sinkhorn_iterations: ``>= 1`` (3).
        small_crops: ``V`` in 0..13 (0 turns multi-crop off: two global crops only).
        small_size: side of the small crops in pixels, below the stored image's shorter side;
            ``None``: ``round(96 / 224 * side)``.
        global_scale, small_scale: ``(low, high)`` crop-area fractions with ``0 < low <= high <= 1``.
        queue_length: embeddings kept per global crop (0: no queue); at least ``num_prototypes``
            and one batch. Any length works (a FIFO of rows; the reference rounds it down to a
            multiple of the batch because it shifts whole batches); without a queue each batch
            should hold at least ``K`` samples, which the method cannot check before training
            (the benchmark's dry run steps on 32 samples, whatever the batch size).
        queue_start_epoch: first epoch (0-based) that fills the queue.
        freeze_prototypes_epochs, freeze_prototypes_steps: the prototypes stay fixed while the
            epoch or the step is below these (``>= 0``).
        color_strength: colour-jitter strength ``s`` in [0, 2.5] (torchvision's
            ``ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)``); 0 turns it off.
        color_p, grayscale_p, blur_p: probabilities in [0, 1].
        input_shape: one stored sample's shape (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 (C = 1 or 3, B >= 2) -> a scalar loss.

    Raises:
        ConfigError: an option out of range, non-image data, a crop count or size that does not
            fit, a model that does not pool globally (with small crops), a queue shorter than
            ``num_prototypes``, or (at the step) a batch of fewer than 2 samples or larger than
            the queue.
    """

    streams = ("labeled",)
    evaluations = ("linear_probe", "knn")

    def __init__(
        self,
        num_prototypes: int = 3000,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        small_crops: int = 6,
        small_size: int | None = None,
        global_scale: Sequence[float] = (0.14, 1.0),
        small_scale: Sequence[float] = (0.05, 0.14),
        queue_length: int = 0,
        queue_start_epoch: int = 15,
        freeze_prototypes_epochs: int = 1,
        freeze_prototypes_steps: int = 0,
        color_strength: float = 1.0,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        blur_p: float = 0.5,
        input_shape: tuple[int, ...] = (3, 32, 32),
    ) -> None:
        self.num_prototypes = _int_at_least("num_prototypes", num_prototypes, 2, 3000)
        self.projection_dim = _int_at_least("projection_dim", projection_dim, 1, 128)
        self.hidden_dim = None if hidden_dim is None else _int_at_least("hidden_dim", hidden_dim, 1, 2048)
        self.temperature = _positive("temperature", temperature, 0.1)
        self.epsilon = _positive("epsilon", epsilon, 0.05)
        self.sinkhorn_iterations = _int_at_least("sinkhorn_iterations", sinkhorn_iterations, 1, 3)
        self.small_crops = _int_at_least("small_crops", small_crops, 0, 6)
        if self.small_crops > _MAX_SMALL_CROPS:
            raise ConfigError(
                f"swav: small_crops={small_crops} is more than the {_MAX_SMALL_CROPS} key views left after the two "
                f"global crops; use small_crops <= {_MAX_SMALL_CROPS}"
            )
        self.global_scale = _area_range("global_scale", global_scale, "[0.14, 1.0]")
        self.small_scale = _area_range("small_scale", small_scale, "[0.05, 0.14]")
        self.queue_length = _int_at_least("queue_length", queue_length, 0, 3840)
        if 0 < self.queue_length < self.num_prototypes:
            raise ConfigError(
                f"swav: queue_length={self.queue_length} holds fewer embeddings than num_prototypes="
                f"{self.num_prototypes}, too few to spread the codes over every prototype; use queue_length >= "
                f"{self.num_prototypes} (the paper: 3840 for 3000) or fewer prototypes"
            )
        self.queue_start_epoch = _int_at_least("queue_start_epoch", queue_start_epoch, 0, 15)
        self.freeze_prototypes_epochs = _int_at_least("freeze_prototypes_epochs", freeze_prototypes_epochs, 0, 1)
        self.freeze_prototypes_steps = _int_at_least("freeze_prototypes_steps", freeze_prototypes_steps, 0, 313)
        color_strength = _number_in("color_strength", color_strength, 0.0, _MAX_STRENGTH, 1.0)
        color_p = _number_in("color_p", color_p, 0.0, 1.0, 0.8)
        grayscale_p = _number_in("grayscale_p", grayscale_p, 0.0, 1.0, 0.2)
        blur_p = _number_in("blur_p", blur_p, 0.0, 1.0, 0.5)
        self.input_shape = tuple(int(size) for size in input_shape)
        if len(self.input_shape) != 3 or self.input_shape[0] not in (1, 3):
            raise ConfigError(
                f"swav: multi-crop needs 1- or 3-channel images (C, H, W), the data has samples of shape "
                f"{self.input_shape}; use an image dataset"
            )
        side = min(self.input_shape[1:])
        if small_size is None:
            self.small_size = max(1, round(_SMALL_RATIO * side))
        else:
            self.small_size = _int_at_least("small_size", small_size, 1, max(1, round(_SMALL_RATIO * side)))
        if self.small_crops and self.small_size >= side:
            raise ConfigError(
                f"swav: small_size={self.small_size} must be below the images' shorter side {side} (small crops "
                f"are low-resolution views); use e.g. small_size: {max(1, round(_SMALL_RATIO * side))}"
            )
        colour = (color_strength, color_p, grayscale_p, blur_p)
        self.global_augment = _crop_pipeline(None, self.global_scale, side, self.input_shape[0], *colour)
        self.small_augment = (
            _crop_pipeline(self.small_size, self.small_scale, self.small_size, self.input_shape[0], *colour)
            if self.small_crops else None
        )
        self._small_views = tuple(range(_FIRST_SMALL_VIEW, _FIRST_SMALL_VIEW + self.small_crops))
        self._queue: Tensor | None = None
        self._queued = 0  # rows pushed into the queue so far (a Python count: no host sync)

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase; its encoder is the run's final model."""
        return [Phase("pretrain", self, self.spec)]

    def setup(self, ctx: TrainContext) -> None:
        """Register ``projector`` and ``prototypes`` (unit rows), initialised from a seed drawn from
        ``ctx.generator``; check that the encoder pools small crops to the same feature width;
        empty the queue."""
        model = ctx.model
        if not callable(getattr(model, "forward_features", None)):
            raise ConfigError(
                f"swav: {type(model).__name__} has no forward_features(); use an encoder model "
                "(convnet, preact_resnet18)"
            )
        width = self._probe_width(model, ctx.device)
        hidden = self.hidden_dim or width
        with seeded_init(ctx.generator):
            projector = projection_head(width, hidden, self.projection_dim)
            prototypes = nn.Linear(self.projection_dim, self.num_prototypes, bias=False)
        with torch.no_grad():
            prototypes.weight.copy_(nnf.normalize(prototypes.weight, dim=1))
        ctx.add_module("projector", projector)
        ctx.add_module("prototypes", prototypes)
        self._queue = (
            torch.zeros(len(_GLOBAL_VIEWS), self.queue_length, self.projection_dim, device=ctx.device)
            if self.queue_length else None
        )
        self._queued = 0

    def _probe_width(self, model: nn.Module, device: torch.device) -> int:
        """The encoder's feature width, the same for global and small crops (or one line)."""
        was_training = model.training
        model.eval()  # a shape probe must not move batch-norm statistics
        try:
            with torch.no_grad():
                width = model.forward_features(torch.zeros(2, *self.input_shape, device=device)).flatten(1).shape[1]
                if self.small_crops:
                    small = torch.zeros(2, self.input_shape[0], self.small_size, self.small_size, device=device)
                    try:
                        small_width = _features(model, small).shape[1]
                    except (RuntimeError, InputValueError):
                        small_width = None
                    if small_width != width:
                        raise ConfigError(
                            f"swav: {type(model).__name__} gives no {width}-d feature for {self.small_size}x"
                            f"{self.small_size} small crops (the encoder must pool globally and take that size); use a "
                            "globally pooled encoder (convnet), a larger small_size or small_crops: 0"
                        )
        finally:
            model.train(was_training)
        return width

    def keyed_views(self) -> list[KeyedView]:
        """The two global crops (key views 1, 2), which the loop makes for a chunk of steps.

        The small crops (key views 3..2+V) are not declared: the benchmark's preflight refuses a
        declared view that changes the stored sample shape, so they are made in each step, still
        by one keyed call for all ``V`` of them (same bits; at ``V B >= 1024`` samples a step
        the loop's chunk would hold one step anyway, :data:`augbench.train.views.CHUNK_SAMPLES`).
        """
        return [KeyedView(self.global_augment, "labeled", _GLOBAL_VIEWS)]

    def views(self, ctx: TrainContext) -> tuple[Tensor, Tensor | None]:
        """The current labeled batch's crops, one keyed engine call per resolution group.

        Shape:
            ``(B, C, H, W)`` stored images -> global ``(2B, C, H, W)`` and small
            ``(V B, C, s, s)`` (``None`` when ``small_crops`` is 0), same dtype; rows view-major
            (row ``v B + b`` is crop ``v`` of sample ``b``).
        """
        global_crops = ctx.augment(self.global_augment, "labeled", _GLOBAL_VIEWS)
        small_crops = None
        if self.small_augment is not None:
            small_crops = ctx.augment(self.small_augment, "labeled", self._small_views)
        return global_crops, small_crops

    def prototypes_frozen(self, ctx: TrainContext) -> bool:
        """Whether this step leaves the prototypes fixed (the freeze of step 5)."""
        return ctx.epoch < self.freeze_prototypes_epochs or ctx.step < self.freeze_prototypes_steps

    def project(self, ctx: TrainContext, global_crops: Tensor, small_crops: Tensor | None) -> Tensor:
        """``z = normalize(projector(encoder(crops)))`` for all crops, global first.

        Shape:
            ``(2B, C, H, W)`` and ``(V B, C, s, s)`` stored crops -> ``((2 + V) B, d)`` float, unit rows.
        """
        features = [ctx.model.forward_features(ctx.normalize(global_crops)).flatten(1)]
        if small_crops is not None:
            features.append(_features(ctx.model, ctx.normalize(small_crops)))
        return nnf.normalize(ctx.modules["projector"](torch.cat(features)), dim=1)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        size = len(batch["labeled"])
        self._check_batch(size)
        prototypes = ctx.modules["prototypes"].weight
        frozen = self.prototypes_frozen(ctx)
        if not frozen:
            with torch.no_grad():
                prototypes.copy_(nnf.normalize(prototypes, dim=1))
        embeddings = self.project(ctx, *self.views(ctx))
        scores = embeddings @ (prototypes.detach() if frozen else prototypes).T  # ((2 + V) B, K)
        crops = scores.shape[0] // size
        global_embeddings = embeddings[: len(_GLOBAL_VIEWS) * size].detach().view(len(_GLOBAL_VIEWS), size, -1)
        problem = scores[: len(_GLOBAL_VIEWS) * size].detach().view(len(_GLOBAL_VIEWS), size, -1)
        use_queue = self._queue is not None and self._queued >= self.queue_length
        with torch.no_grad():
            if use_queue:
                problem = torch.cat([self._queue @ prototypes.detach().T, problem], dim=1)
            plan = sinkhorn_knopp(problem, self.epsilon, self.sinkhorn_iterations)  # (2, [L +] B, K)
        codes = plan[:, -size:]
        log_predictions = torch.log_softmax(scores / self.temperature, dim=1).view(crops, size, -1)
        cross = -torch.einsum("sbk,tbk->st", codes.to(log_predictions.dtype), log_predictions) / size  # (2, 2 + V)
        others = ~torch.eye(len(_GLOBAL_VIEWS), crops, dtype=torch.bool, device=cross.device)
        loss = cross[others].mean()
        if self._queue is not None and ctx.epoch >= self.queue_start_epoch:
            self._push(self._queue, global_embeddings)
        self._log(ctx, plan, codes, use_queue)
        return StepOutput(loss)

    def _check_batch(self, size: int) -> None:
        """Per step, from the batch's shape only: Sinkhorn needs 2 samples, the queue must hold a batch."""
        if size < 2:
            raise ConfigError(
                f"swav: a step got {size} sample(s); Sinkhorn needs >= 2 per batch: set batch_size >= 2 and a "
                "train_size that leaves no last batch of 1"
            )
        if 0 < self.queue_length < size:
            raise ConfigError(
                f"swav: queue_length={self.queue_length} cannot hold one batch of {size}; use queue_length: "
                f"{-(-self.num_prototypes // size) * size} (a multiple of the batch, >= num_prototypes) or 0"
            )

    def _push(self, queue: Tensor, embeddings: Tensor) -> None:
        """FIFO: the batch's global-crop embeddings ``(2, B, d)`` enter at the front, the oldest leave."""
        self._queue = torch.cat([embeddings, queue[:, : self.queue_length - embeddings.shape[1]]], dim=1)
        self._queued += embeddings.shape[1]

    def _log(self, ctx: TrainContext, plan: Tensor, codes: Tensor, use_queue: bool) -> None:
        prototypes = plan.shape[-1]
        ctx.log.add("code_entropy", -torch.xlogy(codes, codes).sum(-1).mean())
        hard = nnf.one_hot(codes.argmax(-1), prototypes).float().mean(-2)  # (2, K) share of each prototype
        ctx.log.add("assignment_entropy", -torch.xlogy(hard, hard).sum(-1).mean())
        ctx.log.add("marginal_deviation", (plan.mean(-2) * prototypes - 1).abs().amax())
        ctx.log.add("queue_used", float(use_queue))

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: pretraining never trains the model's classifier head."""
        raise ConfigError(
            "swav trains an encoder, not a classifier; evaluate it with linear_probe or knn "
            "(set the experiment's evaluations: [linear_probe, knn])"
        )


def _features(model: nn.Module, images: Tensor) -> Tensor:
    """The pooled feature ``(N, D)`` of crops of any size.

    A :class:`StagedModel` built for one image size checks every input against it, so crops of
    another size run through its stages directly (``forward_features`` without the size check;
    :meth:`SwAV.setup` has checked that they pool to the same width); other models get
    ``forward_features``.
    """
    if isinstance(model, StagedModel) and tuple(images.shape[1:]) != model.input_shape:
        hidden = images
        for stage in model.stages.values():
            hidden = stage(hidden)
        return hidden.flatten(1)
    return model.forward_features(images).flatten(1)


def _crop_pipeline(
    size: int | None, scale: tuple[float, float], side: int, channels: int,
    color_strength: float, color_p: float, grayscale_p: float, blur_p: float,
) -> Transform:
    """Random resized crop (``size``; ``None``: the stored size) + flip + colour + grey + blur."""
    steps: list[Transform] = [RandomResizedCrop(size, scale=scale), HorizontalFlip(0.5)]
    if color_strength > 0 and color_p > 0:
        spread = 0.8 * color_strength
        steps.append(ColorJitter(spread, spread, spread, 0.2 * color_strength, p=color_p))
    if grayscale_p > 0 and channels == 3:
        steps.append(RandomGrayscale(p=grayscale_p))
    if blur_p > 0:
        kernel = max(3, 2 * round(0.05 * side) + 1)  # the odd side nearest 10 % of the crop, at least 3
        steps.append(GaussianBlur(kernel, (0.1, 2.0), p=blur_p))
    return Compose(steps)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(option: str, value: object, example: float) -> float:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"swav: {option}={value!r} must be a positive number, e.g. {example}")
    return float(value)


def _int_at_least(option: str, value: object, low: int, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"swav: {option}={value!r} must be an integer >= {low}, e.g. {example}")
    return value


def _number_in(option: str, value: object, low: float, high: float, example: float) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise ConfigError(f"swav: {option}={value!r} must be a number in [{low}, {high}], e.g. {example}")
    return float(value)


def _area_range(option: str, value: object, example: str) -> tuple[float, float]:
    pair = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(pair) != 2 or not all(_is_number(v) for v in pair) or not 0 < pair[0] <= pair[1] <= 1:
        raise ConfigError(f"swav: {option}={value!r} must be [low, high] with 0 < low <= high <= 1, e.g. {example}")
    return float(pair[0]), float(pair[1])
