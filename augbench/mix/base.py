"""The ``Mixer`` base class, its result type ``MixResult`` and the ``MIXERS`` registry.

A mixer combines every sample of a batch with a partner sample of the same batch and builds
the soft target from both labels. As for transforms, randomness and application are split:
:meth:`Mixer.sample` draws the partners and the mixing parameters, the pure
:meth:`Mixer.apply` mixes the batch with them, and ``mixer(images, labels, generator=g)`` is
``mixer.apply(images, labels, mixer.sample(images, labels, g))``; a draw can be replayed.

The base class owns what every mixer shares: input validation, partner selection,
``per_sample`` (one draw per sample, or one draw for the whole batch as in the reference
code), label smoothing, soft targets and serialisation. Subclasses implement
:meth:`Mixer.make_params` and :meth:`Mixer.mix`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from augbench.checks import check_batch
from augbench.distributions import rand
from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.modalities import get_modality
from augbench.random import Params, resolve_generator
from augbench.registry import Registry, Spec

__all__ = ["MixResult", "Mixer", "MIXERS", "FORMAT_VERSION", "check_alpha", "build_mixer"]

FORMAT_VERSION = 1
"""Version of the ``to_dict`` format; bumped when the layout of the dictionary changes."""

INDEX = "index"


@dataclass(frozen=True)
class MixResult:
    """The output of a mixer.

    Attributes:
        inputs: ``(B, C, H, W)`` mixed images, same dtype and device as the input batch.
        targets: ``(B, num_classes)`` float32 soft targets, rows summing to 1:
            ``lam * t[labels] + (1 - lam) * t[labels[index]]`` with ``t`` the (optionally
            label-smoothed) one-hot rows.
        lam: ``(B,)`` float32 in [0, 1], the weight of the unshuffled sample ``i`` in the
            target (for box and mask mixers: the fraction of its pixels that were kept).
        index: ``(B,)`` int64, the partner of each sample: sample ``i`` was mixed with
            ``images[index[i]]``.

    The mixed loss ``lam * CE(f(x), y) + (1 - lam) * CE(f(x), y[index])`` on hard labels equals
    soft-target cross-entropy with ``targets`` (without label smoothing).
    """

    inputs: Tensor
    targets: Tensor
    lam: Tensor
    index: Tensor


def check_alpha(who: str, alpha: float) -> float:
    """``alpha`` as a float; raises unless it is a finite number > 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (0.0 < alpha < math.inf):
        raise InputValueError(
            f"{who}: alpha={alpha!r} must be a finite number > 0 (Beta(alpha, alpha)); e.g. alpha=1.0"
        )
    return float(alpha)


