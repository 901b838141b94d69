"""``augbench report``: PNG plots and a self-contained ``report.html`` from the results database.

Runs are grouped into sections by dataset, model and the rest of their training config (epochs,
training size, ...; not method, seed, evaluations or data folder), then by method, the baseline
first; of runs that differ only in their evaluations, the last written counts. Each section's
title names what sets it apart from the other sections of its dataset and model. Per section:

- a decision table, methods ranked by mean test accuracy: mean +- 95 % Student-t CI over seeds,
  the seed-matched paired difference to the baseline (``*`` where its CI excludes 0), whether it
  survives a Holm correction over the section's methods, the bootstrap probability of being the
  best ("which should I use?" at a glance) and the seeds a paired t-test would need to resolve
  the observed difference with 80 % power;
- a table of every stored metric (mean +- CI over seeds), scrolling sideways when it is wide;
- PNG plots (matplotlib, Agg): test accuracy per method with CI error bars (its ``<figure>``
  carries the plotted means as ``data-values``, so they can be checked against the table);
  accuracy against training cost (images/s, or wall time per run, log x); reliability diagrams
  from the run artifact ``reliability`` (bins with under 10 samples faded and hatched); mean
  corruption accuracy by severity from the artifact ``corruption``. A plot whose data no run has
  is left out.

``report.html`` embeds the PNGs as base64 data URIs and needs no other file or network access;
the page fits a 1400 px wide window. A small inline script writes ``ok images=N rows=R width=W``
(or ``broken images=B of N ...``) into the hidden ``<div id="render-check">`` once the page has
loaded, so a headless browser can check it.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from augbench.bench.runner import BASELINE, HOLM_ALPHA
from augbench.bench.stats import holm, mean_ci, paired_difference, paired_p_value, probability_best, seeds_for_power
from augbench.bench.store import Store, StoredRun
from augbench.extras import missing_extra

try:
    from matplotlib import rc_context
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ModuleNotFoundError as error:
    raise missing_extra(error, "the report") from None

__all__ = [
    "write_report", "group_runs", "Section", "Stat", "metric_stat", "baseline_difference", "format_stat",
    "average_reliability", "severity_means", "decision_columns", "section_titles", "PRIMARY_METRIC", "METRIC_ORDER",
    "COST_METRICS", "MIN_BIN_SAMPLES", "POWER",
]

PRIMARY_METRIC = "test_accuracy"
"""The metric of the accuracy plot and of the paired difference to the baseline."""

METRIC_ORDER = (
    "test_accuracy",
    "test_nll",
    "test_ece",
    "test_corruption_accuracy",
    "test_fgsm_accuracy",
    "test_pgd_accuracy",
    "train_images_per_s",
    "wall_time_s",
    "augmentation_time_fraction",
    "peak_memory_mb",
)
"""Column order of the metrics every run reports; any other stored metric follows, sorted by name."""

COST_METRICS = ("train_images_per_s", "wall_time_s")
"""Cost axis of the accuracy-vs-cost plot: the first one the runs have."""

_PERCENT_SUFFIXES = ("accuracy", "_ece", "_fraction")  # fractions in [0, 1], shown in %
_NOT_SETUP = ("dataset", "model", "method", "label", "seed", "evaluations", "data_root")  # fields that do not split a section
_PLOT_STYLE = {"font.size": 10}
MIN_BIN_SAMPLES = 10
"""Reliability bins with fewer samples (over all seeds) are drawn faded and hatched."""
POWER = 0.8
"""The power of the "seeds needed" column."""
_POWER_LIMIT = 1000


@dataclass
class Section:
    """The runs of one dataset, model and setup, by method (baseline first, then first seen)."""

    dataset: str
    model: str
    setup: dict[str, Any]
    methods: dict[str, list[StoredRun]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """``dataset / model`` (:func:`section_titles` adds what tells sections apart)."""
        return f"{self.dataset} / {self.model}"

    def runs(self) -> list[StoredRun]:
        """Every run of the section."""
        return [run for runs in self.methods.values() for run in runs]


@dataclass(frozen=True)
class Stat:
    """Mean and 95 % CI half-width (``nan`` for one value) over ``count`` seeds."""

    mean: float
    half_width: float
    count: int


@dataclass(frozen=True)
class Plot:
    """A written PNG, its caption and the values it draws (``{method: mean}`` where it has one
    point per method), which the page keeps beside it so the table and the plot can be checked
    against each other."""

    name: str
    path: Path
    caption: str
    values: dict[str, float] = field(default_factory=dict)


def _setup(run: StoredRun) -> dict[str, Any]:
    """The run's spec without the fields that do not split a section; under the one-class
    protocol the inlier class does not either (a section holds every class of a method)."""
    setup = {k: v for k, v in run.spec.to_dict().items() if k not in _NOT_SETUP}
    if setup.get("data", {}).get("inlier_class") is not None:
        setup["data"] = {k: v for k, v in setup["data"].items() if k != "inlier_class"}
    return setup


def group_runs(runs: Sequence[StoredRun]) -> list[Section]:
    """Sections in the order first seen; within each, the baseline first, then methods as first seen.

    ``runs`` come oldest first (as :meth:`Store.load_results` gives them); a method keeps one run
    per seed (per seed and inlier class under the one-class protocol), the last one.
    """
    sections: dict[str, Section] = {}
    by_seed: dict[tuple[str, str], dict[tuple[int, int | None], StoredRun]] = {}
    for run in runs:
        spec = run.spec
        setup = _setup(run)
        key = json.dumps([spec.dataset, spec.model, setup], sort_keys=True)
        sections.setdefault(key, Section(spec.dataset_name, spec.model_name, setup))
        by_seed.setdefault((key, spec.label), {})[spec.seed, spec.data.inlier_class] = run
    for (key, method), seeds in sorted(by_seed.items(), key=lambda item: item[0][1] != BASELINE):
        sections[key].methods[method] = list(seeds.values())
    return list(sections.values())


def section_titles(sections: Sequence[Section]) -> list[str]:
    """A unique title per section: ``dataset / model``, plus the setup values that differ
    between sections of the same dataset and model (``digits / harness_cnn (epochs=3)``)."""
    titles = []
    for section in sections:
        siblings = [other for other in sections if other.title == section.title]
        keys = sorted({key for other in siblings for key in other.setup
                       if any(other.setup.get(key) != sibling.setup.get(key) for sibling in siblings)})
        detail = ", ".join(f"{key}={_setup_value(section.setup.get(key))}" for key in keys)
        titles.append(f"{section.title} ({detail})" if detail else section.title)
    return titles


def _setup_value(value: Any) -> str:
    """A setup value for a title: nested specs as compact JSON."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)


