"""timm's policies, batched and per sample: what the ``rand``, ``augmix``, ``original``,
``originalr``, ``v0``, ``v0r`` and ``3a`` policy strings build.

Each string means what it means in timm 1.0.31 (``rand_augment_transform``,
``augment_and_mix_transform``, ``auto_augment_transform`` with their default hparams): timm's op
sets and level -> argument maps (:mod:`augbench.policies.timm_ops`), per-op probability, magnitude
noise and clip, fill 128 and a random choice of bilinear or bicubic resampling per geometric op.
Every image draws its own ops, firing, magnitudes, signs and interpolation; each layer of a
batch runs one kernel call per pixel op present and one warp per interpolation for all its
geometric ops, never a loop over images. The Python classes
:class:`~augbench.policies.RandAugment`, :class:`~augbench.policies.AutoAugment` and
:class:`~augbench.policies.AugMix` keep torchvision's conventions; the classes here are timm's.

Keys (absent keys take timm's default):

=========== ===================================================================================
``rand``    ``m`` magnitude (int, default 10; clipped to ``mmax`` when applied, so ``m15`` acts as
            10), ``n`` ops per image (int, 2), ``p`` probability of each op (0.5; 1 and above:
            always), ``mstd`` std of Gaussian magnitude noise per op (0; above 100: uniform in
            [0, m]), ``mmax`` magnitude clip (int, 10; ``mmax0`` also means 10, as in timm),
            ``inc`` increasing ops (int, 0: timm's ``_RAND_TRANSFORMS``; any other value:
            ``_RAND_INCREASING_TRANSFORMS``), ``t`` op set: ``tweights`` / ``t3aw`` (weighted,
            without replacement), ``t3a`` (3-Augment's three ops).
``augmix``  ``m`` severity (int, 3), ``w`` width (int, 3), ``d`` depth (int; 0 or absent: random
            1-3 per chain), ``a`` alpha (float, 1), ``b`` blend each chain in turn (int, 0),
            ``mstd`` magnitude noise (default: uniform in [0, m]; a value: Gaussian).
``original`` / ``originalr`` / ``v0`` / ``v0r`` / ``3a``: ``mstd`` magnitude noise (0).
=========== ===================================================================================

Deviations from timm, each on purpose: tokens timm skips without a word (no digit, e.g.
``rand-m9-foo``), unknown ``t`` names (timm falls back to the default set) and keys given twice
(timm keeps one) are refused with one line; a word that names an augbench element starts the
next pipeline element (``rand-m9-hflip`` is RandAugment then a flip; timm ignores ``hflip``).

:func:`~augbench.policies.strings.describe` returns the parameters of a string as a plain dict:

* ``rand``: ``family``, ``magnitude``, ``num_ops``, ``prob`` (as written), ``magnitude_std``,
  ``magnitude_max`` (the clip: ``mmax``, or 10), ``increasing``, ``choice`` (the ``t`` word or
  ``None``), ``ops``, ``weights`` (normalised choice weights or ``None``), ``fill``,
  ``interpolation``;
* ``augmix``: ``family``, ``magnitude``, ``width``, ``depth`` (as written; -1 when absent),
  ``alpha``, ``blended``, ``magnitude_std``, ``magnitude_max``, ``prob`` (1.0), ``ops``, ``fill``,
  ``interpolation``;
* AutoAugment: ``family`` (the policy name), ``policy`` (sub-policies of ``[op, prob,
  magnitude]``), ``ops`` (sorted), ``magnitude_std``, ``magnitude_max``, ``prob`` (``None``: per
  op), ``fill``, ``interpolation``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from augbench.checks import IMAGE, MASK
from augbench.distributions import AnyGenerator, beta, dirichlet, normal, rand
from augbench.errors import ConfigError
from augbench.functional._utils import restore_dtype
from augbench.policies.augmix import AugMix
from augbench.policies.ops import Kernel, apply_op_layers
from augbench.policies.strings import ElementSpec, Grammar, Section, register_element
from augbench.policies.timm_ops import (
    AUGMIX_OPS,
    AUTOAUGMENT_POLICIES,
    DEFAULT_FILL,
    GEOMETRIC,
    INTERPOLATIONS,
    LEVEL_DENOM,
    LEVELS,
    RAND_CHOICES,
    RAND_OPS,
    LevelTable,
    geometric_kinds,
    kernel,
    rand_ops,
    warp,
)
from augbench.random import Params
from augbench.transforms._args import Fill, check_fill
from augbench.transforms.base import ImageShape, Transform

__all__ = ["TimmRandAugment", "TimmAutoAugment", "TimmAugMix"]

_WARP = "Warp@"
_DRAWS = ("op", "magnitude", "sign", "bicubic", "uniform")  # the entries of _TimmOps.draw
_AUGMIX_MAX_RANDOM_DEPTH = 3


class _TimmOps:
    """timm's op application for one op list: draws and batched kernels.

    Args:
        who: the owning transform's name, for errors.
        ops: timm op names; op index ``k`` means ``ops[k]``.
        magnitude_std: std of the Gaussian noise added to each op's magnitude; ``inf`` draws the
            magnitude uniformly in [0, m]; 0: none.
        magnitude_max: the magnitude is clipped to [0, magnitude_max] after the noise.
        fill: fill of geometric ops in [0, 1] units.
        interpolation: one of :data:`~augbench.policies.timm_ops.INTERPOLATIONS`.
    """

    def __init__(
        self, who: str, ops: Sequence[str], magnitude_std: float, magnitude_max: float, fill: Fill, interpolation: str
    ) -> None:
        if isinstance(ops, str) or not ops:
            raise ConfigError(f"{who}: ops={ops!r} must be a non-empty sequence of timm op names, e.g. ('Rotate',)")
        unknown = [op for op in ops if op not in LEVELS]
        if unknown:
            raise ConfigError(f"{who}: unknown ops {unknown}; choose from {', '.join(LEVELS)}")
        if len(set(ops)) != len(ops):
            raise ConfigError(f"{who}: ops={tuple(ops)} lists an op twice; give each once (weights favour an op)")
        if not (isinstance(magnitude_std, (int, float)) and magnitude_std >= 0):  # also refuses NaN
            raise ConfigError(f"{who}: magnitude_std={magnitude_std!r} must be >= 0 (inf for uniform in [0, m])")
        if not (isinstance(magnitude_max, (int, float)) and 0 <= magnitude_max < math.inf):
            raise ConfigError(f"{who}: magnitude_max={magnitude_max!r} must be a finite number >= 0 (timm's default 10)")
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{who}: interpolation={interpolation!r} is unknown; choose from {', '.join(INTERPOLATIONS)}")
        self.ops = tuple(ops)
        self.magnitude_std = float(magnitude_std)
        self.magnitude_max = float(magnitude_max)
        self.fill = check_fill(who, fill)
        self.interpolation = interpolation
        self.levels = LevelTable(self.ops)
        # Kernel slots: one per op; then, when the list has geometric ops, one warp per
        # interpolation that takes all of them (Rotate, ShearX, ... of different images at once).
        # Masks take each geometric op's own nearest kernel instead (whole-pixel shifts).
        self.kinds = geometric_kinds(self.ops)
        geometric = [op for op in self.ops if op in GEOMETRIC]
        modes = (("bilinear", "bicubic") if interpolation == "random" else (interpolation,)) if geometric else ()
        self.kernel_names = (*self.ops, *(_WARP + mode for mode in modes))
        self.kernels: dict[str, Kernel] = {op: _on_argument(kernel(op, "nearest")) for op in self.ops if op not in GEOMETRIC}
        self.kernels.update({_WARP + mode: _warp_kernel(mode) for mode in modes})
        self.mask_kernels = {op: _on_argument(kernel(op, "nearest")) for op in geometric}
        self.geometric = frozenset(geometric)
        self.warp_slot = {mode: len(self.ops) + index for index, mode in enumerate(modes)}

    def draw(self, op: Tensor, magnitude: Tensor, generator: AnyGenerator) -> dict[str, Tensor]:
        """The per-op draws for op indices ``op`` (any shape, -1 = not applied) at base magnitudes.

        Returns ``op``; ``magnitude`` (float64, noise added, clipped); ``sign`` (+-1, timm's
        ``_randomly_negate``); ``bicubic`` (bool, with ``"random"`` interpolation) and
        ``uniform`` (for GaussianBlurRand's radius), all of ``op``'s shape.
        """
        shape = tuple(op.shape)
        if math.isinf(self.magnitude_std):
            magnitude = magnitude * rand(shape, generator).double()
        elif self.magnitude_std > 0:
            magnitude = magnitude + self.magnitude_std * normal(shape, generator).double()
        entries = {
            "op": op,
            "magnitude": magnitude.clamp(0.0, self.magnitude_max),
            "sign": torch.where(rand(shape, generator) < 0.5, -1.0, 1.0),
        }
        if self.interpolation == "random":
            entries["bicubic"] = rand(shape, generator) < 0.5
        if self.levels.needs_uniform:
            entries["uniform"] = rand(shape, generator)
        return entries

    def apply(self, images: Tensor, draws: Mapping[str, Tensor], target: str) -> Tensor:
        """Apply the ``(B, L)`` draws of :meth:`draw` to ``images`` as ``L`` grouped layers."""
        op = draws["op"]
        arguments = self.levels(op, draws["magnitude"], draws["sign"], draws.get("uniform"))
        kind = self.kinds.to(op.device)[op.clamp(min=0)]
        values = torch.stack([kind.to(arguments.dtype), arguments], -1)  # (B, L, 2): what the kernels read
        if target == MASK:
            return apply_op_layers(images, self.kernel_names, op, values, 0.0, target, self.mask_kernels, self.geometric)
        if self.warp_slot:
            if self.interpolation == "random":
                slot = torch.where(draws["bicubic"], self.warp_slot["bicubic"], self.warp_slot["bilinear"])
            else:
                slot = self.warp_slot[self.interpolation]
            op = torch.where((op >= 0) & (kind > 0), slot, op)
        return apply_op_layers(images, self.kernel_names, op, values, self.fill, target, self.kernels, self.geometric)


def _on_argument(op_kernel: Kernel) -> Kernel:
    """A kernel of :func:`~augbench.policies.timm_ops.kernel` on the ``(k, 2)`` values of
    :meth:`_TimmOps.apply` (geometric code, argument): it reads the argument."""
    return lambda images, values, fill: op_kernel(images, values[:, 1], fill)


def _warp_kernel(interpolation: str) -> Kernel:
    """All geometric ops in one warp, from the ``(k, 2)`` values (geometric code, argument)."""
    return lambda images, values, fill: warp(images, values[:, 0].long(), values[:, 1], interpolation, fill)


def _check_int(who: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{who}: {name}={value!r} must be an int >= {low}")
    return value


def _check_magnitude(who: str, magnitude: Any) -> float:
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)) or not 0 <= magnitude < math.inf:
        raise ConfigError(f"{who}: magnitude={magnitude!r} must be a finite number >= 0 (timm's 0-10 scale)")
    return float(magnitude)


class TimmRandAugment(Transform):
    """timm's RandAugment (``rand-...`` strings): ``num_ops`` ops per image, each applied with ``prob``.

    Per image and layer: an op drawn uniformly from ``ops`` (with replacement) or, with
    ``weights``, by weight without replacement (timm's ``np.random.choice(..., replace=False,
    p=weights)``); it fires with probability ``prob``; its magnitude is ``magnitude`` plus noise
    (``magnitude_std``), clipped to ``[0, magnitude_max]``, mapped by timm's level functions.

    Args:
        num_ops: ops per image (timm's ``n``).
        magnitude: magnitude on timm's 0-10 scale (``m``); values above ``magnitude_max`` act as it.
        prob: probability that each drawn op is applied (``p``), in [0, 1].
        magnitude_std: Gaussian noise std per op (``mstd``); ``inf``: uniform in [0, magnitude].
        magnitude_max: clip of the noisy magnitude (``mmax``; timm's default 10).
        ops: timm op names (default timm's ``_RAND_TRANSFORMS``; ``inc1`` strings pass
            ``RAND_INCREASING_OPS``).
        weights: choice weights, one per op (``None``: uniform with replacement).
        fill: fill of geometric ops in [0, 1] units (timm: 128 grey; 0-1 per channel allowed).
        interpolation: ``"random"`` (timm: bilinear or bicubic per op application),
            ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), C = 1 or 3 -> same shape and dtype;
        masks (``target="mask"``) take the geometric ops, nearest.
    """

    blend_skipped = False

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: float = LEVEL_DENOM,
        prob: float = 0.5,
        magnitude_std: float = 0.0,
        magnitude_max: float = LEVEL_DENOM,
        ops: Sequence[str] = RAND_OPS,
        weights: Sequence[float] | None = None,
        fill: Fill = DEFAULT_FILL,
        interpolation: str = "random",
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        who = type(self).__name__
        self.num_ops = _check_int(who, "num_ops", num_ops, 0)
        self._runner = _TimmOps(who, ops, magnitude_std, magnitude_max, fill, interpolation)
        self.magnitude = _check_magnitude(who, magnitude)
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ConfigError(f"{who}: prob={prob!r} must be a number in [0, 1]")
        self.prob = float(prob)
        if weights is not None:
            weights = tuple(float(w) for w in weights)
            if len(weights) != len(ops) or not all(0 <= w < math.inf for w in weights):
                raise ConfigError(f"{who}: weights={weights!r} must be {len(ops)} finite numbers >= 0, one per op")
            if sum(w > 0 for w in weights) < num_ops:
                raise ConfigError(
                    f"{who}: {num_ops} ops per image are drawn without replacement, but only "
                    f"{sum(w > 0 for w in weights)} ops have a weight > 0; lower num_ops"
                )
        self.weights = weights
        self.ops = self._runner.ops
        self.magnitude_std = self._runner.magnitude_std
        self.magnitude_max = self._runner.magnitude_max
        self.fill = self._runner.fill
        self.interpolation = interpolation

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        count = len(self.ops)
        if self.weights is None:
            op = (rand((n, self.num_ops), generator) * count).long().clamp_(max=count - 1)
        else:
            # Successive draws without replacement, weight-proportional (Efraimidis-Spirakis):
            # the ops with the largest log(u) / w, in that order.
            weights = torch.tensor(self.weights, dtype=torch.float64)
            keys = rand((n, count), generator).double().clamp_(min=1e-300).log() / weights.to(generator.device)
            op = keys.topk(self.num_ops, dim=1).indices
        if self.prob < 1.0:
            op = torch.where(rand((n, self.num_ops), generator) < self.prob, op, -1)
        base = torch.full((n, self.num_ops), self.magnitude, dtype=torch.float64, device=op.device)
        return self._runner.draw(op, base, generator)

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        # num_ops rounds of grouped ops, not a loop over samples.
        return self._runner.apply(images, params, target)

    def extra_repr(self) -> str:
        weights = "" if self.weights is None else ", weighted"
        return (
            f"num_ops={self.num_ops}, magnitude={self.magnitude:g}, prob={self.prob:g}, magnitude_std={self.magnitude_std:g}, "
            f"magnitude_max={self.magnitude_max:g}, ops={len(self.ops)}{weights}, interpolation={self.interpolation!r}"
        )


class TimmAutoAugment(Transform):
    """timm's AutoAugment policies (``original``, ``originalr``, ``v0``, ``v0r``, ``3a`` strings).

    Per image: one sub-policy drawn uniformly; each of its ops fires with its probability at its
    magnitude (plus ``magnitude_std`` noise, clipped to [0, 10]), through timm's level functions.

    Args:
        policy: a key of :data:`~augbench.policies.timm_ops.AUTOAUGMENT_POLICIES`.
        magnitude_std: Gaussian noise std per op (timm's ``mstd``); ``inf``: uniform in [0, m].
        fill: fill of geometric ops in [0, 1] units (timm: 128 grey).
        interpolation: ``"random"`` (timm), ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), C = 1 or 3 -> same shape and dtype.

    Reference:
        Cubuk et al., "AutoAugment: Learning augmentation strategies from data", CVPR 2019;
        Touvron et al., "DeiT III: Revenge of the ViT", ECCV 2022 (``3a``).
    """

    blend_skipped = False

    def __init__(
        self,
        policy: str = "v0",
        magnitude_std: float = 0.0,
        fill: Fill = DEFAULT_FILL,
        interpolation: str = "random",
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        who = type(self).__name__
        if not isinstance(policy, str) or policy not in AUTOAUGMENT_POLICIES:
            raise ConfigError(f"{who}: unknown policy {policy!r}; choose from {', '.join(AUTOAUGMENT_POLICIES)}")
        subpolicies = AUTOAUGMENT_POLICIES[policy]
        ops = tuple(sorted({name for sub in subpolicies for name, _, _ in sub}))
        self._runner = _TimmOps(who, ops, magnitude_std, LEVEL_DENOM, fill, interpolation)
        self.policy = policy
        self.magnitude_std = self._runner.magnitude_std
        self.fill = self._runner.fill
        self.interpolation = interpolation
        slots = max(len(sub) for sub in subpolicies)
        padded = [list(sub) + [(ops[0], 0.0, 0)] * (slots - len(sub)) for sub in subpolicies]  # never fires
        self._op_table = torch.tensor([[ops.index(name) for name, _, _ in sub] for sub in padded])
        self._probability = torch.tensor([[p for _, p, _ in sub] for sub in padded])
        self._magnitude = torch.tensor([[float(m) for _, _, m in sub] for sub in padded], dtype=torch.float64)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        count, slots = self._op_table.shape
        device = generator.device
        subpolicy = (rand((n,), generator) * count).long().clamp_(max=count - 1)
        fires = rand((n, slots), generator) < self._probability.to(device)[subpolicy]
        op = torch.where(fires, self._op_table.to(device)[subpolicy], -1)
        return self._runner.draw(op, self._magnitude.to(device)[subpolicy], generator)

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        return self._runner.apply(images, params, target)

    def extra_repr(self) -> str:
        return f"policy={self.policy!r}, magnitude_std={self.magnitude_std:g}, interpolation={self.interpolation!r}"


class TimmAugMix(AugMix):
    """timm's AugMix (``augmix-...`` strings): ``x_aug = (1 - m) x + m * sum_i w_i chain_i(x)``.

    Per image: ``w ~ Dirichlet(alpha)`` over ``width`` chains, ``m ~ Beta(alpha, alpha)``;
    chain ``i`` applies ``depth`` ops (random 1-3 per chain when ``depth <= 0``) drawn uniformly
    from timm's 13 AugMix ops, every one applied, at a magnitude uniform in [0, ``magnitude``]
    (``magnitude_std=inf``, timm's default) or ``magnitude`` plus Gaussian noise, clipped to
    [0, 10]. uint8 results follow timm's rounding: the chain mix is clipped and truncated to
    uint8, then blended with the image by Pillow's ``Image.blend`` (truncating);
    ``blended=True`` instead blends each chain into the running result in turn (timm's ``b1``,
    the same mix up to rounding). Floating images are mixed without rounding.

    Args:
        magnitude: severity on timm's 0-10 scale (``m``).
        width: number of chains (``w``); 0 (as timm allows) blends the image with black by ``m``
            (with ``blended``: leaves it unchanged).
        depth: ops per chain (``d``); 0 or less: random 1-3 per chain.
        alpha: concentration of the Dirichlet and Beta draws (``a``).
        blended: timm's blended mode (``b1``).
        magnitude_std: ``inf`` (uniform in [0, magnitude]) or a Gaussian std (``mstd``).
        fill: fill of geometric ops in [0, 1] units (timm: 128 grey).
        interpolation: ``"random"`` (timm), ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        same_on_batch: one draw for the whole batch.

    Shape:
        ``(B, C, H, W)`` uint8 (0-255) or floating (0-1) -> same shape and dtype; not for masks.

    Reference:
        Hendrycks et al., "AugMix: A simple data processing method to improve robustness and
        uncertainty", ICLR 2020.
    """

    def __init__(
        self,
        magnitude: float = 3,
        width: int = 3,
        depth: int = -1,
        alpha: float = 1.0,
        blended: bool = False,
        magnitude_std: float = math.inf,
        fill: Fill = DEFAULT_FILL,
        interpolation: str = "random",
        *,
        same_on_batch: bool = False,
    ) -> None:
        # AugMix.__init__ checks torchvision's arguments (severity 1-10, depth 1-3); these are timm's.
        Transform.__init__(self, same_on_batch=same_on_batch)
        who = type(self).__name__
        self._runner = _TimmOps(who, AUGMIX_OPS, magnitude_std, LEVEL_DENOM, fill, interpolation)
        self.magnitude = _check_magnitude(who, magnitude)
        self.width = _check_int(who, "width", width, 0)
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise ConfigError(f"{who}: depth={depth!r} must be an int (<= 0: random 1-3 per chain)")
        self.depth = depth if depth > 0 else -1
        if not isinstance(alpha, (int, float)) or not 0 < alpha < math.inf:
            raise ConfigError(f"{who}: alpha={alpha!r} must be a finite number > 0")
        self.alpha = float(alpha)
        self.blended = bool(blended)
        self.magnitude_std = self._runner.magnitude_std
        self.fill = self._runner.fill
        self.interpolation = interpolation

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        steps = max(self.depth, _AUGMIX_MAX_RANDOM_DEPTH)
        weights = dirichlet(self.alpha, (n, self.width), generator)
        mix = beta(self.alpha, self.alpha, (n,), generator)
        if self.depth > 0:
            depth = torch.full((n, self.width), self.depth, dtype=torch.int64, device=weights.device)
        else:
            depth = (rand((n, self.width), generator) * _AUGMIX_MAX_RANDOM_DEPTH).long().clamp_(max=_AUGMIX_MAX_RANDOM_DEPTH - 1) + 1
        count = len(AUGMIX_OPS)
        op = (rand((n, self.width, steps), generator) * count).long().clamp_(max=count - 1)
        op = torch.where(torch.arange(steps, device=op.device) < depth[:, :, None], op, -1)
        base = torch.full(op.shape, self.magnitude, dtype=torch.float64, device=op.device)
        return {"weights": weights, "mix": mix, **self._runner.draw(op, base, generator)}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        if target != IMAGE:
            raise ConfigError("TimmAugMix blends pixel values, so it cannot be replayed on masks")
        batch, width = params.weights.shape
        # All chains of all images in one batch of B * width chains: up to `steps` grouped
        # layers in all, not a loop over samples (nor over chains).
        draws = {name: params[name].flatten(0, 1) for name in _DRAWS if name in params}
        copies = images.unsqueeze(1).expand(batch, width, *images.shape[1:]).reshape(batch * width, *images.shape[1:])
        chains = self._runner.apply(copies, draws, target).view(batch, width, *images.shape[1:])
        dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        image = images.to(dtype)
        weights = params.weights.to(dtype)
        mix = params.mix.to(dtype)[:, None, None, None]
        if self.blended:
            result = self._blend_in_turn(image, chains.to(dtype), weights * mix.view(-1, 1), images.dtype)
        else:
            weighted = chains.to(dtype).mul_(weights[:, :, None, None, None])  # w_i chain_i
            mixed = weighted[:, 0].clone() if width else torch.zeros_like(image)
            for chain in range(1, width):
                mixed.add_(weighted[:, chain])
            mixed.clamp_(0.0, 255.0 if images.dtype == torch.uint8 else 1.0)
            if images.dtype == torch.uint8:
                mixed.trunc_()  # timm: np.clip, then astype(uint8)
            result = _pillow_blend(image, mixed, mix, images.dtype)
        return result.to(torch.uint8) if images.dtype == torch.uint8 else restore_dtype(result, images.dtype)

    def _blend_in_turn(self, image: Tensor, chains: Tensor, weights: Tensor, dtype: torch.dtype) -> Tensor:
        """timm's blended mode: ``x <- blend(x, chain_i, a_i)`` for each chain in turn, with the
        ``a_i`` that give chain ``i`` the weight ``m w_i`` in the end: ``a_i = m w_i / prod_{j > i}(1 - a_j)``.

        Args:
            image: ``(B, C, H, W)`` float images; chains: ``(B, width, C, H, W)`` float;
            weights: ``(B, width)`` the products ``m w_i``; dtype: the images' own dtype.
        """
        alphas: list[Tensor] = []  # a_i, last chain first
        remaining = weights.new_ones(weights.shape[0])
        for chain in reversed(range(weights.shape[1])):
            alphas.append(torch.where(remaining > 0, weights[:, chain] / remaining, 0.0).clamp_(0.0, 1.0))
            remaining = remaining * (1 - alphas[-1])
        result = image
        for chain, alpha in enumerate(reversed(alphas)):
            result = _pillow_blend(result, chains[:, chain], alpha[:, None, None, None], dtype)
        return result

    def extra_repr(self) -> str:
        return (
            f"magnitude={self.magnitude:g}, width={self.width}, depth={self.depth}, alpha={self.alpha:g}, "
            f"blended={self.blended}, magnitude_std={self.magnitude_std:g}, interpolation={self.interpolation!r}"
        )


def _pillow_blend(first: Tensor, second: Tensor, alpha: Tensor, dtype: torch.dtype) -> Tensor:
    """``first + alpha (second - first)``, truncated for uint8 as Pillow's ``Image.blend`` does
    (float tensors; ``second`` is overwritten)."""
    blended = second.sub_(first).mul_(alpha).add_(first)
    return blended.trunc_() if dtype == torch.uint8 else blended


# -- policy strings ------------------------------------------------------------------------------

_FILL_LEVELS = [round(DEFAULT_FILL * 255)] * 3
_NONNEG_INT = Section(int, 0)
_NONNEG_FLOAT = Section(float, 0)
_RAND_SECTIONS = {
    "m": _NONNEG_INT,
    "n": _NONNEG_INT,
    "p": _NONNEG_FLOAT,
    "mstd": _NONNEG_FLOAT,
    "mmax": _NONNEG_INT,
    "inc": Section(int),
    "t": Section(str, choices=tuple(RAND_CHOICES)),
}
_AUGMIX_SECTIONS = {
    "m": _NONNEG_INT,
    "w": _NONNEG_INT,
    "d": _NONNEG_INT,
    "a": Section(float, math.ulp(0.0), hint="a (alpha) must be > 0"),
    "b": Section(int),
    "mstd": _NONNEG_FLOAT,
}
_AUTOAUGMENT_SECTIONS = {"mstd": _NONNEG_FLOAT}


def _rand_arguments(spec: ElementSpec) -> tuple[dict[str, Any], bool, str | None]:
    """The ``TimmRandAugment`` arguments of a ``rand`` element, whether ``inc`` is on, the ``t`` word."""
    increasing = bool(spec.get("inc", 0))
    choice = spec.get("t")
    ops, weights = rand_ops(choice if isinstance(choice, str) else None, increasing)
    magnitude_std = float(spec.get("mstd", 0.0))  # type: ignore[arg-type]
    arguments = {
        "num_ops": spec.get("n", 2),
        "magnitude": spec.get("m", int(LEVEL_DENOM)),
        "prob": min(float(spec.get("p", 0.5)), 1.0),  # type: ignore[arg-type]
        "magnitude_std": math.inf if magnitude_std > 100 else magnitude_std,
        "magnitude_max": spec.get("mmax", 0) or int(LEVEL_DENOM),  # timm: magnitude_max or 10
        "ops": ops,
        "weights": weights,
    }
    if weights is not None and arguments["num_ops"] > sum(w > 0 for w in weights):
        raise ConfigError(
            f"policy string {str(spec)!r}: t{choice} draws {arguments['num_ops']} ops without replacement from "
            f"{len(weights)}; use n{len(weights)} or fewer"
        )
    return arguments, increasing, choice if isinstance(choice, str) else None


def _build_rand(spec: ElementSpec) -> Transform:
    return TimmRandAugment(**_rand_arguments(spec)[0])


def _describe_rand(spec: ElementSpec) -> dict[str, Any]:
    arguments, increasing, choice = _rand_arguments(spec)
    weights = arguments["weights"]
    return {
        "family": "rand",
        "magnitude": arguments["magnitude"],
        "num_ops": arguments["num_ops"],
        "prob": spec.get("p", 0.5),
        "magnitude_std": arguments["magnitude_std"],
        "magnitude_max": arguments["magnitude_max"],
        "increasing": increasing,
        "choice": choice,
        "ops": list(arguments["ops"]),
        "weights": None if weights is None else [w / sum(weights) for w in weights],
        "fill": list(_FILL_LEVELS),
        "interpolation": "random",
    }


def _augmix_arguments(spec: ElementSpec) -> dict[str, Any]:
    depth = spec.get("d", -1)
    return {
        "magnitude": spec.get("m", 3),
        "width": spec.get("w", 3),
        "depth": depth if depth > 0 else -1,  # type: ignore[operator]
        "alpha": float(spec.get("a", 1.0)),  # type: ignore[arg-type]
        "blended": bool(spec.get("b", 0)),
        "magnitude_std": float(spec.get("mstd", math.inf)),  # type: ignore[arg-type]
    }


def _describe_augmix(spec: ElementSpec) -> dict[str, Any]:
    arguments = _augmix_arguments(spec)
    return {
        "family": "augmix",
        **arguments,
        "depth": spec.get("d", -1),
        "magnitude_max": int(LEVEL_DENOM),
        "prob": 1.0,
        "ops": list(AUGMIX_OPS),
        "fill": list(_FILL_LEVELS),
        "interpolation": "random",
    }


def _describe_autoaugment(spec: ElementSpec) -> dict[str, Any]:
    subpolicies = AUTOAUGMENT_POLICIES[spec.name]
    return {
        "family": spec.name,
        "policy": [[[name, p, m] for name, p, m in sub] for sub in subpolicies],
        "ops": sorted({name for sub in subpolicies for name, _, _ in sub}),
        "magnitude_std": float(spec.get("mstd", 0.0)),  # type: ignore[arg-type]
        "magnitude_max": int(LEVEL_DENOM),
        "prob": None,
        "fill": list(_FILL_LEVELS),
        "interpolation": "random",
    }


register_element(
    Grammar("rand", _build_rand, sections=_RAND_SECTIONS, example="rand-m9-n2-mstd0.5-inc1", describe=_describe_rand)
)
register_element(
    Grammar(
        "augmix",
        lambda spec: TimmAugMix(**_augmix_arguments(spec)),
        sections=_AUGMIX_SECTIONS,
        example="augmix-m5-w3-d2",
        describe=_describe_augmix,
    )
)
for _name in AUTOAUGMENT_POLICIES:
    register_element(
        Grammar(
            _name,
            lambda spec: TimmAutoAugment(spec.name, magnitude_std=float(spec.get("mstd", 0.0))),  # type: ignore[arg-type]
            sections=_AUTOAUGMENT_SECTIONS,
            example=f"{_name}-mstd0.5",
            describe=_describe_autoaugment,
        )
    )
