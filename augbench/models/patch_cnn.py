"""The two-layer patch CNN of the feature-learning theory of Mixup (Zou et al., ICML 2023)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS

__all__ = ["PatchCNN"]


@MODELS.register("patch_cnn")
class PatchCNN(nn.Module):
    """``F_j(x) = sum_r sum_p sigma(<w_{j,r}, x_p>)``: ``width`` filters per class, shared over patches.

    ``sigma(z) = max(z, 0) ** power`` (a polynomial ReLU; ``power: 3`` is the cubic activation of
    the feature-learning analyses in this line of work, ``power: 1`` a plain ReLU). The second
    layer is fixed to all-ones, as in the paper (only the first-layer filters ``w_{j,r}`` train).
    Weights start at ``N(0, init_std^2)``; a small ``init_std`` gives the slow-start dynamics the
    theory studies. The filters are the parameter ``weight`` of shape ``(K, width, d)`` so that
    evaluations can read their correlation with feature directions.

    Simplification: the paper's exact activation (a smoothed/polynomial ReLU with its threshold
    constants) was not checked against its text; this is the plain polynomial ReLU.

    Args:
        num_classes: ``K`` >= 1, from the data.
        input_shape: ``(P, d)`` of one sample (patches, patch dimension), from the data.
        width: filters per class ``m`` >= 1.
        power: activation exponent >= 1.
        init_std: standard deviation of the initial filters, > 0.

    Shape: ``(B, P, d)`` float -> logits ``(B, K)`` of the same float dtype.
    """

    def __init__(
        self, num_classes: int, input_shape: tuple[int, ...], width: int = 10, power: float = 3.0, init_std: float = 0.01
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ConfigError(
                f"patch_cnn: samples must be (patches, dim), got shape {tuple(input_shape)}; use a (N, P, d) dataset"
            )
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ConfigError(f"patch_cnn: width={width!r} must be an integer >= 1 (filters per class, e.g. 10)")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or power < 1:
            raise ConfigError(f"patch_cnn: power={power!r} must be a number >= 1 (3 for the cubic activation)")
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or init_std <= 0:
            raise ConfigError(f"patch_cnn: init_std={init_std!r} must be a positive number (e.g. 0.01)")
        self.power = float(power)
        self.weight = nn.Parameter(init_std * torch.randn(num_classes, width, input_shape[1]))

    def forward(self, inputs: Tensor) -> Tensor:
        responses = torch.einsum("bpd,jrd->bjrp", inputs, self.weight)  # (B, K, m, P)
        return responses.clamp(min=0).pow(self.power).sum((2, 3))