def _is_percent(metric: str) -> bool:
    """Whether ``metric`` is a fraction in [0, 1] that the report shows in %."""
    return metric.endswith(_PERCENT_SUFFIXES)


def _metric_label(metric: str) -> str:
    """Column and axis label: the name, with ``(%)`` for fractions."""
    return f"{metric} (%)" if _is_percent(metric) else metric


def _metric_names(section: Section) -> list[str]:
    """The metrics any run of the section has: :data:`METRIC_ORDER` first, then the rest sorted."""
    present = {name for run in section.runs() for name in run.metrics}
    return [name for name in METRIC_ORDER if name in present] + sorted(present - set(METRIC_ORDER))


def _seed_values(runs: Sequence[StoredRun], metric: str) -> dict[int, float]:
    """``{seed: value}`` of ``metric`` (in % for fractions) over the runs that have it.

    Under the one-class protocol (runs that differ in their inlier class) a seed's value is the
    mean over its classes, and a seed that lacks one of the classes is left out, as in the
    printed summary (:func:`augbench.bench.runner.summarize`).
    """
    scale = 100.0 if _is_percent(metric) else 1.0
    classes = {run.spec.data.inlier_class for run in runs}
    by_seed: dict[int, dict[int | None, float]] = {}
    for run in runs:
        if metric in run.metrics:
            by_seed.setdefault(run.spec.seed, {})[run.spec.data.inlier_class] = scale * run.metrics[metric]
    return {seed: sum(values.values()) / len(values) for seed, values in by_seed.items() if set(values) == classes}


