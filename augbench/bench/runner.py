"""Run a list of specs, skipping finished ones, writing each result as soon as it ends; summarise.

The summary table answers "which should I use?": per method the mean +- 95 % CI over seeds, the
seed-matched paired difference to the baseline (``*``: its 95 % CI excludes 0), ``H`` where that
difference survives a Holm correction over the table's methods (paired t-tests, family-wise
alpha 0.05), and the probability of being best (a paired bootstrap over seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augbench.extras import missing_extra

try:
    from tqdm import tqdm
except ModuleNotFoundError as error:
    raise missing_extra(error, "the benchmark runner") from None

from augbench.bench.executors import Executor, Outcome
from augbench.bench.run import Progress, train_run
from augbench.bench.spec import RunSpec
from augbench.bench.stats import holm, holm_adjusted, mean_ci, paired_difference, paired_p_value, probability_best
from augbench.bench.store import Store

__all__ = ["RunSummary", "run_all", "summarize", "SummaryRow", "format_table", "BASELINE", "HOLM_ALPHA"]

BASELINE = "baseline"
HOLM_ALPHA = 0.05


@dataclass
class RunSummary:
    """What one call of :func:`run_all` did."""

    trained: int = 0
    skipped: int = 0
    failed: list[tuple[RunSpec, str]] = field(default_factory=list)


def _label(spec: RunSpec) -> str:
    return f"{spec.dataset_name}/{spec.model_name}/{spec.label} seed {spec.seed}"


def run_all(
    specs: Sequence[RunSpec],
    store: Store,
    *,
    executor: Executor | None = None,
    device: str = "cpu",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    costs: Mapping[str, float] | None = None,
) -> RunSummary:
    """Train every spec not in ``store`` yet; the driver saves each result when it arrives.

    Without an executor the runs train one after another in this process, the progress bar
    moving per epoch; with one they run in parallel and it moves per run. A run that fails is
    reported and the others go on. An interruption loses only the runs in progress (their
    finished phases stay in the phase cache); a rerun resumes with the rest.

    Args:
        costs: each run's relative cost by run key (:func:`augbench.bench.preflight.check_runs`);
            the bar then moves by cost, not by epoch or run, so its time left accounts for a
            FixMatch epoch costing several baseline epochs. Without it every epoch (run) counts
            the same.
    """
    done = store.finished_keys()
    pending = [spec for spec in specs if spec.key not in done]
    summary = RunSummary(skipped=len(specs) - len(pending))
    weight = {spec.key: _weight(spec, costs, serial=executor is None) for spec in pending}
    total = sum(weight.values())
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]" if costs else None
    unit = "epoch" if executor is None else "run"
    with tqdm(total=total, unit=unit, disable=not progress, dynamic_ncols=True, bar_format=bar_format) as bar:
        if summary.skipped:
            bar.write(f"skipping {summary.skipped} finished run(s) found in the database")

        def record(outcome: Outcome) -> None:
            if outcome.result is None:
                summary.failed.append((outcome.spec, outcome.error or "unknown error"))
                bar.write(f"run failed: {_label(outcome.spec)}: {outcome.error}")
                return
            store.save(outcome.result)
            summary.trained += 1
            accuracy = outcome.result.metrics.get("test_accuracy")
            if accuracy is not None:
                bar.set_postfix(last=f"{outcome.spec.label} {100 * accuracy:.1f}%")

        if executor is None:
            for spec in pending:
                bar.set_description(_label(spec))

                moved = _RunProgress(bar, spec, weight[spec.key], by_cost=costs is not None)
                try:
                    result = train_run(spec, device=device, cache_dir=cache_dir,
                                       progress=Progress(planned=moved.planned, epoch=moved.epoch))
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # one failed run is reported; the others go on
                    record(Outcome(spec, None, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"))
                    moved.finish()
                    continue
                moved.finish()  # cached phases report no epochs: the bar still ends where the run does
                record(Outcome(spec, result))
        else:
            for outcome in executor.run(pending):
                record(outcome)
                bar.update(weight[outcome.spec.key])
    return summary


class _RunProgress:
    """Moves the bar through one serial run: ``weight`` spread over the epochs its phases plan."""

    def __init__(self, bar: Any, spec: RunSpec, weight: float, by_cost: bool) -> None:
        self.bar, self.spec, self.weight, self.by_cost = bar, spec, weight, by_cost
        self.per_epoch = weight / max(1, spec.epochs)
        self.moved = 0.0

    def planned(self, epochs: int) -> None:
        if self.by_cost:  # the run's cost is fixed: spread it over the epochs its phases plan
            self.per_epoch = self.weight / max(1, epochs)
        else:  # epochs are the unit, and the phases may plan more than spec.epochs
            self.bar.total += epochs - self.spec.epochs
            self.weight = float(epochs)
        self.bar.refresh()

    def epoch(self) -> None:
        self.bar.update(self.per_epoch)
        self.moved += self.per_epoch

    def finish(self) -> None:
        if self.weight > self.moved:
            self.bar.update(self.weight - self.moved)


def _weight(spec: RunSpec, costs: Mapping[str, float] | None, serial: bool) -> float:
    """How far a run moves the progress bar: its cost, else its epochs (serial) or 1 (executor)."""
    if costs is None:
        return float(spec.epochs) if serial else 1.0
    return max(costs.get(spec.key, 0.0), 1e-9)


@dataclass(frozen=True)
class SummaryRow:
    """One method of a table: mean +- 95 % Student-t CI of a metric (in %) over seeds, the paired
    difference to the baseline, its Holm-adjusted p-value and the probability of being best."""

    dataset: str
    model: str
    method: str
    seeds: int
    mean: float
    half_width: float
    delta: float = math.nan
    delta_half_width: float = math.nan
    holm_p: float = math.nan
    holm_significant: bool = False
    p_best: float = math.nan

    @property
    def significant(self) -> bool:
        """Whether the paired 95 % CI of the difference to the baseline excludes 0."""
        return not math.isnan(self.delta_half_width) and abs(self.delta) > self.delta_half_width


def summarize(
    specs: Sequence[RunSpec], store: Store, metric: str = "test_accuracy", higher_is_better: bool = True
) -> list[SummaryRow]:
    """One row per (dataset, model, method label), in the order they first appear in ``specs``.

    Under the one-class protocol (runs that differ in ``data.inlier_class``) a seed's value is
    the mean over its inlier classes, and a seed that lacks one of the classes is left out.
    """
    values = store.metric_values([spec.key for spec in specs], metric)
    by_class: dict[tuple[str, str, str], dict[int, dict[int | None, float]]] = {}
    expected: dict[tuple[str, str, str], set[int | None]] = {}
    for spec in specs:
        name = (spec.dataset_name, spec.model_name, spec.label)
        seeds = by_class.setdefault(name, {})
        expected.setdefault(name, set()).add(spec.data.inlier_class)
        if spec.key in values:
            seeds.setdefault(spec.seed, {})[spec.data.inlier_class] = 100 * values[spec.key]
    groups = {
        name: {seed: sum(classes.values()) / len(classes) for seed, classes in seeds.items()
               if set(classes) == expected[name]}
        for name, seeds in by_class.items()
    }
    rows: list[SummaryRow] = []
    for table in dict.fromkeys((d, m) for d, m, _ in groups):
        members = {method: by_seed for (d, m, method), by_seed in groups.items() if (d, m) == table and by_seed}
        if not members:
            continue
        reference = members.get(BASELINE)
        p_values = {
            method: paired_p_value(by_seed, reference)
            for method, by_seed in members.items() if method != BASELINE and reference
        }
        adjusted = holm_adjusted(p_values) if p_values else {}
        survives = holm(p_values, HOLM_ALPHA) if p_values else {}
        best = probability_best(members, higher_is_better=higher_is_better)
        for method, by_seed in members.items():
            mean, half_width = mean_ci(list(by_seed.values()))
            delta = delta_half = math.nan
            if method != BASELINE and reference:
                delta, delta_half, _ = paired_difference(by_seed, reference)
            rows.append(SummaryRow(
                *table, method, len(by_seed), mean, half_width, delta, delta_half,
                adjusted.get(method, math.nan), survives.get(method, False), best[method],
            ))
    return rows


def _ci(value: float, half_width: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:+.2f} +- {half_width:.2f}" if not math.isnan(half_width) else f"{value:+.2f}"


def format_table(rows: Sequence[SummaryRow], title: str, metric: str = "test accuracy (%)") -> str:
    """A plain-text table: mean +- 95 % CI per method, the seed-matched difference to the
    baseline (``*``: paired 95 % CI excludes 0; ``H``: survives Holm over the table's methods)
    and P(best), the bootstrap probability of being the best method of the table."""
    width = max([len("method"), *(len(r.method) for r in rows)])
    lines = [title, f"{'method':<{width}}  seeds  {metric + ', mean +- 95% CI':<32}  "
                    f"{'vs baseline (paired, 95% CI)':<30}  P(best)"]
    previous = None
    for row in rows:
        if (row.dataset, row.model) != previous and len({(r.dataset, r.model) for r in rows}) > 1:
            lines.append(f"[{row.dataset} / {row.model}]")
        previous = (row.dataset, row.model)
        ci = "n/a (1 seed)" if row.seeds < 2 else f"{row.half_width:.2f}"
        marks = (" *" if row.significant else "") + (" H" if row.holm_significant else "")
        delta = _ci(row.delta, row.delta_half_width) + marks
        lines.append(f"{row.method:<{width}}  {row.seeds:>5}  {f'{row.mean:6.2f} +- {ci}':<32}  {delta:<30}  {row.p_best:.2f}")
    if any(not math.isnan(row.delta) for row in rows):
        lines.append(f"* paired 95% CI excludes 0; H survives Holm correction over the table's methods (alpha {HOLM_ALPHA}); "
                     "P(best): bootstrap over seeds")
    return "\n".join(lines)
