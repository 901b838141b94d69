"""Policy-string conformance: augbench's reading of timm's strings against timm 1.0.31's parser.

For every string of :data:`STRINGS` (each family and key timm's parser knows, plus strings timm
refuses), three comparisons: the parsed parameters (one table per family), the op set (through
the explicit :data:`policy_params.TIMM_OPS` mapping) and the firing rate, the fraction of real
images that one draw changes, over many draws.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from augbench.policies import OPS
from timm.data import auto_augment as timm_aa
from torch import Tensor

from images import to_pil
from policy_params import AUGBENCH_ONLY_OPS, TIMM_OPS, Meaning, augbench_meaning, canonical_op, same, timm_family, timm_meaning
from report import CLOSE, DIFFERENT, EXACT, NOT_REPORTED, ORACLE_ERROR, REFUSED, Row, Table, one_line

__all__ = ["STRINGS", "policy_tables", "mapping_table"]

STRINGS: tuple[str, ...] = (
    # RandAugment: m, n, mstd, mmax, inc, p and t as timm 1.0.31 parses them.
    "rand", "rand-m9-n2", "rand-m9-mstd0.5", "rand-m9-mstd0.5-inc1", "rand-m9-n3-mstd0.5", "rand-m6-n4-mstd1.0",
    "rand-m7-n2-inc0", "rand-m9-n2-inc1", "rand-m9-n2-mstd0.5-mmax10-inc1", "rand-m0-n2", "rand-m10-n1",
    "rand-m15-n2", "rand-m15-n2-mmax15", "rand-m9-n2-mmax7", "rand-m9-n2-p1.0", "rand-m9-n2-p0.2",
    "rand-mstd1", "rand-m9-mstd101", "rand-m9-n2-tweights", "rand-m9-n2-t3a", "rand-m9-n1-t3aw",
    # Strings timm refuses: the removed 'w' key, a non-integer m, an unknown key.
    "rand-m9-n2-w0", "rand-m7.5-n2", "rand-m9-q3",
    # AugMix: m, w, d, a, b, mstd.
    "augmix", "augmix-m3", "augmix-m5-w4-d2", "augmix-m3-w3-d1-a0.5", "augmix-m3-b1", "augmix-m3-mstd0.5",
    "augmix-m9-w5-d3-a1-b0", "augmix-m3-x1",
    # AutoAugment policies and their mstd key.
    "original", "originalr", "v0", "v0r", "3a", "original-mstd0.5", "originalr-mstd0.5", "v0-mstd0.5",
    "v0r-mstd1", "3a-mstd0.5", "original-m5", "v1",
)  # fmt: skip

FIELDS: dict[str, tuple[str, ...]] = {
    "rand": ("magnitude", "num_ops", "mstd", "mmax", "increasing", "op_prob", "op_choice", "fill", "interpolation"),
    "augmix": ("magnitude", "width", "depth", "alpha", "blended", "mstd", "mmax", "increasing", "op_prob", "fill", "interpolation"),
    "auto": ("subpolicies", "mstd", "mmax", "increasing", "fill", "interpolation"),
}
"""The fields compared for each timm family (column order)."""

TITLES = {"rand": "policy parameters: rand-...", "augmix": "policy parameters: augmix-...", "auto": "policy parameters: original / v0 / 3a"}
PARAMS_LEGEND = (
    "a cell is the value both give, or 'timm vs augbench'; ? = augbench does not report the field; "
    "magnitude = the effective M on timm's 0-10 scale (clipped by mmax); mstd inf = uniform in [0, M]; fill in 0-255"
)
SUBPOLICIES = "sub-policies (op, p, M)"
REPEATS = 16
FIRING_SEED = 0


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(_text(item) for item in value)
    return str(value)


def _refusals(timm: Meaning, ours: Meaning) -> tuple[str, str] | None:
    """Status and note when either side refused the string; ``None`` when both parsed it."""
    if timm.error and ours.error:
        return EXACT, f"both refuse; timm: {timm.error}; augbench: {ours.error}"
    if timm.error:
        return DIFFERENT, f"timm refuses ({timm.error}), augbench accepts it"
    if ours.error:
        return REFUSED, ours.error
    return None


def _subpolicy_cell(timm: Meaning, ours: Meaning) -> tuple[str, str]:
    """How many of timm's sub-policies augbench has with the same ops, probabilities and magnitudes."""
    if ours.subpolicies is None or timm.subpolicies is None:
        return "?", NOT_REPORTED
    if len(ours.subpolicies) != len(timm.subpolicies):
        return f"{len(timm.subpolicies)} vs {len(ours.subpolicies)} sub-policies", DIFFERENT
    differing = 0
    for theirs, mine in zip(timm.subpolicies, ours.subpolicies):
        same_ops = len(theirs) == len(mine) and all(
            canonical_op(t_name) == canonical_op(a_name) and same(t_p, a_p)
            and (a_m is None or timm_aa.LEVEL_TO_ARG.get(t_name) is None or same(t_m, a_m))
            for (t_name, t_p, t_m), (a_name, a_p, a_m) in zip(theirs, mine)
        )  # fmt: skip
        differing += not same_ops
    return ("all equal" if differing == 0 else f"{differing} of {len(timm.subpolicies)} differ"), (EXACT if differing == 0 else DIFFERENT)