def metric_stat(runs: Sequence[StoredRun], metric: str) -> Stat | None:
    """Mean and CI of ``metric`` over the runs that have it; ``None`` if none has."""
    values = list(_seed_values(runs, metric).values())
    if not values:
        return None
    return Stat(*mean_ci(values), len(values))


def baseline_difference(section: Section, method: str, metric: str = PRIMARY_METRIC) -> Stat | None:
    """Seed-matched ``method - baseline`` of ``metric``; ``None`` for the baseline or without pairs."""
    if method == BASELINE or BASELINE not in section.methods:
        return None
    mean, half_width, pairs = paired_difference(
        _seed_values(section.methods[method], metric), _seed_values(section.methods[BASELINE], metric)
    )
    return Stat(mean, half_width, pairs) if pairs else None


def _is_significant(difference: Stat | None) -> bool:
    """Whether a paired difference's 95 % CI excludes 0."""
    return difference is not None and not math.isnan(difference.half_width) and abs(difference.mean) > difference.half_width


def format_stat(stat: Stat, signed: bool = False) -> str:
    """``mean ± half-width``: 2 decimals from 1 to 100 (percentages), else about 3 significant digits.

    The digits follow the larger of ``|mean|`` and the half-width; a ``nan`` half-width (one
    seed) is left out.
    """
    scale = max(abs(stat.mean), 0.0 if math.isnan(stat.half_width) else stat.half_width)
    magnitude = math.floor(math.log10(scale)) if scale else 0
    decimals = 2 if 0 <= magnitude <= 1 else min(4, max(0, 2 - magnitude))
    mean = f"{stat.mean:+.{decimals}f}" if signed else f"{stat.mean:.{decimals}f}"
    return mean if math.isnan(stat.half_width) else f"{mean} ± {stat.half_width:.{decimals}f}"


def average_reliability(artifacts: Sequence[dict[str, Sequence[float]]]) -> dict[str, np.ndarray]:
    """Average reliability bins over seeds, each bin weighted by its sample count.

    Args:
        artifacts: per run ``{"confidence", "accuracy", "count"}`` lists of equal length (one
            entry per equal-width confidence bin; empty bins may hold ``nan``).

    Returns:
        ``{"confidence", "accuracy", "count"}`` arrays; ``nan`` where no run has a sample.

    >>> bins = average_reliability([{"confidence": [0.2, 0.9], "accuracy": [0.0, 1.0], "count": [1, 3]},
    ...                             {"confidence": [0.4, 0.7], "accuracy": [1.0, 0.5], "count": [3, 1]}])
    >>> [round(float(v), 3) for v in bins["confidence"]], bins["accuracy"].tolist(), bins["count"].tolist()
    ([0.35, 0.85], [0.75, 0.875], [4.0, 4.0])
    """
    counts = np.array([art["count"] for art in artifacts], dtype=float)
    total = counts.sum(axis=0)
    occupied = np.where(total > 0, total, np.nan)
    averaged = {"count": total}
    for name in ("confidence", "accuracy"):
        values = np.nan_to_num(np.array([art[name] for art in artifacts], dtype=float))
        averaged[name] = (counts * values).sum(axis=0) / occupied
    return averaged


def severity_means(artifact: dict[str, Any]) -> dict[int, float]:
    """``{severity: accuracy}`` averaged over corruptions of a ``corruption`` artifact.

    The artifact maps each corruption to ``{"1": accuracy, ..., "5": accuracy}``; entries that are
    not such a mapping (an overall ``"mean"``) are skipped.

    >>> severity_means({"fog": {"1": 0.75, "2": 0.5}, "noise": {"1": 0.25, "2": 0.0}, "mean": 0.375})
    {1: 0.5, 2: 0.25}
    """
    by_severity: dict[int, list[float]] = {}
    for accuracies in artifact.values():
        if isinstance(accuracies, dict):
            for severity, accuracy in accuracies.items():
                by_severity.setdefault(int(severity), []).append(float(accuracy))
    return {severity: sum(values) / len(values) for severity, values in sorted(by_severity.items())}


def _literal(text: str) -> str:
    """``text`` for a matplotlib label: ``$`` escaped, so a name never turns into mathtext."""
    return text.replace("$", r"\$")


