"""Open-set data: a run's streams recast as inlier classes, one outlier class and a mixed pool.

Open-set (semi-supervised) active learning (Stojnic et al., WACV 2024) starts from a few labels
of the task's classes (the *inliers*) and an unlabeled pool that also holds samples of other
classes (the *outliers*), at a given outlier ratio. :func:`open_set_data` builds that task from
a run's :class:`~augbench.data.streams.RunData`:

- classes: the inlier classes keep their order and become ``0 .. C-1``; every outlier class
  becomes class ``C`` (the *outlier class*);
- ``labeled``: the run's labeled stream restricted to inlier classes (its outlier samples go to
  the pool), so ``labeled_per_class: k`` gives ``k`` initial labels per inlier class;
- ``unlabeled`` (the pool): the run's unlabeled stream plus those outlier samples, subsampled
  with the run's seed so that a fraction ``outlier_ratio`` of it are outliers (all of the
  scarcer group is kept); its labels, mapped as above, are the oracle's answers;
- every other stream and every evaluation split (``test``, ``val``): inlier samples only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from augbench.data.streams import RunData, Split
from augbench.errors import ConfigError
from augbench.modalities import get_modality

__all__ = ["OUTLIER_NAME", "class_map", "open_set_data"]

OUTLIER_NAME = "outlier"
"""The name of the outlier class in the open-set task's ``class_names``."""
_POOL_SEED_OFFSET = 11  # the pool's subsample draws from its own generator of the run's seed


def class_map(num_classes: int, outlier_classes: Sequence[int]) -> Tensor:
    """``(num_classes,)`` int64: original class -> open-set class (inliers ``0 .. C-1`` in their
    order, every outlier class ``C``)."""
    outliers = set(outlier_classes)
    inliers = [cls for cls in range(num_classes) if cls not in outliers]
    mapping = torch.full((num_classes,), len(inliers), dtype=torch.int64)
    mapping[torch.tensor(inliers, dtype=torch.int64)] = torch.arange(len(inliers))
    return mapping


def _take(split: Split, index: Tensor, labels: Tensor, modality: str) -> Split:
    return Split(get_modality(modality).collate(split.inputs, index), labels[index], split.ids[index], split.pool_size)


def _inliers_only(split: Split, mapping: Tensor, modality: str) -> Split:
    labels = mapping[split.labels]
    return _take(split, (labels < int(mapping.max())).nonzero().squeeze(1), labels, modality)


def _balanced_pool(labels: Tensor, outlier: int, ratio: float, seed: int) -> Tensor:
    """Positions of a subsample of ``labels`` whose outlier fraction is ``ratio`` (rounded down):
    every sample of the scarcer group is kept, the other group is drawn at random."""
    is_outlier = labels == outlier
    inliers, outliers = (~is_outlier).nonzero().squeeze(1), is_outlier.nonzero().squeeze(1)
    if ratio == 0.0:
        keep_in, keep_out = len(inliers), 0
    elif len(outliers) * (1.0 - ratio) >= len(inliers) * ratio:  # outliers are plentiful
        keep_in, keep_out = len(inliers), int(len(inliers) * ratio / (1.0 - ratio))
    else:
        keep_in, keep_out = int(len(outliers) * (1.0 - ratio) / ratio), len(outliers)
    generator = torch.Generator().manual_seed(seed + _POOL_SEED_OFFSET)
    chosen_in = inliers[torch.randperm(len(inliers), generator=generator)[:keep_in]]
    chosen_out = outliers[torch.randperm(len(outliers), generator=generator)[:keep_out]]
    return torch.cat([chosen_in, chosen_out])


def open_set_data(
    data: RunData, outlier_classes: Sequence[int], outlier_ratio: float, seed: int, outlier_class: bool = True
) -> RunData:
    """The open-set task of ``data`` (see the module docstring).

    Args:
        data: the run's data with ``labeled`` and ``unlabeled`` streams.
        outlier_classes: original class indices outside the task (at least one; two or more
            classes must stay inliers).
        outlier_ratio: fraction in [0, 1) of outliers in the pool.
        seed: the run's seed (the pool's subsample).
        outlier_class: the models predict ``C + 1`` classes (the last one "outlier"); ``False``:
            ``C`` classes (the pool's labels still mark outliers with ``C``, for the oracle).

    Returns:
        The task's data; ``num_classes`` is ``C + 1`` (or ``C``), ``class_names`` the inliers'
        (then ``"outlier"``).

    Raises:
        ConfigError: no unlabeled stream, no inlier in the labeled stream, no outlier in the pool
            at a positive ratio, or no inlier in the pool.
    """
    if "unlabeled" not in data.streams:
        raise ConfigError("open-set data needs an unlabeled pool; add unlabeled: rest to the data spec")
    mapping = class_map(data.num_classes, outlier_classes)
    outlier = int(mapping.max())
    labeled, unlabeled = data.streams["labeled"], data.streams["unlabeled"]
    labeled_classes = mapping[labeled.labels]
    initial = (labeled_classes < outlier).nonzero().squeeze(1)
    if len(initial) == 0:
        raise ConfigError(
            "the labeled stream holds no sample of an inlier class; give it some (labeled_per_class: 2) "
            "or fewer outlier_classes"
        )
    returned = (labeled_classes == outlier).nonzero().squeeze(1)
    collate = get_modality(data.modality).collate
    pool_labels = torch.cat([mapping[unlabeled.labels], labeled_classes[returned]])
    merged = Split(
        torch.cat([unlabeled.inputs, collate(labeled.inputs, returned)]), pool_labels,
        torch.cat([unlabeled.ids, labeled.ids[returned]]), unlabeled.pool_size,
    )
    if outlier_ratio > 0 and not bool((pool_labels == outlier).any()):
        raise ConfigError(
            f"the pool holds no sample of the outlier classes {list(outlier_classes)}, so outlier_ratio={outlier_ratio} "
            "cannot be met; name classes the dataset has or set outlier_ratio: 0"
        )
    if bool((pool_labels == outlier).all()):
        raise ConfigError("the pool holds no inlier sample; give the run more unlabeled data (unlabeled: rest)")
    chosen = _balanced_pool(pool_labels, outlier, outlier_ratio, seed)
    chosen = chosen[merged.ids[chosen].argsort()]  # the pool in id order
    streams = {
        "labeled": _take(labeled, initial, labeled_classes, data.modality),
        "unlabeled": _take(merged, chosen, pool_labels, data.modality),
    }
    for name, split in data.streams.items():
        if name not in streams:
            streams[name] = _inliers_only(split, mapping, data.modality)
    evals = {name: _inliers_only(split, mapping, data.modality) for name, split in data.evals.items()}
    inlier_names = tuple(data.class_names[cls] for cls in range(data.num_classes) if int(mapping[cls]) < outlier) \
        if data.class_names else ()
    names = inlier_names + ((OUTLIER_NAME,) if outlier_class and inlier_names else ())
    return replace(data, streams=streams, evals=evals, num_classes=outlier + int(outlier_class), class_names=names)
