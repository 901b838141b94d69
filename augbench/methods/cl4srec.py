"""CL4SRec: next-item cross-entropy plus an InfoNCE between two augmented views of each history.

Reference:
    Xie, Sun, Liu, Wu, Gao, Ding, Cui, "Contrastive Learning for Sequential Recommendation",
    ICDE 2022 (arXiv:2010.14395); the in-batch ``info_nce`` (``sim='dot'``, ``tau``) and the
    crop / mask / reorder views of the RecBole-based code of DuoRec and MCLRec
    (github.com/QinHsiu/MCLRec, ``recbole/model/sequential_recommender/mclrec.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.distributions import AnyGenerator, rand
from augbench.errors import ConfigError
from augbench.keyed import KeyedGenerator
from augbench.losses import dot_nt_xent
from augbench.methods.base import METHODS, Method
from augbench.models.staged import StagedModel
from augbench.random import Params
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform
from augbench.transforms.sequence import ItemCrop, ItemMask, ItemReorder

__all__ = ["CL4SRec", "sequence_views", "sequence_encoder"]

KEY_VIEWS = (1, 2)
"""The key views of a sample's two augmented histories (rows ``b`` and ``B + b`` of one call)."""


class _OneOfItemOps(Transform):
    """Each history goes through one op chosen uniformly from ``transforms`` (CL4SRec's views).

    Keyed draws stay order-independent as in
    :class:`~augbench.policies.modal.ModalityRandAugment`: every op draws its parameters for
    every sample (keyed child stream ``1 + k``) and is applied to the samples that chose it, one
    batched call per op present. Private: the method's options (``crop_eta``, ``mask_gamma``,
    ``reorder_beta``) describe it in the run's spec.

    Shape:
        ``(B, L)`` int64 ids, left-padded -> same shape and dtype.
    """

    blend_skipped = False
    modality = "sequence"

    def __init__(self, transforms: tuple[Transform, ...]) -> None:
        super().__init__()
        self.transforms = transforms

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Any]:
        count = len(self.transforms)
        entries: dict[str, Any] = {"op": (rand((n,), generator) * count).long().clamp_(max=count - 1)}
        for index, transform in enumerate(self.transforms):
            source = generator.child(1 + index) if isinstance(generator, KeyedGenerator) else generator
            entries[str(index)] = transform.sample_for(n, shape, source)
        return entries

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        if inputs.shape[0] == 0:
            return inputs
        op = params.op
        counts = torch.bincount(op, minlength=len(self.transforms)).tolist()  # one host sync per call
        result = inputs
        for index, transform in enumerate(self.transforms):
            child: Params = params[str(index)]  # type: ignore[assignment]
            if counts[index] == inputs.shape[0]:
                return transform.apply_checked(inputs, child)
            if counts[index]:
                chosen = (op == index).nonzero().squeeze(1)
                done = transform.apply_checked(inputs.index_select(0, chosen), child.select(chosen))
                result = result.index_copy(0, chosen, done)
        return result

    def extra_repr(self) -> str:
        return ", ".join(repr(transform) for transform in self.transforms)


def sequence_views(crop_eta: float, mask_gamma: float, reorder_beta: float) -> Transform:
    """The view pipeline of CL4SRec / MCLRec: per history one of item crop (keep ``ceil(eta n)``
    contiguous items), item mask (``floor(gamma n)`` items to the mask id 1) and item reorder
    (shuffle a window of ``ceil(beta n)`` items), chosen uniformly, each with its own keyed draw."""
    return _OneOfItemOps((ItemCrop(eta=crop_eta), ItemMask(gamma=mask_gamma), ItemReorder(beta=reorder_beta)))


def sequence_encoder(model: nn.Module, who: str) -> StagedModel:
    """``model`` when it is a staged encoder of ``(B, L)`` item sequences (``forward_features`` ->
    ``(B, d)``, ``head`` -> item logits), else one line naming the fix."""
    if not isinstance(model, StagedModel) or len(model.input_shape) != 1:
        raise ConfigError(f"{who}: the model is a {type(model).__name__}; use an item-sequence encoder (model: sasrec)")
    return model