def _colours(section: Section) -> dict[str, str]:
    """One matplotlib cycle colour per method, the same in every plot of a section."""
    return {method: f"C{index % 10}" for index, method in enumerate(section.methods)}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _accuracy_figure(section: Section) -> Figure | None:
    stats = {method: metric_stat(runs, PRIMARY_METRIC) for method, runs in section.methods.items()}
    methods = [method for method, stat in stats.items() if stat is not None]
    if not methods:
        return None
    figure = _figure(max(4.5, 1.0 + 0.9 * len(methods)), 3.8)
    axes = figure.add_subplot()
    colours = _colours(section)
    for index, method in enumerate(methods):
        stat = stats[method]
        values = list(_seed_values(section.methods[method], PRIMARY_METRIC).values())
        axes.scatter([index] * len(values), values, s=10, color="0.6", zorder=2)
        error = 0.0 if math.isnan(stat.half_width) else stat.half_width
        axes.errorbar(index, stat.mean, yerr=error, fmt="o", capsize=5, color=colours[method], zorder=3)
        if _is_significant(baseline_difference(section, method)):
            axes.annotate("*", (index, stat.mean + error), xytext=(0, 1), textcoords="offset points", ha="center",
                          va="bottom", fontsize=14, color="crimson")
    axes.set_xticks(range(len(methods)), [_literal(method) for method in methods], rotation=30, ha="right")
    axes.set_xlim(-0.6, len(methods) - 0.4)
    axes.set_ylabel(_metric_label(PRIMARY_METRIC))
    axes.set_title(f"{_literal(section.title)}: mean ± 95% CI over seeds\n* paired 95% CI vs {BASELINE} excludes 0", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return figure


def _cost_figure(section: Section) -> Figure | None:
    runs = section.runs()
    cost = next((name for name in COST_METRICS if any(name in run.metrics for run in runs)), None)
    if cost is None or not any(PRIMARY_METRIC in run.metrics for run in runs):
        return None
    figure = _figure(5.5, 3.8)
    axes = figure.add_subplot()
    colours = _colours(section)
    for method, method_runs in section.methods.items():
        points = [(run.metrics[cost], 100 * run.metrics[PRIMARY_METRIC]) for run in method_runs
                  if cost in run.metrics and PRIMARY_METRIC in run.metrics]
        if not points:
            continue
        costs, accuracies = zip(*points)
        axes.scatter(costs, accuracies, s=14, alpha=0.4, color=colours[method])
        axes.scatter([np.mean(costs)], [np.mean(accuracies)], s=70, marker="D", edgecolor="black",
                     color=colours[method], label=_literal(method), zorder=3)
    axes.set_xscale("log")
    axes.set_xlabel("training images/s (log)" if cost == "train_images_per_s" else "wall time per run, s (log)")
    axes.set_ylabel(_metric_label(PRIMARY_METRIC))
    axes.set_title(f"{_literal(section.title)}: accuracy vs cost (dots: runs, diamonds: method means)", fontsize=8)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7, loc="best")
    return figure


