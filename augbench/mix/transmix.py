"""TransMix (Chen et al., 2022): DeiT-style CutMix/Mixup whose CutMix label weight is attention mass."""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.distributions import beta
from augbench.errors import InputTypeError, InputValueError
from augbench.functional._utils import compute_dtype, restore_dtype
from augbench.mix.base import MIXERS, MixResult, Mixer, check_alpha
from augbench.mix.cutmix import centred_box, paste_box
from augbench.random import Params, bernoulli, randint

__all__ = ["TransMix", "pasted_attention"]


def pasted_attention(params: Params, attention: Tensor, image_size: tuple[int, int]) -> Tensor:
    """The share of each sample's attention that falls on its pasted CutMix box.

    The box mask is downsampled to the patch grid by *coverage*: patch ``(r, c)`` counts with
    the fraction of its pixels inside the box (1 inside, 0 outside, in between on the box
    border), computed exactly from the box coordinates. For boxes aligned with the patch grid
    this is the reference implementation's binary patch mask; uniform attention gives exactly
    the box area fraction.

    Args:
        params: ``top``, ``left``, ``height``, ``width``, ``(B,)`` int64 boxes in pixels.
        attention: ``(B, heads, rows, cols)`` float, non-negative class-token attention over
            the patch grid (patches row-major, as ``VisionTransformer`` returns them viewed
            with its ``patch_grid``); averaged over heads and renormalised to sum to 1.
        image_size: ``(H, W)`` in pixels, multiples of ``(rows, cols)``.

    Returns:
        ``(B,)`` float32 in [0, 1]: ``sum(A * M) / sum(A)``.
    """
    height, width = image_size
    rows, cols = attention.shape[-2:]
    patch_height, patch_width = height // rows, width // cols
    device = attention.device
    weights = attention.to(torch.float32).mean(1)
    weights = weights / weights.sum((1, 2), keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
    row_cover = _overlap(params.top.to(device), params.height.to(device), rows, patch_height)
    col_cover = _overlap(params.left.to(device), params.width.to(device), cols, patch_width)
    coverage = row_cover[:, :, None] * col_cover[:, None, :]
    return (weights * coverage).sum((1, 2)).clamp(0.0, 1.0)


def _overlap(start: Tensor, length: Tensor, cells: int, cell_size: int) -> Tensor:
    """``(B, cells)`` float32: the fraction of cell ``[k size, (k + 1) size)`` inside ``[start, start + length)``."""
    cell_start = torch.arange(cells, device=start.device) * cell_size
    low = torch.maximum(start[:, None], cell_start)
    high = torch.minimum((start + length)[:, None], cell_start + cell_size)
    return (high - low).clamp(min=0).to(torch.float32) / cell_size


@MIXERS.register("transmix")
class TransMix(Mixer):
    """CutMix or Mixup per draw (DeiT style); CutMix label weights from the model's attention.

    Mixing (:meth:`sample` / :meth:`apply`, no model needed): with probability
    ``switch_prob`` a draw is CutMix (``lam ~ Beta(cutmix_alpha, cutmix_alpha)`` sets the box,
    centre uniform, clipped; ``lam`` = kept area), otherwise Mixup
    (``lam ~ Beta(mixup_alpha, mixup_alpha)``, ``x~ = lam x + (1 - lam) x_j``). The result
    then carries the area/blend weight ``lam_0``.

    Relabelling (:meth:`relabel`, after the forward pass of the mixed batch): for CutMix draws,
    with ``a`` the attention mass on the pasted box (:func:`pasted_attention`, the last block's
    class-token attention averaged over heads, detached by the caller), the label weight of
    the pasted partner becomes ``(1 - attention_weight) * (1 - lam_0) + attention_weight * a``,
    so ``lam = (1 - attention_weight) * lam_0 + attention_weight * (1 - a)``. The
    official code averages area and attention (``attention_weight = 0.5``, the default); the
    paper's formulation is ``attention_weight = 1`` (label weight = attention mass alone).
    Mixup draws keep ``lam_0``.

    Differences from the reference: one CutMix/Mixup choice, ``lam`` and partner per sample
    by default (``per_sample=False`` gives the reference's one choice per batch and a
    permutation instead of ``flip(0)`` pairing, so odd batches work); partially covered
    patches count with their covered fraction rather than by nearest-neighbour downsampling.

    Args:
        num_classes: number of classes, ``>= 1``.
        mixup_alpha: Beta concentration of Mixup draws, > 0 (0.8 in the DeiT-S config).
        cutmix_alpha: Beta concentration of CutMix draws, > 0 (1.0).
        switch_prob: probability of CutMix for a draw, in [0, 1] (0.8 in the released DeiT-S config).
        attention_weight: weight of the attention term in the CutMix label weight, in [0, 1].
        per_sample: one draw and partner per sample (default), or one draw per batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing (0.1 in DeiT).

    Shape:
        images ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), labels ``(B,)`` int64 ->
        ``MixResult`` with ``inputs`` of the same shape and dtype, ``targets``
        ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32, ``index`` ``(B,)`` int64.
        ``relabel`` takes attention ``(B, heads, rows, cols)`` with ``H % rows == W % cols == 0``.

    Reference:
        Chen et al., "TransMix: Attend to Mix for Vision Transformers", CVPR 2022.

    Example:
        >>> import torch
        >>> mixer = TransMix(10, switch_prob=1.0, attention_weight=1.0)
        >>> images, labels = torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1])
        >>> params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
        >>> uniform = torch.full((2, 3, 4, 4), 1 / 16)  # uniform attention: weight = box area
        >>> result = mixer.relabel(mixer.apply(images, labels, params), labels, params, uniform)
        >>> bool(torch.allclose(result.lam, mixer.apply(images, labels, params).lam))
        True
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.8,
        attention_weight: float = 0.5,
        *,
        per_sample: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        who = type(self).__name__
        self.mixup_alpha = check_alpha(f"{who} (mixup_alpha)", mixup_alpha)
        self.cutmix_alpha = check_alpha(f"{who} (cutmix_alpha)", cutmix_alpha)
        self.switch_prob = _unit_interval(who, "switch_prob", switch_prob, "0.8")
        self.attention_weight = _unit_interval(who, "attention_weight", attention_weight, "0.5")

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        n = partners.shape[0]
        cutmix = bernoulli(self.switch_prob, n, generator)
        lam = beta(self.mixup_alpha, self.mixup_alpha, (n,), generator)
        box_lam = beta(self.cutmix_alpha, self.cutmix_alpha, (n,), generator)
        centre_row = randint(torch.full((n,), height, device=generator.device), generator)
        centre_col = randint(torch.full((n,), width, device=generator.device), generator)
        return {"cutmix": cutmix, "lam": lam, **centred_box(box_lam, centre_row, centre_col, height, width)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        pasted, area_lam = paste_box(images, partner_images, params)
        dtype = compute_dtype(images)
        blend_lam = params.lam.to(torch.float32)
        blended = torch.lerp(partner_images.to(dtype), images.to(dtype), blend_lam.to(dtype).view(-1, 1, 1, 1))
        cutmix = params.cutmix
        mixed = torch.where(cutmix.view(-1, 1, 1, 1), pasted, restore_dtype(blended, images.dtype))
        return mixed, torch.where(cutmix, area_lam, blend_lam)

    def relabel(self, result: MixResult, labels: Tensor, params: Params, attention: Tensor) -> MixResult:
        """The result with CutMix label weights taken from attention (see the class docstring).

        Args:
            result: :meth:`apply` output for ``labels`` and ``params``.
            labels: ``(B,)`` int64 class indices, as passed to :meth:`apply`.
            params: the draw that built ``result``.
            attention: ``(B, heads, rows, cols)`` float, non-negative, finite: the model's
                class-token attention on ``result.inputs``, detached (its gradient is not used).

        Returns:
            A new :class:`MixResult` with the same ``inputs`` and ``index`` and the new
            ``lam`` and ``targets``.
        """
        who = type(self).__name__
        batch, _, height, width = result.inputs.shape
        if not isinstance(attention, Tensor) or not attention.is_floating_point():
            raise InputTypeError(
                f"{who}: attention must be a floating tensor, got "
                f"{attention.dtype if isinstance(attention, Tensor) else type(attention).__name__}; "
                "pass the model's attention"
            )
        if attention.ndim != 4 or attention.shape[0] != batch:
            raise InputValueError(
                f"{who}: attention must have shape (B={batch}, heads, rows, cols), got {tuple(attention.shape)}; "
                "view (B, heads, P) attention with the model's patch_grid"
            )
        rows, cols = attention.shape[-2:]
        if rows < 1 or cols < 1 or height % rows or width % cols:
            raise InputValueError(
                f"{who}: a {rows}x{cols} attention grid does not tile {height}x{width} images; "
                "pass attention over the model's patch grid"
            )
        if not bool(torch.isfinite(attention).all()) or bool((attention < 0).any()):
            raise InputValueError(f"{who}: attention has negative or non-finite values; pass softmax weights")
        if params.batch_size != batch or labels.shape != (batch,):
            raise InputValueError(
                f"{who}: params ({params.batch_size}) and labels {tuple(labels.shape)} do not match the "
                f"result's batch of {batch}; relabel with the draw that built the result"
            )
        if not batch:
            return result  # an empty draw holds no boxes to weigh
        params = params.to(result.inputs.device)
        attended = 1.0 - pasted_attention(params, attention.detach(), (height, width))
        mixed_lam = (1.0 - self.attention_weight) * result.lam + self.attention_weight * attended
        lam = torch.where(params.cutmix, mixed_lam, result.lam)
        return MixResult(
            inputs=result.inputs, targets=self._mix_targets(labels, result.index, lam), lam=lam, index=result.index
        )


def _unit_interval(who: str, name: str, value: float, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputValueError(f"{who}: {name}={value!r} must be a number in [0, 1]; e.g. {name}={example}")
    return float(value)
