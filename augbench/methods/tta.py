"""Test-time augmentation: a base method's training, predictions merged over augmented views."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from augbench.errors import AugbenchError, ConfigError, InputValueError
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.spec import MethodContext, build_method
from augbench.policies.build import build_transform
from augbench.registry import Spec

__all__ = ["TTA", "MERGES", "merge_log_probs"]

MERGES = ("mean", "max", "gmean")
"""How per-view class probabilities are merged (see :func:`merge_log_probs`)."""


def merge_log_probs(log_probs: Tensor, merge: str = "mean") -> Tensor:
    """Merge per-view class probabilities into one distribution per sample, in log space.

    With ``p_m = exp(log_probs[:, m])`` the ``M`` views' probabilities:

    - ``"mean"``: ``p = (1/M) sum_m p_m`` (the classic TTA average, as in the reference below);
    - ``"max"``: ``p ∝ max_m p_m`` per class, renormalised;
    - ``"gmean"``: ``p ∝ exp((1/M) sum_m log p_m)``, renormalised. As ``log p_m`` is the view's
      logits minus a per-view constant, this equals ``softmax`` of the averaged logits.

    Everything stays in log space (``logsumexp``, ``amax``, ``mean`` of log-probabilities,
    then ``log_softmax``), so no probability underflows to ``log 0``.

    Args:
        log_probs: ``(B, M, C)`` floating log-probabilities of ``M >= 1`` views over ``C``
            classes (each row normalised).
        merge: one of :data:`MERGES`.

    Returns:
        ``(B, C)`` log-probabilities of the merged distribution (``exp`` sums to 1).

    Example:
        >>> p = torch.tensor([[[0.6, 0.4], [0.0, 1.0]]])
        >>> merge_log_probs(p.log(), "mean").exp()
        tensor([[0.3000, 0.7000]])
    """
    if merge not in MERGES:
        raise ConfigError(f"tta: merge={merge!r} is unknown; use one of {', '.join(MERGES)}")
    if log_probs.ndim != 3 or log_probs.shape[1] == 0:
        raise InputValueError(
            f"merge_log_probs: log_probs must be (B, M, C) with M >= 1 views, got {tuple(log_probs.shape)}"
        )
    if merge == "mean":
        merged = torch.logsumexp(log_probs, dim=1) - math.log(log_probs.shape[1])
    elif merge == "max":
        merged = log_probs.amax(dim=1)
    else:
        merged = log_probs.mean(dim=1)
    return merged.log_softmax(dim=-1)


@METHODS.register("tta")
class TTA(Method):
    """Test-time augmentation (TTA): train exactly as ``base``; predict by merging the class
    probabilities of ``num_views`` augmented copies of every test input (plus the original).

    Training: :meth:`phases` returns the base method's phases unchanged (same phase specs), so
    a TTA run has the same phase identity as the base run and reuses its cached weights: with a
    shared cache, TTA costs only evaluation. ``streams`` and ``evaluations`` are the base's.

    Prediction (:meth:`predict`, used by ``accuracy``, ``calibration``, ``corruption``, ...):

    1. repeat the stored batch ``(B, ...)`` sample-major to ``(B * K, ...)`` and augment it with
       ``views`` in ONE batched engine call with keyed draws: the copy at position ``j`` of the
       repeated batch (sample ``i = j // K``, view ``v = j % K``) has key ``j`` and seed
       ``view_seed``. Views are therefore per sample, deterministic across calls, and a sample's
       views depend only on its position in the batch ``predict`` is given (evaluation chunks
       are fixed, so the same test set always gets the same views), not on the batch size;
    2. prepend the original batch when ``include_original`` and run the base's ``predict`` once
       on all ``B * M`` inputs (``M = K + include_original``);
    3. merge the ``M`` per-view softmax distributions with ``merge`` (:func:`merge_log_probs`),
       on probabilities, never on logits.

    ``predict`` returns the merged **log-probabilities**, not logits: ``argmax``, ``softmax``
    and cross-entropy treat them exactly as logits (``softmax(log p) = p``), so accuracy, NLL
    and ECE are those of the merged distribution. White-box attacks (``adversarial``) use the
    plain model and are not run through TTA. Only ``predict`` is overridden: attributes other
    evaluations look up on the method (``anomaly_score``, ``task_accuracies``) are not forwarded
    from the base.

    Defaults: ``views="hflip1"`` (a horizontal flip with p 1), ``num_views=1``,
    ``include_original=True``, ``merge="mean"``: the classic original + mirror average.

    Reference: the TTA baseline of Shu et al., "Test-Time Prompt Tuning for Zero-Shot
    Generalization in Vision-Language Models", NeurIPS 2022 (TTA as practised since Krizhevsky
    et al. 2012's 10-crop averaging). Simplified: the views are drawn per sample by a random
    transform (a crop *with random offset*, not the fixed 5/10-crop grid of the classic recipe),
    and they must keep the input size (no multi-scale views); TPT, which tunes a CLIP prompt
    per test sample, is not part of this method.

    Args:
        base: the spec of the method whose training is reused (a preset, a registered method, a
            ``{type: ..., **options}`` spec or a policy string); default ``"baseline"``.
        views: transform spec of one augmented view: a policy string (``"hflip1"``,
            ``"crop28p2"``, ``"rand-m9-n2"``) or ``{type: RandomCrop, size: 28, padding: 2}``. It
            must keep the image size and draw per sample (no ``same_on_batch``).
        num_views: ``K >= 1`` augmented views per input. A deterministic view (``hflip1``) wants
            ``K = 1``: more copies only repeat it. Evaluation memory grows with ``K + 1``.
        include_original: also merge the prediction on the unaugmented input.
        merge: ``"mean"``, ``"max"`` or ``"gmean"`` of the views' probabilities.
        view_seed: seed of the views' keyed draws (fixed at test time, not the run's seed).
        num_classes, input_shape, modality: from the run's data.
    """

    spec_fields = {"base": "method", "views": "transform"}

    def __init__(
        self,
        base: Spec = "baseline",
        views: Spec = "hflip1",
        num_views: int = 1,
        include_original: bool = True,
        merge: str = "mean",
        view_seed: int = 0,
        *,
        num_classes: int,
        input_shape: tuple[int, ...],
        modality: str = "image",
    ) -> None:
        if modality != "image":
            raise ConfigError(f"tta: views are image transforms and this run's data is {modality}; use image data")
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
            raise ConfigError(f"tta: num_views={num_views!r} must be an integer >= 1 (augmented views per input)")
        if not isinstance(include_original, bool):
            raise ConfigError(f"tta: include_original={include_original!r} must be true or false")
        if merge not in MERGES:
            raise ConfigError(f"tta: merge={merge!r} is unknown; use one of {', '.join(MERGES)}")
        if isinstance(view_seed, bool) or not isinstance(view_seed, int) or view_seed < 0:
            raise ConfigError(f"tta: view_seed={view_seed!r} must be a non-negative integer")
        if views is None:
            raise ConfigError("tta: views=None gives no views; pass a transform spec such as 'hflip1' or 'crop28p2'")
        self.views = _checked_views(views, tuple(input_shape), view_seed)
        self.base = build_method(base, MethodContext(num_classes, tuple(input_shape), modality))
        self.streams = self.base.streams
        self.evaluations = self.base.evaluations
        self.num_views = num_views
        self.include_original = include_original
        self.merge = merge
        self.view_seed = view_seed

    def phases(self, context: MethodContext) -> list[Phase]:
        """The base method's phases, unchanged: TTA trains nothing of its own."""
        return self.base.phases(context)

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Merged log-probabilities ``(B, num_classes)`` over the views of a stored batch.

        Args:
            model: the trained model, in eval mode.
            inputs: ``(B, C, H, W)`` stored images (uint8 0-255 or float 0-1).
            normalize: maps stored images to the model input.

        Returns:
            ``(B, num_classes)`` float log-probabilities of the merged distribution (use them as
            logits).
        """
        batch = inputs.shape[0]
        repeated = inputs.repeat_interleave(self.num_views, dim=0)
        keys = torch.arange(repeated.shape[0], device=inputs.device)
        views = self.views(repeated, keys=keys, seed=self.view_seed)
        stacked = torch.cat([inputs, views]) if self.include_original else views
        log_probs = self.base.predict(model, stacked, normalize).float().log_softmax(dim=-1)
        augmented = log_probs[batch:] if self.include_original else log_probs
        per_view = augmented.view(batch, self.num_views, -1)
        if self.include_original:
            per_view = torch.cat([log_probs[:batch, None], per_view], dim=1)
        return merge_log_probs(per_view, self.merge)


def _checked_views(views: Spec, input_shape: tuple[int, ...], seed: int) -> Callable[..., Tensor]:
    """Build ``views`` and try it once on a blank batch: keyed, per sample, size-preserving."""
    try:
        transform = build_transform(views)
        probe = torch.zeros((2, *input_shape), dtype=torch.uint8)
        shape = tuple(transform(probe, keys=torch.arange(2), seed=seed).shape[1:])
    except AugbenchError as error:
        raise ConfigError(f"tta: views={views!r} does not work as a keyed per-sample view ({error})") from None
    if shape != input_shape:
        raise ConfigError(
            f"tta: views={views!r} turns {input_shape} images into {shape}; use a size-preserving view "
            f"(e.g. RandomCrop to {input_shape[1:]} with padding)"
        )
    return transform
