"""AugMix: convex mixes of short random op chains, plus the Jensen-Shannon consistency loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.distributions import AnyGenerator, beta, dirichlet, rand
from augbench.errors import ConfigError
from augbench.functional._pixel import to_uint8
from augbench.functional._utils import restore_dtype
from augbench.policies.ops import SPACES, OpRange, apply_op_layers, op_values
from augbench.random import Params
from augbench.transforms._args import check_fill
from augbench.transforms.base import ImageShape, Transform

__all__ = ["AugMix", "jsd_loss", "AUGMIX_OPS", "AUGMIX_ALL_OPS"]

AUGMIX_OPS = ("AutoContrast", "Equalize", "Posterize", "Rotate", "Solarize", "ShearX", "ShearY", "TranslateX", "TranslateY")
"""The default ops; colour/contrast/brightness/sharpness overlap ImageNet-C corruptions."""
AUGMIX_ALL_OPS = (*AUGMIX_OPS, "Color", "Contrast", "Brightness", "Sharpness")

_MAX_DEPTH = 3
_ENHANCE = OpRange(-0.9, 0.9)  # the reference's factor 0.1 + 1.8 * level, never signed
SPACES["augmix"] = {
    **SPACES["standard"],
    "TranslateX": OpRange(0.0, 1 / 3, True),
    "TranslateY": OpRange(0.0, 1 / 3, True),
    "Posterize": OpRange(4.0, 0.0),
    "Color": _ENHANCE,
    "Contrast": _ENHANCE,
    "Brightness": _ENHANCE,
    "Sharpness": _ENHANCE,
}


class AugMix(Transform):
    """AugMix: ``x_aug = (1 - m) x + m * sum_i w_i chain_i(x)`` with per-sample draws.

    Per sample: chain weights ``w ~ Dirichlet(alpha)`` over ``width`` chains, mixing weight
    ``m ~ Beta(alpha, alpha)``; chain ``i`` has depth ``d ~ U{1, 2, 3}`` (or ``depth``) and
    each step an op drawn uniformly with level ``U(0.1, severity) / 10`` of the reference's
    ranges (rotate 30 deg, shear 0.3, translate a third of the side, posterize 4 -> 0 bits,
    solarize from above white down). Ops run on the images' dtype, grouped by op; the mix is
    computed in float and rounded back for uint8. Each call returns one view; for the JSD loss
    call it twice (two independent draws) and use :func:`jsd_loss`. This class follows the
    AugMix reference and torchvision; the ``augmix-...`` policy strings build timm's AugMix
    (:class:`~augbench.policies.TimmAugMix`).

    Args:
        severity: maximal op level, 1-10.
        width: number of chains.
        depth: ops per chain, 1-3, or -1 for a random depth in 1-3 per chain.
        alpha: concentration of the Dirichlet and Beta draws.
        all_ops: also use colour, contrast, brightness and sharpness.
        fill: fill of geometric ops in [0, 1] units.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype.

    Reference:
        Hendrycks et al., "AugMix: A simple data processing method to improve robustness and
        uncertainty", ICLR 2020.
    """

    blend_skipped = False

    def __init__(
        self,
        severity: int = 3,
        width: int = 3,
        depth: int = -1,
        alpha: float = 1.0,
        all_ops: bool = False,
        fill: float = 0.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        if not 1 <= severity <= 10:
            raise ConfigError(f"AugMix: severity={severity} must lie in [1, 10]")
        if not isinstance(width, int) or width < 1:
            raise ConfigError(f"AugMix: width={width!r} must be an int >= 1")
        if depth != -1 and (not isinstance(depth, int) or not 1 <= depth <= _MAX_DEPTH):
            raise ConfigError(f"AugMix: depth={depth!r} must be -1 (random 1-3) or an int in [1, 3]")
        if not math.isfinite(alpha) or alpha <= 0:
            raise ConfigError(f"AugMix: alpha={alpha} must be a finite number > 0")
        self.severity = severity
        self.width = width
        self.depth = depth
        self.alpha = float(alpha)
        self.all_ops = bool(all_ops)
        self.fill = check_fill("AugMix", fill)
        self._ops = AUGMIX_ALL_OPS if all_ops else AUGMIX_OPS

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        steps = (n, self.width, _MAX_DEPTH)
        weights = dirichlet(self.alpha, (n, self.width), generator)
        mix = beta(self.alpha, self.alpha, (n,), generator)
        if self.depth == -1:
            depth = (rand((n, self.width), generator) * _MAX_DEPTH).long().clamp_(max=_MAX_DEPTH - 1) + 1
        else:
            depth = torch.full((n, self.width), self.depth, dtype=torch.int64, device=weights.device)
        op = (rand(steps, generator) * len(self._ops)).long().clamp_(max=len(self._ops) - 1)
        level = (0.1 + (self.severity - 0.1) * rand(steps, generator)) / 10
        sign = torch.where(rand(steps, generator) < 0.5, -1.0, 1.0)
        return {"weights": weights, "mix": mix, "depth": depth, "op": op, "level": level, "sign": sign}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        if target != "image":
            raise ConfigError("AugMix blends pixel values, so it cannot be replayed on masks")
        values = op_values(self._ops, SPACES["augmix"], params.op, params.level, params.sign)
        # The reference keeps 4 - int(4 * level) bits (truncated); the Posterize kernel would round.
        values = torch.where(params.op == self._ops.index("Posterize"), 4.0 - (4.0 * params.level).floor(), values)
        dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        steps = torch.arange(_MAX_DEPTH, device=params.depth.device)
        active = steps < params.depth[:, :, None]  # (B, width, 3)
        ops = torch.where(active, params.op, -1)
        chains = [  # width chains x up to 3 grouped steps each, not a loop over samples
            apply_op_layers(images, self._ops, ops[:, chain], values[:, chain], self.fill, target) for chain in range(self.width)
        ]
        weights = params.weights.to(dtype)
        mix = params.mix.to(dtype)
        result = torch.empty_like(images, memory_format=torch.contiguous_format)
        # (1 - m) x + m * sum_i w_i chain_i(x), a slab of samples at a time (~1M values): the
        # temporaries stay small (cache-sized, and no page faults from fresh 40 MB float
        # buffers at 224 px); each product and sum is the same float operation as in the plain
        # expression, so the result is too.
        slab = max(1, (1 << 20) // max(1, math.prod(images.shape[1:])))
        for start in range(0, images.shape[0], slab):
            rows = slice(start, start + slab)
            mixed = chains[0][rows].to(dtype, copy=True).mul_(weights[rows, 0, None, None, None])  # = 0 + w_0 chain_0
            for chain in range(1, self.width):
                mixed.add_(chains[chain][rows].to(dtype, copy=True).mul_(weights[rows, chain, None, None, None]))
            m = mix[rows, None, None, None]
            mixed.mul_(m).add_(images[rows].to(dtype, copy=True).mul_(1 - m))
            if images.dtype == torch.uint8:
                result[rows] = to_uint8(mixed.round_().clamp_(0, 255))
            else:
                result[rows] = restore_dtype(mixed, images.dtype)
        return result

    def extra_repr(self) -> str:
        return f"severity={self.severity}, width={self.width}, depth={self.depth}, alpha={self.alpha:g}, all_ops={self.all_ops}"


def jsd_loss(logits_clean: Tensor, logits_aug1: Tensor, logits_aug2: Tensor) -> Tensor:
    """Jensen-Shannon consistency between the clean view and two AugMix views.

    ``JS = (KL(p_c || M) + KL(p_1 || M) + KL(p_2 || M)) / 3`` with
    ``M = clamp((p_c + p_1 + p_2) / 3, 1e-7, 1)``, averaged over the batch. AugMix adds it to
    the clean cross-entropy with weight 12.

    Args:
        logits_clean, logits_aug1, logits_aug2: ``(B, num_classes)`` float logits.

    Returns:
        A scalar tensor, 0 when the three predictions agree.
    """
    probs = [nnf.softmax(logits, dim=1) for logits in (logits_clean, logits_aug1, logits_aug2)]
    log_mixture = torch.clamp((probs[0] + probs[1] + probs[2]) / 3.0, 1e-7, 1.0).log()
    return sum(nnf.kl_div(log_mixture, p, reduction="batchmean") for p in probs) / 3.0