def parameter_row(text: str, timm: Meaning, ours: Meaning) -> Row:
    """One string's fields side by side; the row is exact only if every field is reported and equal."""
    fields = FIELDS[timm.family]
    extra = 1 if timm.family == "auto" else 0
    refusal = _refusals(timm, ours)
    if refusal is not None:
        return Row((text, *[""] * (len(fields) + extra)), *refusal)
    cells, differing, missing, figures = [], [], [], {}
    for name in fields:
        theirs, mine = timm.fields.get(name), ours.fields.get(name)
        figures[name] = {"timm": theirs, "augbench": mine}
        if mine is None:
            missing.append(name)
            cells.append(f"{_text(theirs)} vs ?")
        elif same(theirs, mine):
            cells.append(_text(theirs))
        else:
            differing.append(name)
            cells.append(f"{_text(theirs)} vs {_text(mine)}")
    if extra:
        cell, status = _subpolicy_cell(timm, ours)
        cells.append(cell)
        if status == DIFFERENT:
            differing.append(SUBPOLICIES)
        elif status == NOT_REPORTED:
            missing.append(SUBPOLICIES)
    notes = [f"differ: {', '.join(differing)}"] if differing else []
    notes += [f"not reported: {', '.join(missing)}"] if missing else []
    notes += [ours.note] if ours.note else []
    status = DIFFERENT if differing else NOT_REPORTED if missing else EXACT
    return Row((text, *cells), status, "; ".join(notes), figures)


def _op_set(names: Sequence[str]) -> list[str]:
    return sorted({canonical_op(name) for name in names})


def op_set_row(text: str, timm: Meaning, ours: Meaning) -> Row:
    """timm's and augbench's op sets after mapping timm's names to augbench's."""
    refusal = _refusals(timm, ours)
    if refusal is not None:
        return Row((text, "", "", "", ""), *refusal)
    theirs = _op_set(timm.ops or ())
    if ours.ops is None:
        return Row((text, str(len(theirs)), "?", "", ""), NOT_REPORTED, "augbench does not expose the policy's ops")
    mine = _op_set(ours.ops)
    only_timm = [name for name in theirs if name not in mine]
    only_ours = [name for name in mine if name not in theirs]
    figures = {"timm": theirs, "augbench": mine, "timm_names": sorted(set(timm.ops or ()))}
    cells = (text, str(len(theirs)), str(len(mine)), ", ".join(only_timm), ", ".join(only_ours))
    return Row(cells, EXACT if not (only_timm or only_ours) else DIFFERENT, "", figures)


@dataclass(frozen=True)
class Firing:
    """Fraction of draws that changed the image, mean absolute change (levels), and failed draws."""

    rate: float
    mean_change: float
    draws: int
    failures: int = 0
    first_error: str = ""


def timm_firing(transform: Any, images: Tensor, repeats: int) -> Firing:
    """timm's figures over ``repeats`` passes of the images; a draw that raises is counted, not fatal."""
    random.seed(FIRING_SEED)
    np.random.seed(FIRING_SEED)
    pictures = [to_pil(image) for image in images]
    arrays = [np.asarray(picture, dtype=np.int16) for picture in pictures]
    changed, change, failures, first_error = 0, 0.0, 0, ""
    for _ in range(repeats):
        for picture, array in zip(pictures, arrays):
            try:
                output = transform(picture)
            except Exception as error:  # noqa: BLE001 - timm failing on a draw is reported
                failures += 1
                first_error = first_error or one_line(error)
                continue
            difference = np.abs(np.asarray(output, dtype=np.int16) - array)
            changed += bool(difference.any())
            change += float(difference.mean())
    draws = repeats * len(images) - failures
    return Firing(changed / max(draws, 1), change / max(draws, 1), draws, failures, first_error)