def _draw_reliability(axes: Axes, method: str, bins: dict[str, np.ndarray], runs: int) -> None:
    width = 1.0 / len(bins["count"])
    lefts = np.arange(len(bins["count"])) * width
    occupied = bins["count"] > 0
    sparse = occupied & (bins["count"] < MIN_BIN_SAMPLES)
    dense = occupied & ~sparse
    axes.bar(lefts[dense], bins["accuracy"][dense], width=width, align="edge", edgecolor="black",
             linewidth=0.5, color="C0", alpha=0.8, label="accuracy")
    if sparse.any():
        axes.bar(lefts[sparse], bins["accuracy"][sparse], width=width, align="edge", edgecolor="0.4",
                 linewidth=0.5, color="C0", alpha=0.25, hatch="///", label=f"< {MIN_BIN_SAMPLES} samples")
    axes.plot(bins["confidence"][occupied], bins["accuracy"][occupied], "o", color="crimson", markersize=3,
              label="mean confidence")
    axes.plot([0, 1], [0, 1], "--", color="0.4", linewidth=1)
    total = bins["count"][occupied].sum()
    gap = np.abs(bins["accuracy"] - bins["confidence"])[occupied]
    ece = float((bins["count"][occupied] * gap).sum() / total) if total else math.nan
    axes.set_title(f"{_literal(method)}\nECE {100 * ece:.2f}% ({runs} run(s))", fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")


def _reliability_figure(section: Section) -> Figure | None:
    diagrams = {
        method: [run.artifacts["reliability"] for run in runs if "reliability" in run.artifacts]
        for method, runs in section.methods.items()
    }
    diagrams = {method: artifacts for method, artifacts in diagrams.items() if artifacts}
    if not diagrams:
        return None
    columns = min(4, len(diagrams))
    rows = math.ceil(len(diagrams) / columns)
    figure = _figure(2.9 * columns, 3.0 * rows)
    for index, (method, artifacts) in enumerate(diagrams.items()):
        _draw_reliability(figure.add_subplot(rows, columns, index + 1), method, average_reliability(artifacts), len(artifacts))
    figure.suptitle(f"{_literal(section.title)}: reliability, bins averaged over seeds weighted by count", fontsize=9)
    return figure


def _corruption_figure(section: Section) -> Figure | None:
    curves = {
        method: [severity_means(run.artifacts["corruption"]) for run in runs if "corruption" in run.artifacts]
        for method, runs in section.methods.items()
    }
    if not any(means for by_run in curves.values() for means in by_run):
        return None
    figure = _figure(5.5, 3.8)
    axes = figure.add_subplot()
    colours = _colours(section)
    for method, by_run in curves.items():
        severities = sorted({severity for means in by_run for severity in means})
        if not severities:
            continue
        stats = [mean_ci([100 * means[s] for means in by_run if s in means]) for s in severities]
        errors = [0.0 if math.isnan(half) else half for _, half in stats]
        axes.errorbar(severities, [mean for mean, _ in stats], yerr=errors, marker="o", capsize=3,
                      color=colours[method], label=f"{_literal(method)} ({len(by_run)} run(s))")
    axes.set_xlabel("severity")
    axes.set_ylabel("accuracy, mean over corruptions (%)")
    axes.set_title(f"{_literal(section.title)}: corruption accuracy by severity (mean ± 95% CI over seeds)", fontsize=8)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    return figure


_PLOTS: dict[str, tuple[Callable[[Section], Figure | None], str]] = {
    "accuracy": (_accuracy_figure, "Test accuracy per method: mean ± 95% Student-t CI over seeds (grey dots: seeds); "
                 "* marks a paired difference to the baseline whose 95% CI excludes 0."),
    "cost": (_cost_figure, "Test accuracy against training cost per run, with per-method means."),
    "reliability": (_reliability_figure, "Reliability diagrams: accuracy per confidence bin, averaged over seeds "
                    f"weighted by bin count; faded hatched bars hold fewer than {MIN_BIN_SAMPLES} samples and say "
                    "little; the dashed diagonal is perfect calibration."),
    "corruption": (_corruption_figure, "Accuracy under common corruptions by severity, averaged over corruptions."),
}
"""Plot name -> (figure builder returning ``None`` when no run has its data, caption)."""


def _plotted_means(section: Section) -> dict[str, float]:
    """The per-method means the accuracy plot draws, rounded as the table shows them."""
    stats = {method: metric_stat(runs, PRIMARY_METRIC) for method, runs in section.methods.items()}
    return {method: round(stat.mean, 2) for method, stat in stats.items() if stat is not None}


def _write_plots(section: Section, out_dir: Path, prefix: str) -> list[Plot]:
    """Write the section's PNGs as ``<prefix>-<plot>.png``; plots without data are left out."""
    written = []
    with rc_context(_PLOT_STYLE):
        for name, (build, caption) in _PLOTS.items():
            figure = build(section)
            if figure is None:
                continue
            path = out_dir / f"{prefix}-{name}.png"
            figure.savefig(path, dpi=110)
            written.append(Plot(name, path, caption, _plotted_means(section) if name == "accuracy" else {}))
    return written


def _e(value: Any) -> str:
    return html.escape(str(value))


def _stat_cell(stat: Stat | None) -> str:
    return "<td>–</td>" if stat is None else f"<td>{_e(format_stat(stat))}</td>"


def _difference_cell(difference: Stat | None) -> str:
    if difference is None:
        return "<td>–</td>"
    marker = ' <span class="sig">*</span>' if _is_significant(difference) else ""
    return f"<td>{_e(format_stat(difference, signed=True))}{marker} <small>({difference.count} pairs)</small></td>"


def decision_columns(section: Section, metric: str = PRIMARY_METRIC) -> tuple[dict[str, bool], dict[str, float]]:
    """Per method: whether its paired difference to the baseline survives a Holm correction over
    the section's methods (alpha 0.05), and its bootstrap probability of being the best."""
    values = {method: _seed_values(runs, metric) for method, runs in section.methods.items()}
    values = {method: by_seed for method, by_seed in values.items() if by_seed}
    survives: dict[str, bool] = {}
    reference = values.get(BASELINE)
    if reference:
        p_values = {method: paired_p_value(by_seed, reference) for method, by_seed in values.items() if method != BASELINE}
        survives = holm(p_values, HOLM_ALPHA) if p_values else {}
    return survives, probability_best(values) if values else {}


def _power_cell(section: Section, method: str, metric: str = PRIMARY_METRIC) -> str:
    """Seeds a paired t-test would need to resolve the observed difference to the baseline."""
    if method == BASELINE or BASELINE not in section.methods:
        return "<td>–</td>"
    needed = seeds_for_power(_seed_values(section.methods[method], metric),
                             _seed_values(section.methods[BASELINE], metric), power=POWER, limit=_POWER_LIMIT)
    if math.isnan(needed):
        return "<td>–</td>"
    if math.isinf(needed):
        difference = baseline_difference(section, method, metric)
        return "<td>never (no difference)</td>" if difference is not None and difference.mean == 0 else \
            f"<td>&gt; {_POWER_LIMIT}</td>"
    return f"<td>{int(needed)}</td>"


def _decision_table(section: Section) -> str:
    """Methods ranked by mean test accuracy: mean ± CI, the paired difference to the baseline, the
    Holm verdict, the probability of being best and the seeds needed at 80 % power."""
    stats = {method: metric_stat(runs, PRIMARY_METRIC) for method, runs in section.methods.items()}
    ranked = sorted((method for method in stats if stats[method] is not None), key=lambda m: -stats[m].mean)
    paired = BASELINE in section.methods
    header = ["rank", "method", "seeds", _metric_label(PRIMARY_METRIC)]
    if paired:
        header += [f"Δ vs {BASELINE} (paired, 95% CI)", f"survives Holm (α {HOLM_ALPHA})"]
    header.append("P(best)")
    if paired:
        header.append(f"seeds for {POWER:.0%} power")
    survives, best = decision_columns(section)
    rows = []
    for rank, method in enumerate(ranked, start=1):
        cells = [f"<td>{rank}</td>", f"<td>{_e(method)}</td>", f"<td>{stats[method].count}</td>",
                 _stat_cell(stats[method])]
        if paired:
            cells.append(_difference_cell(baseline_difference(section, method)))
            cells.append("<td>–</td>" if method not in survives else f"<td>{'yes' if survives[method] else 'no'}</td>")
        cells.append(f"<td>{best[method]:.2f}</td>" if method in best else "<td>–</td>")
        if paired:
            cells.append(_power_cell(section, method))
        rows.append(f'<tr data-method="{_e(method)}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{_e(label)}</th>" for label in header)
    return f'<table class="decision"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _breakable(label: str) -> str:
    """An escaped header label that may wrap after its underscores (``train_images_per_s``)."""
    return _e(label).replace("_", "_<wbr>")


def _summary_table(section: Section) -> str:
    """Every stored metric per method (mean ± CI over seeds), the baseline first."""
    names = _metric_names(section)
    header = ["method", "seeds", *(_metric_label(name) for name in names)]
    rows = []
    for method, runs in section.methods.items():
        cells = [f"<td>{_e(method)}</td>", f"<td>{len(runs)}</td>"]
        cells += [_stat_cell(metric_stat(runs, name)) for name in names]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{_breakable(label)}</th>" for label in header)
    return (f'<div class="wide"><table class="summary"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _image(plot: Plot) -> str:
    data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
    values = f" data-values='{_e(json.dumps(plot.values, sort_keys=True))}'" if plot.values else ""
    return (f'<figure data-plot="{_e(plot.name)}"{values}><img src="data:image/png;base64,{data}" '
            f'alt="{_e(plot.path.stem)}"><figcaption>{_e(plot.caption)}</figcaption></figure>')


def _section_html(section: Section, title: str, plots: Sequence[Plot]) -> str:
    setup = ", ".join(f"{key}={_setup_value(value)}" for key, value in sorted(section.setup.items()))
    return (f"<section><h2>{_e(title)}</h2><p class=\"setup\">{len(section.runs())} run(s); setup: {_e(setup)}</p>"
            f"{_decision_table(section)}{_summary_table(section)}{''.join(_image(plot) for plot in plots)}</section>")


def _environment_table(runs: Sequence[StoredRun]) -> str:
    """Distinct environments (torch version, device, ...) of the runs, with how many runs each."""
    counts: dict[str, int] = {}
    for run in runs:
        key = json.dumps(run.environment, sort_keys=True)
        counts[key] = counts.get(key, 0) + 1
    environments = [(json.loads(key), count) for key, count in counts.items()]
    keys = sorted({key for environment, _ in environments for key in environment})
    head = "".join(f"<th>{_e(key)}</th>" for key in [*keys, "runs"])
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(env.get(key, '–'))}</td>" for key in keys) + f"<td>{count}</td></tr>"
        for env, count in environments
    )
    return f'<table class="environment"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
td { white-space: nowrap; }
th { max-width: 11em; }
.decision td:nth-child(2), .decision th:nth-child(2) { text-align: left; }
.wide { max-width: 100%; overflow-x: auto; }
#render-check { display: none; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
.sig { color: #b00020; font-weight: bold; }
.setup, figcaption, .meta { color: #555; font-size: 0.85em; }
figure { margin: 1em 0; }
img { max-width: 100%; }
"""

_RENDER_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); }).length;
  var rows = document.querySelectorAll("table.summary tbody tr").length;
  var width = document.documentElement.scrollWidth;
  document.getElementById("render-check").textContent = (broken
    ? "broken images=" + broken + " of " + images.length + " rows=" + rows
    : "ok images=" + images.length + " rows=" + rows) + " width=" + width;
});
"""


def _page(store: Store, runs: Sequence[StoredRun], body: str) -> str:
    database = store.engine.url.render_as_string(hide_password=True)
    written = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>augbench report</title>'
        f"<style>{_CSS}</style></head><body><h1>augbench report</h1>"
        f'<p class="meta">{len(runs)} run(s) from {_e(database)}; written {_e(written)}. Means ± 95% Student-t '
        "confidence intervals over seeds; differences to the baseline are seed-matched; "
        '<span class="sig">*</span> marks a difference whose 95% CI excludes 0.</p>'
        f'<div id="render-check">pending</div>{body}'
        f"<h2>Environment</h2>{_environment_table(runs)}<script>{_RENDER_CHECK}</script></body></html>\n"
    )


def write_report(store: Store, out_dir: Path) -> Path:
    """Write the plots and ``report.html`` for every run in ``store`` into ``out_dir``.

    Args:
        store: the results database.
        out_dir: output folder, created if missing; PNGs are written beside ``report.html``
            (which embeds them and stands alone).

    Returns:
        The path of ``report.html``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = store.load_results()
    parts = []
    sections = group_runs(runs)
    for index, (section, title) in enumerate(zip(sections, section_titles(sections))):
        slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{section.dataset}-{section.model}")
        parts.append(_section_html(section, title, _write_plots(section, out_dir, f"{index:02d}-{slug}")))
    body = "".join(parts) or "<p>The database holds no finished runs yet; run <code>augbench bench</code> first.</p>"
    path = out_dir / "report.html"
    path.write_text(_page(store, runs, body), encoding="utf-8")
    return path
