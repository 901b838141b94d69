"""``feature_learning``: which features a patch CNN learned on the feature-noise data model.

For the synthetic data of :mod:`augbench.data.feature_noise` (Zou et al., ICML 2023) and a model
with first-layer filters ``weight`` of shape ``(K, m, d)`` (:class:`~augbench.models.PatchCNN`):

- ``common_correlation``: ``mean_j max_r <w_{j,r}, v_j> / ||v_j||`` over classes ``j``;
- ``rare_correlation``: the same with the rare features ``u_j``;
- ``test_common_accuracy`` / ``test_rare_accuracy``: accuracy on the test samples whose feature
  patch holds the common / the rare feature (NaN when the split has none).

The correlations are measured in the model's input space: the run's normaliser divides every
patch position by its training standard deviation (nearly the same for every position, since the
feature patch sits at a random position), which rescales the features but keeps their directions,
so ``<w, v> / ||v||`` is ``<w, v_hat>`` with ``v_hat`` the unit direction either way.
"""

from __future__ import annotations

import torch

from augbench.data.feature_noise import feature_directions, rare_mask
from augbench.errors import ConfigError
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, predict_logits

__all__ = ["feature_correlations"]


def feature_correlations(weight: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``(K,)`` float: ``max_r <w_{j,r}, v_j> / ||v_j||`` per class ``j``.

    Shape: weight ``(K, m, d)``, directions ``(K, d)`` (any non-zero norms).

    >>> feature_correlations(torch.tensor([[[2.0, 0.0], [0.0, 1.0]]]), torch.tensor([[3.0, 0.0]]))
    tensor([2.])
    """
    unit = directions / directions.norm(dim=1, keepdim=True)
    return torch.einsum("jrd,jd->jr", weight, unit.to(weight.dtype)).amax(1)


@EVALUATIONS.register("feature_learning")
@torch.no_grad()
def feature_learning(ctx: EvalContext) -> EvalResult:
    """Rare/common feature correlations of the filters and rare/common test accuracy (module docstring)."""
    weight = getattr(ctx.model, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 3:
        raise ConfigError(
            f"evaluation 'feature_learning' reads (K, m, d) filters 'weight'; model {type(ctx.model).__name__} "
            "has none: use patch_cnn"
        )
    data = ctx.split("test", "feature_learning")
    if data.inputs.ndim != 3 or data.inputs.shape[-1] != weight.shape[2] or weight.shape[0] != ctx.data.num_classes:
        raise ConfigError("evaluation 'feature_learning' is defined for the feature_noise dataset with a patch_cnn model")
    common, rare = feature_directions(ctx.data.num_classes, weight.shape[2])
    common_corr = feature_correlations(weight.detach().float().cpu(), common)
    rare_corr = feature_correlations(weight.detach().float().cpu(), rare)
    correct = (predict_logits(ctx, data.inputs).argmax(1).cpu() == data.labels).float()
    is_rare = rare_mask(data.inputs, data.labels, ctx.data.num_classes)
    nan = float("nan")
    metrics = {
        "common_correlation": float(common_corr.mean()),
        "rare_correlation": float(rare_corr.mean()),
        "test_common_accuracy": float(correct[~is_rare].mean()) if bool((~is_rare).any()) else nan,
        "test_rare_accuracy": float(correct[is_rare].mean()) if bool(is_rare.any()) else nan,
    }
    artifacts = {
        "common_correlation_per_class": common_corr.tolist(),
        "rare_correlation_per_class": rare_corr.tolist(),
        "test_rare_count": int(is_rare.sum()),
    }
    return metrics, artifacts