class Mixer:
    """Base class of the sample-mixing augmentations.

    Subclasses implement :meth:`make_params` (draw ``n`` parameter sets) and :meth:`mix`
    (mix a batch with its partners and return the per-sample label weight); every
    constructor argument must be stored under its own name, so :meth:`to_dict` can read it.

    Args:
        num_classes: number of classes, ``>= 1``; labels lie in ``[0, num_classes)``.
        per_sample: ``True`` (default): every sample gets its own parameters (lambda, box,
            mask) and its own partner, drawn uniformly among the *other* samples (so a sample
            can be the partner of several). ``False``: one draw for the whole batch and a
            random permutation as partners, as in the reference implementations (a sample
            may then be its own partner).
        label_smoothing: ``eps`` in [0, 1); each one-hot row becomes
            ``(1 - eps) * onehot + eps / num_classes`` before mixing.
    """

    modality: str = "image"
    """The registered modality of the batches this mixer takes (its layout check guards
    :meth:`sample` and :meth:`apply`)."""

    def __init__(self, num_classes: int, *, per_sample: bool = True, label_smoothing: float = 0.0) -> None:
        who = type(self).__name__
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise InputValueError(f"{who}: num_classes={num_classes!r} must be an int >= 1, e.g. num_classes=10")
        if not isinstance(per_sample, bool):
            raise InputValueError(f"{who}: per_sample={per_sample!r} must be True or False")
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, (int, float))
            or not 0.0 <= label_smoothing < 1.0
        ):
            raise InputValueError(f"{who}: label_smoothing={label_smoothing!r} must be a number in [0, 1), e.g. 0.1")
        self.num_classes = num_classes
        self.per_sample = per_sample
        self.label_smoothing = float(label_smoothing)

    # -- to implement -------------------------------------------------------------------------
    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Draw ``n = len(partners)`` parameter sets.

        Args:
            images: the validated ``(B, C, H, W)`` batch (its shape; data-dependent mixers
                such as SaliencyMix also read its content).
            partners: ``(n,)`` int64 on the images' device, the partner index of each of the
                ``n`` draws (``n = B``, or 1 with ``per_sample=False``: the partner of sample 0).
            generator: the only source of randomness.

        Returns:
            Tensors of leading dim ``n``, on the generator's or the images' device.
        """
        raise NotImplementedError

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """Mix ``images`` with ``partner_images = images[params.index]`` (pure; no randomness).

        Returns:
            The mixed batch (same shape and dtype as ``images``) and the ``(B,)`` float32
            weight of the unshuffled samples.
        """
        raise NotImplementedError

    # -- public API ---------------------------------------------------------------------------
    def sample(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Params:
        """Draw partners and mixing parameters for a batch.

        Args:
            images: ``(B, C, H, W)`` uint8 (0-255) or floating (0-1) batch; ``B = 0`` gives an empty draw.
            labels: ``(B,)`` int64 class indices in ``[0, num_classes)``.
            generator: source of randomness; ``None`` uses augbench's default generator
                (see :func:`augbench.seed`), never torch's global RNG.

        Returns:
            ``Params`` with leading dimension ``B`` on the images' device, holding ``index``
            (the partners) and the method's own entries.
        """
        images, labels = self._check_inputs(images, labels)
        return self._sample_checked(images, resolve_generator(generator))

    def apply(self, images: Tensor, labels: Tensor, params: Params) -> MixResult:
        """Mix a batch with a draw; deterministic, so a draw can be replayed.

        Args:
            images: ``(B, C, H, W)`` uint8 (0-255) or floating (0-1).
            labels: ``(B,)`` int64 class indices in ``[0, num_classes)``.
            params: the output of :meth:`sample` for a batch of the same ``B``, ``H`` and ``W``.

        Returns:
            A :class:`MixResult`; ``inputs`` keeps the dtype and device of ``images``.
        """
        images, labels = self._check_inputs(images, labels)
        return self._apply_checked(images, labels, params)

    def __call__(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> MixResult:
        """``self.apply(images, labels, self.sample(images, labels, generator))``."""
        if type(self).sample is not Mixer.sample or type(self).apply is not Mixer.apply:
            return self.apply(images, labels, self.sample(images, labels, generator))
        images, labels = self._check_inputs(images, labels)  # once for both steps
        params = self._sample_checked(images, resolve_generator(generator))
        return self._apply_checked(images, labels, params)

    # -- serialisation ------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-ready (tuples become lists)."""
        return {name: _jsonable(value) for name, value in self._arguments().items()}

    def to_dict(self) -> dict[str, Any]:
        """``{"__version__": FORMAT_VERSION, "mixer": registered name, "args": config()}``."""
        return {"__version__": FORMAT_VERSION, "mixer": self._registered_name(), "args": self.config()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mixer:
        """Rebuild a mixer from :meth:`to_dict` output (through the ``MIXERS`` registry).

        Raises:
            ConfigError: wrong format version, unknown mixer name, or a mixer that is not a
                ``cls`` (e.g. ``CutMix.from_dict`` of a Mixup dictionary).
            TypeError: an unknown constructor argument.
        """
        if not isinstance(data, dict) or set(data) != {"__version__", "mixer", "args"}:
            raise ConfigError(
                f"mixer dict must have exactly the keys '__version__', 'mixer', 'args', got {data!r}; "
                "use Mixer.to_dict() output"
            )
        if data["__version__"] != FORMAT_VERSION:
            raise ConfigError(
                f"mixer dict has format version {data['__version__']!r}; this augbench reads version {FORMAT_VERSION}"
            )
        mixer = MIXERS.build(data["mixer"], **data["args"])
        if not isinstance(mixer, cls):
            raise ConfigError(f"{cls.__name__}.from_dict got a {type(mixer).__name__} dict; use Mixer.from_dict")
        return mixer

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self._arguments().items())
        return f"{type(self).__name__}({args})"

    # -- helpers ------------------------------------------------------------------------------
    def _sample_checked(self, images: Tensor, generator: torch.Generator) -> Params:
        """:meth:`sample` on validated inputs; an empty batch draws nothing but its (empty) partners."""
        batch, device = images.shape[0], images.device
        partners = self._draw_partners(batch, generator).to(device)
        n = batch if self.per_sample else min(batch, 1)
        drawn = self.make_params(images, partners[:n], generator) if n else {}
        entries = {name: value.to(device) for name, value in drawn.items()}
        if n != batch:
            entries = dict(Params(n, **entries).expand(batch))
        return Params(batch, **{INDEX: partners}, **entries)

    def _apply_checked(self, images: Tensor, labels: Tensor, params: Params) -> MixResult:
        """:meth:`apply` on validated images and labels; an empty batch comes back empty, ``lam`` ``(0,)``."""
        who = type(self).__name__
        if not isinstance(params, Params) or INDEX not in params:
            raise InputValueError(f"{who}: params must be the Params returned by {who}.sample(), got {params!r}")
        if params.batch_size != images.shape[0]:
            raise InputValueError(
                f"{who}: params were drawn for a batch of {params.batch_size}, got {images.shape[0]} images; "
                "call sample() on this batch"
            )
        params = params.to(images.device)
        index = params[INDEX]
        if images.shape[0]:
            mixed, lam = self._mix_indexed(images, index, params)
        else:
            mixed, lam = images.clone(), torch.zeros(0, dtype=torch.float32, device=images.device)
        return MixResult(inputs=mixed, targets=self._mix_targets(labels, index, lam), lam=lam, index=index)

    def _mix_indexed(self, images: Tensor, index: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """:meth:`mix` with the partners given by ``index``; subclasses may avoid the gather."""
        return self._mix_gathered(images, gather_samples(images, index), params)

    def _mix_gathered(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """:meth:`mix` for a ``partner_images`` tensor that the caller owns and never reads again.

        Subclasses may override it to reuse that buffer for the output (``mix`` itself must not
        modify its inputs); the default calls :meth:`mix`.
        """
        return self.mix(images, partner_images, params)

    def _arguments(self) -> dict[str, Any]:
        names = [name for name in inspect.signature(type(self).__init__).parameters if name != "self"]
        return {name: getattr(self, name) for name in names}

    def _registered_name(self) -> str:
        for name in MIXERS:
            if MIXERS.get(name) is type(self):
                return name
        raise ConfigError(f"{type(self).__name__} is not registered in MIXERS; add @MIXERS.register(name)")

    def _draw_partners(self, batch: int, generator: torch.Generator) -> Tensor:
        """Partner indices ``(B,)`` int64 on the generator's device (see ``per_sample``)."""
        if not self.per_sample:
            return torch.randperm(batch, generator=generator, device=generator.device)
        positions = torch.arange(batch, device=generator.device)
        offsets = uniform_index(batch - 1, batch, generator).add_(1)  # 1 + one of the batch - 1 others
        return offsets.add_(positions).remainder_(batch)

    def _mix_targets(self, labels: Tensor, index: Tensor, lam: Tensor) -> Tensor:
        """``lam * t[labels] + (1 - lam) * t[labels[index]]``, ``t`` the (smoothed) one-hot rows."""
        eps = self.label_smoothing
        weight = lam.to(torch.float32)[:, None]
        partner_labels = labels.index_select(0, index)[:, None]
        if not eps:
            # the same sums as with one-hot rows (w * 1 + (1 - w) * 0 = w), without building them
            targets = torch.zeros(labels.shape[0], self.num_classes, dtype=torch.float32, device=labels.device)
            targets.scatter_(1, labels[:, None], weight)
            return targets.scatter_add_(1, partner_labels, 1.0 - weight)
        rows = torch.nn.functional.one_hot(labels, self.num_classes).to(torch.float32)
        partner_rows = torch.nn.functional.one_hot(partner_labels[:, 0], self.num_classes).to(torch.float32)
        rows = rows * (1.0 - eps) + eps / self.num_classes
        partner_rows = partner_rows * (1.0 - eps) + eps / self.num_classes
        return weight * rows + (1.0 - weight) * partner_rows

    def _check_inputs(self, images: object, labels: object) -> tuple[Tensor, Tensor]:
        who = type(self).__name__
        if self.modality == "image":
            images = check_batch(images, who, allow_empty=True)
        else:
            images = get_modality(self.modality).check_batch(images, who, allow_empty=True)
        if not isinstance(labels, Tensor):
            raise InputTypeError(
                f"{who}: labels must be a torch.Tensor of class indices, got {type(labels).__name__}; "
                "convert with torch.as_tensor(labels)"
            )
        if labels.ndim != 1:
            fix = "for one-hot labels pass labels.argmax(1)" if labels.ndim == 2 else "pass one class index per image"
            raise InputValueError(f"{who}: labels must have shape (B,), got {tuple(labels.shape)}; {fix}")
        if labels.dtype != torch.int64:
            raise InputTypeError(
                f"{who}: labels must be int64 class indices, got {labels.dtype}; convert with labels.long()"
            )
        if labels.shape[0] != images.shape[0]:
            raise InputValueError(
                f"{who}: {labels.shape[0]} labels for {images.shape[0]} images; pass one label per image"
            )
        if labels.device != images.device:
            raise InputValueError(
                f"{who}: labels are on {labels.device} but images on {images.device}; "
                "move them with labels.to(images.device)"
            )
        if not labels.numel():
            return images, labels
        low, high = (int(v) for v in torch.aminmax(labels))
        if low < 0 or high >= self.num_classes:
            raise InputValueError(
                f"{who}: labels must lie in [0, {self.num_classes}), got values in [{low}, {high}]; "
                "check num_classes"
            )
        return images, labels


def uniform_index(high: int, n: int, generator: torch.Generator) -> Tensor:
    """``n`` int64 draws uniform on ``[0, high)``, ``(n,)`` on the generator's device.

    ``augbench.random.randint(torch.full((n,), high), generator)`` for one ``high`` shared by
    all draws: the same uniform numbers and the same integers, with fewer tensor operations.
    """
    return (rand((n,), generator) * high).long().clamp_(max=max(high - 1, 0))


def gather_samples(images: Tensor, index: Tensor) -> Tensor:
    """``images[index]`` in the images' memory format, copying whole samples where it pays.

    ``index_select`` on a contiguous batch copies each sample as one block, many times faster
    than the per-element gather of ``images[index]`` on the CPU; only for batches too large to
    be recycled by the allocator (fresh pages, first touched while copying) with several
    threads does the per-element gather spread the work better. Channels-last batches are
    gathered in their NHWC order, other layouts by ``images[index]``.
    """
    large = images.numel() * images.element_size() >= _FRESH_PAGES_FROM
    if large and images.device.type == "cpu" and torch.get_num_threads() > 2:
        return images[index]
    if images.is_contiguous():
        return images.index_select(0, index)
    if images.is_contiguous(memory_format=torch.channels_last):
        return images.permute(0, 2, 3, 1).index_select(0, index).permute(0, 3, 1, 2)
    return images[index]


_FRESH_PAGES_FROM = 32 * 1024 * 1024
"""glibc serves allocations above 32 MiB (its largest mmap threshold) with fresh pages each time."""


def _jsonable(value: Any) -> Any:
    return [_jsonable(item) for item in value] if isinstance(value, (tuple, list)) else value


MIXERS: Registry[Mixer] = Registry("mixer")


def build_mixer(spec: Spec | Mixer, num_classes: int | None) -> Mixer:
    """A mixer from a spec (``"cutmix"``, ``{type: mixup, alpha: 2}``) for ``num_classes``;
    anything that is not a spec (a built mixer) is returned as it is, for the caller to check."""
    if not isinstance(spec, (str, Mapping)):
        return spec
    if num_classes is None:
        raise ConfigError(f"mixer spec {spec!r} needs num_classes; pass num_classes= or a built mixer")
    return MIXERS.build(spec, context={"num_classes": num_classes})