def check_number(who: str, option: str, value: object, low: float, high: float, example: float,
                 open_low: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` when ``open_low``), else one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (low < value if open_low else low <= value) and value <= high
    if not ok:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ConfigError(f"{who}: {option}={value!r} must be a number in {interval}, e.g. {example}")
    return float(value)


@METHODS.register("cl4srec")
class CL4SRec(Method):
    """SASRec's next-item cross-entropy plus ``lam`` times an InfoNCE between two augmented views.

    Per step on the labeled stream's ``B`` histories ``x`` (left-padded item ids) and next items ``y``:

    1. Views: ``[x; x]`` through :func:`sequence_views` in **one** keyed call with key views
       ``(1, 2)``: rows ``b`` and ``B + b`` are two independently augmented copies of history
       ``b`` (each picks one of crop / mask / reorder).
    2. One encoder pass over the ``3B`` rows ``[x; s1; s2]``: ``h = model.forward_features``
       (SASRec: the LayerNorm-ed state of the last position, ``(3B, d)``); dropout draws
       independently per row.
    3. ``loss = CE(model.head(h_x), y) + lam * InfoNCE(z1, z2)`` with ``z1, z2 = h_s1, h_s2`` and
       :func:`augbench.losses.dot_nt_xent`: dot products over ``temperature``, each of the ``2B``
       views against its partner and the ``2B - 2`` other views (cosine with ``similarity: cos``).

    Logged per epoch: ``rec_loss``, ``cl_loss``.

    Simplified relative to the paper / reference code: each view draws its op independently
    (the RecBole code draws two *different* ops per history, so here both views use the same op
    with independent parameters a third of the time); masking writes the reserved mask id 1
    (the MCLRec code writes the padding id 0); crop keeps ``ceil(eta n)`` items (the code
    ``floor``); the views come from the model's ``L``-item input window, not the full history.

    Args:
        lam: weight of the contrastive term, ``>= 0`` (0: SASRec's loss).
        temperature: InfoNCE temperature ``> 0`` (the code's ``tau``: 1).
        similarity: ``"dot"`` (the code's default) or ``"cos"``.
        crop_eta: kept fraction of item crop, in ``(0, 1]`` (MCLRec: 0.5).
        mask_gamma: masked fraction of item mask, in ``[0, 1]`` (MCLRec: 0.5).
        reorder_beta: shuffled window fraction of item reorder, in ``[0, 1]`` (MCLRec: 0.8).
        modality: the data's modality (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, L)`` int64 ids -> a scalar loss.

    Raises:
        ConfigError: an option out of range, data that are not item sequences, or a model without
            ``forward_features`` / ``head``.
    """

    streams = ("labeled",)
    evaluations = ("ranking",)
    _who = "cl4srec"

    def __init__(
        self,
        lam: float = 0.1,
        temperature: float = 1.0,
        similarity: str = "dot",
        crop_eta: float = 0.5,
        mask_gamma: float = 0.5,
        reorder_beta: float = 0.8,
        modality: str = "sequence",
    ) -> None:
        who = self._who
        if modality != "sequence":
            raise ConfigError(f"{who}: needs item sequences (modality 'sequence'), the data are {modality!r}; "
                              "use a dataset such as movielens_100k")
        self.lam = check_number(who, "lam", lam, 0.0, math.inf, 0.1)
        self.temperature = check_number(who, "temperature", temperature, 0.0, math.inf, 1.0, open_low=True)
        if similarity not in ("dot", "cos"):
            raise ConfigError(f"{who}: similarity={similarity!r} must be 'dot' or 'cos'")
        self.similarity = similarity
        self.views = sequence_views(check_number(who, "crop_eta", crop_eta, 0.0, 1.0, 0.5, open_low=True),
                                    check_number(who, "mask_gamma", mask_gamma, 0.0, 1.0, 0.5),
                                    check_number(who, "reorder_beta", reorder_beta, 0.0, 1.0, 0.8))

    def setup(self, ctx: TrainContext) -> None:
        """Check that the model is an item-sequence encoder."""
        sequence_encoder(ctx.model, self._who)

    def keyed_views(self) -> list[KeyedView]:
        """Both augmented views of the labeled batch from one keyed call (key views 1 and 2)."""
        return [KeyedView(self.views, "labeled", KEY_VIEWS)]

    def contrast(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The in-batch InfoNCE of the two views' representations ``(B, d)`` each."""
        return dot_nt_xent(z1, z2, self.temperature, cosine=self.similarity == "cos")

    def encode(self, inputs: Tensor, views: Tensor, ctx: TrainContext) -> tuple[Tensor, Tensor, Tensor]:
        """Logits ``(B, K)`` of the clean histories ``inputs`` ``(B, L)`` and the representations
        ``z1, z2`` ``(B, d)`` of the two views ``views`` ``(2B, L)``, from one encoder pass over
        the ``3B`` rows."""
        model = sequence_encoder(ctx.model, self._who)
        states = model.forward_features(ctx.normalize(torch.cat([inputs, views])))
        clean, z1, z2 = states.split(inputs.shape[0])
        return model.head(clean), z1, z2

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        logits, z1, z2 = self.encode(labeled.inputs, ctx.augment(self.views, "labeled", KEY_VIEWS), ctx)
        rec = nnf.cross_entropy(logits, labeled.labels)
        contrast = self.contrast(z1, z2)
        ctx.log.add("rec_loss", rec.detach())
        ctx.log.add("cl_loss", contrast.detach())
        return StepOutput(rec + self.lam * contrast)
