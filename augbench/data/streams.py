"""The data of one run: a dataset pool split into named streams and evaluation splits.

A :class:`DataSpec` says how the pool of a dataset splits into the streams a method trains on:

- ``labeled``: a class-stratified subset of ``train_size`` samples, or ``labeled_per_class``
  samples of every class, drawn with the run's seed;
- ``unlabeled``: ``"rest"`` (every other training sample) or a count, drawn with the run's
  seed; their labels travel with them for logging only (pseudo-label accuracy);
- ``target``: another dataset (domain adaptation), its training split used without labels
  and its test split evaluated as ``target_test``;
- ``val``: the validation split below, as a labelled stream for methods that train on held-out
  data during training (MADAug's policy step); provided whenever ``val_size`` is set.

Evaluation splits: ``test`` (the dataset's official test split when it has one, else the
pool's remainder, or a fixed subset when an unlabeled stream needs the remainder), ``val``
(a fixed stratified ``val_size`` subset held out first, the same for every seed) and
``target_test``. Validation and test subsets never depend on the run's seed.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from augbench.data.base import DATASETS, Dataset
from augbench.data.splits import stratified_split
from augbench.errors import ConfigError
from augbench.registry import Spec, spec_options, spec_type

__all__ = ["DataSpec", "TargetSpec", "Split", "RunData", "prepare_run_data", "load_split", "small_splits",
           "MIN_EVAL_SAMPLES"]

_FIXED_SEED = 0  # validation and test subsets do not depend on the run's seed
DEFAULT_TEST_FRACTION = 0.3
MIN_EVAL_SAMPLES = 100
"""Evaluation splits smaller than this get a warning: one sample moves accuracy by over 1 pp."""
"""Share of a pool held out as the fixed test split when a dataset has no test split of its
own and an unlabeled stream uses the rest (and no ``test_size`` is given)."""


@dataclass(frozen=True)
class TargetSpec:
    """The target domain of a domain-adaptation run.

    Attributes:
        dataset: the target dataset's spec (``{type: digits, size: 28}``).
        train_size: size of the (unlabeled) target training stream; ``None`` for all of it.
        test_size: size of the fixed ``target_test`` split (``None``: the official test split,
            or 30 % of a dataset without one).
        data_root: folder of the target's files (not part of the run's identity).
    """

    dataset: Spec
    train_size: int | None = None
    test_size: int | None = None
    data_root: str | None = None

    def identity(self) -> dict[str, Any]:
        return {"dataset": _dataset_identity(self.dataset), "train_size": self.train_size, "test_size": self.test_size}


@dataclass(frozen=True)
class DataSpec:
    """How a run's pool splits into streams and evaluation splits (see the module docstring).

    Attributes:
        train_size: size of the labeled stream (class-stratified); ``None``: the whole training
            split (datasets without a test split need a size: the rest is their test split).
        labeled_per_class: instead of ``train_size``, this many labeled samples per class.
        val_size: fixed stratified validation split held out of the pool first (0: none); it is
            both the ``val`` evaluation split and the ``val`` stream.
        test_size: evaluate on a fixed stratified subset of this size of the test split.
        unlabeled: ``None`` (no unlabeled stream), ``"rest"`` or a count.
        ratio: unlabeled samples per labeled sample in a step (FixMatch's mu).
        target: the target domain, or ``None``.
        train_classes, test_classes: the metric-learning protocol (deep metric learning's
            disjoint classes, e.g. CUB-200's first and last 100): every training stream
            (``labeled``, ``unlabeled``, ``val``) holds only ``train_classes`` and the ``test``
            split only ``test_classes``; given together, non-empty, disjoint. Labels keep their
            dataset values (no re-indexing) and ``num_classes`` stays the dataset's, so a
            classifier head has outputs the training data never uses. Without an own test split
            the test split is every ``test_classes`` sample (or ``test_size`` of them) and
            ``train_size: null`` takes every ``train_classes`` sample.
        inlier_class: the one-class (anomaly detection) protocol: the streams are drawn as
            usual (``train_size``, ``labeled_per_class``, ...), then the training streams
            (``labeled``, ``unlabeled``) keep only the samples of class ``k``; the ``val`` and
            ``test`` splits keep every class, and their anomaly target is ``label != k``
            (:data:`RunData.inlier_class`). An experiment's ``inlier_classes: [...]`` runs one
            run per class.
    """

    train_size: int | None = None
    labeled_per_class: int | None = None
    val_size: int = 0
    test_size: int | None = None
    unlabeled: str | int | None = None
    ratio: int = 1
    target: TargetSpec | Mapping[str, Any] | None = None
    train_classes: tuple[int, ...] | None = None
    test_classes: tuple[int, ...] | None = None
    inlier_class: int | None = None

    def __post_init__(self) -> None:
        _check_class_sets(self)
        _check_inlier_class(self)
        if isinstance(self.target, Mapping):
            object.__setattr__(self, "target", parse_target(self.target))
        elif self.target is not None and not isinstance(self.target, TargetSpec):
            raise ConfigError(f"data key 'target': expected {{dataset: NAME or spec, ...}}, got {self.target!r}")
        for name in ("train_size", "labeled_per_class", "test_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"data key {name!r}: expected a positive integer, got {value!r}")
        if isinstance(self.val_size, bool) or not isinstance(self.val_size, int) or self.val_size < 0:
            raise ConfigError(f"data key 'val_size': expected a non-negative integer, got {self.val_size!r}")
        unlabeled_ok = self.unlabeled is None or self.unlabeled == "rest" or (
            isinstance(self.unlabeled, int) and not isinstance(self.unlabeled, bool) and self.unlabeled >= 1
        )
        if not unlabeled_ok:
            raise ConfigError(f"data key 'unlabeled': expected 'rest' or a positive count, got {self.unlabeled!r}")
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, int) or self.ratio < 1:
            raise ConfigError(f"data key 'ratio': expected a positive integer (unlabeled per labeled), got {self.ratio!r}")

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams this spec provides."""
        return ("labeled",) + (("unlabeled",) if self.unlabeled is not None else ()) + (
            ("target",) if self.target is not None else ()
        ) + (("val",) if self.val_size else ())

    def identity(self) -> dict[str, Any]:
        """The JSON-ready spec without file locations."""
        data = asdict(self)
        data["target"] = None if self.target is None else self.target.identity()
        for key in _CLASS_SET_KEYS:  # absent when unset, so runs without class sets keep their keys
            if data[key] is None:
                del data[key]
        if data["inlier_class"] is None:  # absent when unset, so other runs keep their keys
            del data["inlier_class"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """Inverse of :meth:`identity` (``data_root`` of the target may be present)."""
        values = dict(data)
        return cls(**values)


_CLASS_SET_KEYS = ("train_classes", "test_classes")


def _check_class_sets(spec: DataSpec) -> None:
    """Normalise ``train_classes``/``test_classes`` to sorted tuples; one line when they are bad."""
    given = [key for key in _CLASS_SET_KEYS if getattr(spec, key) is not None]
    if len(given) == 1:
        raise ConfigError(
            f"data key {given[0]!r} needs its partner: give both train_classes and test_classes "
            "(e.g. train_classes: [0, 1, 2, 3, 4], test_classes: [5, 6, 7, 8, 9])"
        )
    for key in given:
        value = getattr(spec, key)
        valid = isinstance(value, (list, tuple)) and len(value) > 0 and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value
        ) and len(set(value)) == len(value)
        if not valid:
            raise ConfigError(f"data key {key!r}: expected a non-empty list of distinct class indices >= 0, got {value!r}")
        object.__setattr__(spec, key, tuple(sorted(value)))
    if given:
        shared = sorted(set(spec.train_classes or ()) & set(spec.test_classes or ()))
        if shared:
            raise ConfigError(
                f"data keys 'train_classes' and 'test_classes' share classes {shared}; the class sets must be disjoint"
            )


def _class_members(labels: Tensor, classes: tuple[int, ...] | None, key: str, name: str) -> Tensor:
    """Sorted indices of the samples whose label is in ``classes`` (every index when ``None``)."""
    if classes is None:
        return torch.arange(labels.shape[0])
    present = set(labels.unique().tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ConfigError(
            f"data key {key!r}: class {missing[0]} has no samples in {name!r} (its classes are "
            f"{min(present)}..{max(present)}); pick classes the dataset has"
        )
    return torch.isin(labels, torch.tensor(classes, dtype=labels.dtype)).nonzero().squeeze(1)


def _check_inlier_class(spec: DataSpec) -> None:
    """One line unless ``inlier_class`` is ``None`` or a class index >= 0 without class sets."""
    value = spec.inlier_class
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"data key 'inlier_class': expected a class index >= 0 (e.g. 3), got {value!r}")
    if spec.train_classes is not None:
        raise ConfigError("data keys 'inlier_class' and 'train_classes' conflict; give one protocol (one-class or metric)")


def _inliers(labels: Tensor, index: Tensor, inlier_class: int | None) -> Tensor:
    """The entries of ``index`` whose label is ``inlier_class`` (all of them when ``None``)."""
    return index if inlier_class is None else index[labels[index] == inlier_class]


def parse_target(value: Any) -> TargetSpec:
    """A :class:`TargetSpec` from ``{dataset: spec, train_size, test_size, data_root}``."""
    if not isinstance(value, Mapping) or "dataset" not in value:
        raise ConfigError(f"data key 'target': expected {{dataset: NAME or spec, ...}}, got {value!r}")
    allowed = {"dataset", "train_size", "test_size", "data_root"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"data key 'target': unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}")
    DATASETS.get(spec_type(value["dataset"], "dataset"))
    return TargetSpec(**value)


def _dataset_identity(spec: Spec) -> dict[str, Any]:
    return DATASETS.resolve(spec, context=("root", "split"))


@dataclass(frozen=True)
class Split:
    """Samples of one stream or evaluation split.

    Attributes:
        inputs: ``(N, ...)`` in the modality's stored layout.
        labels: ``(N,)`` int64.
        ids: ``(N,)`` int64 positions in the pool they came from (the keys of keyed draws).
        pool_size: size of that pool.
    """

    inputs: Tensor
    labels: Tensor
    ids: Tensor
    pool_size: int

    def __len__(self) -> int:
        return self.labels.shape[0]


@dataclass(frozen=True)
class RunData:
    """The streams and evaluation splits of one run."""

    streams: dict[str, Split]
    evals: dict[str, Split]
    num_classes: int
    input_shape: tuple[int, ...]
    modality: str
    class_names: tuple[str, ...] = field(default=())
    vocab_size: int | None = None
    inlier_class: int | None = None
    """The one-class protocol's inlier class (``DataSpec.inlier_class``): the training streams
    hold only it, and a ``val``/``test`` sample is an anomaly when its label differs."""


def small_splits(data: RunData, name: str) -> list[str]:
    """One warning line per evaluation split of ``data`` too small to measure much.

    With ``n`` test samples one prediction moves accuracy by ``100 / n`` pp, and differences
    between methods smaller than a few such steps are noise; the benchmark still runs.
    """
    return [
        f"{name}: the {split_name} split has only {len(split)} samples, so one prediction moves its accuracy by "
        f"{100 / len(split):.1f} pp; give it {MIN_EVAL_SAMPLES} or more (test_size, train_size, more data)"
        for split_name, split in data.evals.items()
        if 0 < len(split) < MIN_EVAL_SAMPLES
    ]


def load_split(spec: Spec, split: str | None, data_root: str | None) -> Dataset:
    """Load a dataset spec's ``split`` (``None`` for datasets without splits) from ``data_root``."""
    name = spec_type(spec, "dataset")
    parameters = inspect.signature(DATASETS.get(name)).parameters
    options: dict[str, Any] = dict(spec_options(spec))
    if split is not None and "split" in parameters:
        options["split"] = split
    if data_root is not None and "root" in parameters:
        options["root"] = data_root
    return DATASETS.build(name, **options)


def _has_splits(spec: Spec) -> bool:
    return "split" in inspect.signature(DATASETS.get(spec_type(spec, "dataset"))).parameters


def _subset(labels: Tensor, size: int | None, seed: int) -> tuple[Tensor, Tensor]:
    """A stratified subset of ``size`` and the rest (everything when ``size`` is None or too big)."""
    everything = torch.arange(labels.shape[0])
    if size is None or size >= labels.shape[0]:
        return everything, everything[:0]
    return stratified_split(labels, size, seed)


def _per_class(labels: Tensor, per_class: int, seed: int, name: str) -> tuple[Tensor, Tensor]:
    """``per_class`` random samples of every class (by ``seed``) and the rest, sorted."""
    classes, counts = labels.unique(return_counts=True)
    smallest = int(counts.min())
    if per_class > smallest:
        cls = int(classes[counts.argmin()])
        raise ConfigError(
            f"labeled_per_class={per_class} exceeds class {cls} of {name!r}, which has {smallest} training "
            f"samples; use labeled_per_class <= {smallest}"
        )
    order = torch.randperm(labels.shape[0], generator=torch.Generator().manual_seed(seed))
    ranks = torch.empty_like(order)
    shuffled = labels[order]
    # rank of each sample within its class in the shuffled order
    onehot = shuffled[:, None] == classes[None, :]
    within = (onehot.cumsum(0) * onehot).sum(1) - 1
    ranks[order] = within
    chosen = ranks < per_class
    return chosen.nonzero().squeeze(1), (~chosen).nonzero().squeeze(1)


def _take(dataset: Dataset, index: Tensor) -> Split:
    modality = dataset.modality_spec
    return Split(modality.collate(dataset.inputs, index), dataset.labels[index], index, len(dataset))


def prepare_run_data(dataset: Spec, data: DataSpec, seed: int, data_root: str | None = None) -> RunData:
    """Load ``dataset`` and split it into the streams and evaluation splits of ``data``.

    Raises:
        ConfigError: a size larger than the pool, a class smaller than ``labeled_per_class``.
    """
    name = spec_type(dataset, "dataset")
    has_splits = _has_splits(dataset)
    pool = load_split(dataset, "train" if has_splits else None, data_root)
    rest = _class_members(pool.labels, data.train_classes, "train_classes", name)
    if data.inlier_class is not None and data.inlier_class not in set(pool.labels.unique().tolist()):
        raise ConfigError(
            f"data key 'inlier_class': class {data.inlier_class} does not exist in {name!r} (its classes are "
            f"{int(pool.labels.min())}..{int(pool.labels.max())}); pick one of them"
        )
    evals: dict[str, Split] = {}
    if data.val_size:
        if data.val_size >= len(rest):
            raise ConfigError(f"val_size={data.val_size} leaves no training samples of the {len(rest)} of {name!r}")
        val_local, rest_local = stratified_split(pool.labels[rest], data.val_size, _FIXED_SEED)
        evals["val"] = _take(pool, rest[val_local])
        rest = rest[rest_local]
    if has_splits:
        test = load_split(dataset, "test", data_root)
        members = _class_members(test.labels, data.test_classes, "test_classes", name)
        test_local, _ = _subset(test.labels[members], data.test_size, _FIXED_SEED)
        evals["test"] = _take(test, members[test_local])
    elif data.test_classes is not None:  # the held-out classes of the pool are the test split
        members = _class_members(pool.labels, data.test_classes, "test_classes", name)
        test_local, _ = _subset(pool.labels[members], data.test_size, _FIXED_SEED)
        evals["test"] = _take(pool, members[test_local])
    elif data.unlabeled is not None:  # the unlabeled stream takes the rest: hold out a fixed test split first
        size = data.test_size or round(DEFAULT_TEST_FRACTION * len(rest))
        test_local, rest_local = stratified_split(pool.labels[rest], size, _FIXED_SEED)
        evals["test"] = _take(pool, rest[test_local])
        rest = rest[rest_local]
    if data.labeled_per_class is not None:
        labeled_local, remainder_local = _per_class(pool.labels[rest], data.labeled_per_class, seed, name)
    elif data.train_size is None:
        if not has_splits and data.test_classes is None:
            raise ConfigError(f"dataset {name!r} has no test split of its own; give train_size (the rest is the test split)")
        labeled_local, remainder_local = torch.arange(len(rest)), torch.arange(0)
    else:
        if data.train_size >= len(rest):
            raise ConfigError(f"train_size={data.train_size} exceeds the {len(rest)} training samples of {name!r}")
        labeled_local, remainder_local = stratified_split(pool.labels[rest], data.train_size, seed)
    streams = {"labeled": _take(pool, _inliers(pool.labels, rest[labeled_local], data.inlier_class))}
    remainder = rest[remainder_local]
    if data.unlabeled is not None:
        if data.unlabeled != "rest":
            if data.unlabeled > len(remainder):
                raise ConfigError(f"unlabeled={data.unlabeled} exceeds the {len(remainder)} remaining samples of {name!r}")
            chosen = torch.randperm(len(remainder), generator=torch.Generator().manual_seed(seed + 3))[: data.unlabeled]
            remainder = remainder[chosen.sort().values]
        streams["unlabeled"] = _take(pool, _inliers(pool.labels, remainder, data.inlier_class))
    elif not has_splits and data.test_classes is None:
        test_local, _ = _subset(pool.labels[remainder], data.test_size, _FIXED_SEED)
        evals["test"] = _take(pool, remainder[test_local])
    if data.target is not None:
        streams["target"], evals["target_test"] = _target_splits(data.target, pool)
    if "val" in evals:  # held out before any training stream was drawn: disjoint from all of them
        streams["val"] = evals["val"]
    return RunData(streams, evals, pool.num_classes, pool.input_shape, pool.modality, pool.class_names, pool.vocab_size,
                   inlier_class=data.inlier_class)


def _target_splits(target: TargetSpec, source: Dataset) -> tuple[Split, Split]:
    name = spec_type(target.dataset, "dataset")
    has_splits = _has_splits(target.dataset)
    pool = load_split(target.dataset, "train" if has_splits else None, target.data_root)
    if pool.input_shape != source.input_shape or pool.num_classes != source.num_classes:
        raise ConfigError(
            f"target {name!r} has samples {pool.input_shape} and {pool.num_classes} classes, the source "
            f"{source.name!r} {source.input_shape} and {source.num_classes}; pick a target of the same shape "
            "(e.g. {type: digits, size: 28} for MNIST)"
        )
    rest = torch.arange(len(pool))
    if has_splits:
        test = load_split(target.dataset, "test", target.data_root)
        test_local, _ = _subset(test.labels, target.test_size, _FIXED_SEED)
        test_split = _take(test, test_local)
    else:
        size = target.test_size or round(DEFAULT_TEST_FRACTION * len(pool))
        test_local, rest_local = stratified_split(pool.labels, size, _FIXED_SEED)
        test_split = _take(pool, rest[test_local])
        rest = rest[rest_local]
    train_local, _ = _subset(pool.labels[rest], target.train_size, _FIXED_SEED)
    return _take(pool, rest[train_local]), test_split