def augbench_firing(transform: Any, images: Tensor, repeats: int) -> Firing:
    """The same figures for augbench: one batched call on ``repeats`` copies of the images."""
    batch = images.repeat(repeats, 1, 1, 1)
    output = transform(batch, generator=torch.Generator().manual_seed(FIRING_SEED))
    difference = (output.to(torch.int16) - batch.to(torch.int16)).abs().flatten(1)
    return Firing((difference.amax(1) > 0).double().mean().item(), difference.double().mean().item(), batch.shape[0])


def firing_row(text: str, timm: Meaning, ours: Meaning, images: Tensor) -> Row:
    """Firing rates of both; within tolerance when they differ by at most 3 standard errors + 1 pp."""
    refusal = _refusals(timm, ours)
    if refusal is not None:
        return Row((text, "", "", "", "", ""), *refusal)
    theirs = timm_firing(timm.transform, images, REPEATS)
    failed = f"timm raised on {theirs.failures} of {theirs.draws + theirs.failures} draws ({theirs.first_error})" if theirs.failures else ""
    if theirs.draws == 0:
        return Row((text, "", "", "", "", ""), ORACLE_ERROR, failed)
    try:
        mine = augbench_firing(ours.transform, images, REPEATS)
    except Exception as error:  # noqa: BLE001 - a policy that fails on real images is a row
        note = "; ".join(part for part in (one_line(error), failed) if part)
        return Row((text, f"{100 * theirs.rate:.1f}", "", "", f"{theirs.mean_change:.2f}", ""), REFUSED, note)
    tolerance = 3 * math.sqrt(theirs.rate * (1 - theirs.rate) / theirs.draws + mine.rate * (1 - mine.rate) / mine.draws) + 0.01
    figures = {"timm": asdict(theirs), "augbench": asdict(mine), "tolerance": tolerance}
    cells = (
        text, f"{100 * theirs.rate:.1f}", f"{100 * mine.rate:.1f}", f"{100 * (mine.rate - theirs.rate):+.1f}",
        f"{theirs.mean_change:.2f}", f"{mine.mean_change:.2f}",
    )  # fmt: skip
    note = failed + ("; timm's rate is over the draws that ran" if failed else "")
    return Row(cells, CLOSE if abs(mine.rate - theirs.rate) <= tolerance else DIFFERENT, note, figures)


def mapping_table() -> Table:
    """timm's op names, the augbench op each maps to, and whether augbench's registry has it."""
    table = Table(
        "op names: timm -> augbench (the mapping the op-set table uses)", ("timm op", "augbench op", "timm's meaning"), summarised=False
    )
    for timm_name, (name, meaning) in TIMM_OPS.items():
        table.rows.append(Row((timm_name, name, meaning), "mapped" if name in OPS else "augbench has none"))
    for name, meaning in AUGBENCH_ONLY_OPS.items():
        table.rows.append(Row(("", name, meaning), "augbench only"))
    return table


def policy_tables(images: Tensor) -> list[Table]:
    """Parameter tables (one per family), the op-set table and the firing-rate table."""
    meanings = [(text, timm_meaning(text), augbench_meaning(text)) for text in STRINGS]
    parameters = {
        family: Table(TITLES[family], ("string", *fields, *((SUBPOLICIES,) if family == "auto" else ())), legend=PARAMS_LEGEND)
        for family, fields in FIELDS.items()
    }
    op_sets = Table(
        "policy op sets (timm names mapped to augbench's)", ("string", "timm ops", "augbench ops", "only in timm", "only in augbench"),
        legend="ops counted after the mapping above (timm's Increasing/Rel variants fold into one augbench op)",
    )  # fmt: skip
    firing = Table(
        "policy firing rates", ("string", "timm changed %", "augbench changed %", "diff pp", "timm mean |d|", "augbench mean |d|"),
        legend=(
            f"share of {REPEATS} x {images.shape[0]} draws on real 32x32 images that change the image; mean |d| in levels; "
            f"{CLOSE}: |diff| <= 3 standard errors + 1 pp; timm with its parser's defaults (fill 128, random bilinear/bicubic)"
        ),
    )  # fmt: skip
    for text, timm, ours in meanings:
        parameters[timm_family(text)].rows.append(parameter_row(text, timm, ours))
        op_sets.rows.append(op_set_row(text, timm, ours))
        firing.rows.append(firing_row(text, timm, ours, images))
    return [*parameters.values(), op_sets, firing]
