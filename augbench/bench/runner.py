"""Run a list of configs, skipping finished ones, writing each result as soon as it ends."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from augbench.bench.config import RunConfig
from augbench.bench.executors import Executor, Outcome
from augbench.bench.stats import mean_ci, paired_difference
from augbench.bench.store import Store
from augbench.bench.trainer import train_run

__all__ = ["RunSummary", "run_all", "summarize", "SummaryRow", "format_table", "BASELINE"]

BASELINE = "baseline"


@dataclass
class RunSummary:
    """What one call of :func:`run_all` did."""

    trained: int = 0
    skipped: int = 0
    failed: list[tuple[RunConfig, str]] = field(default_factory=list)


def _label(config: RunConfig) -> str:
    return f"{config.dataset}/{config.model}/{config.method} seed {config.seed}"


def run_all(
    configs: Sequence[RunConfig],
    store: Store,
    *,
    executor: Executor | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> RunSummary:
    """Train every config not in ``store`` yet; the driver saves each result when it arrives.

    Without an executor the runs train one after another in this process, with a progress bar
    per epoch; with one they run in parallel and the bar counts runs. A run that fails is
    reported and the others go on. An interruption loses only the runs in progress; a rerun
    resumes with the rest.
    """
    done = store.finished_keys()
    pending = [config for config in configs if config.key not in done]
    summary = RunSummary(skipped=len(configs) - len(pending))
    if executor is None:
        total, unit = sum(config.epochs for config in pending), "epoch"
    else:
        total, unit = len(pending), "run"
    with tqdm(total=total, unit=unit, disable=not progress, dynamic_ncols=True) as bar:
        if summary.skipped:
            bar.write(f"skipping {summary.skipped} finished run(s) found in the database")

        def record(outcome: Outcome) -> None:
            if outcome.result is None:
                summary.failed.append((outcome.config, outcome.error or "unknown error"))
                bar.write(f"run failed: {_label(outcome.config)}: {outcome.error}")
                return
            store.save(outcome.result)
            summary.trained += 1
            bar.set_postfix(last=f"{outcome.config.method} {100 * outcome.result.metrics['test_accuracy']:.1f}%")

        if executor is None:
            for config in pending:
                bar.set_description(_label(config))
                record(Outcome(config, train_run(config, device=device, on_epoch=lambda _epoch: bar.update(1))))
        else:
            for outcome in executor.run(pending):
                record(outcome)
                bar.update(1)
    return summary


@dataclass(frozen=True)
class SummaryRow:
    """Mean +- 95 % Student-t CI of a metric (in %) over seeds, and the paired difference to the baseline."""

    dataset: str
    model: str
    method: str
    seeds: int
    mean: float
    half_width: float
    delta: float = math.nan
    delta_half_width: float = math.nan

    @property
    def significant(self) -> bool:
        """Whether the paired 95 % CI of the difference to the baseline excludes 0."""
        return not math.isnan(self.delta_half_width) and abs(self.delta) > self.delta_half_width


def summarize(configs: Sequence[RunConfig], store: Store, metric: str = "test_accuracy") -> list[SummaryRow]:
    """One row per (dataset, model, method), in the order they first appear in ``configs``."""
    values = store.metric_values(list(configs), metric)
    groups: dict[tuple[str, str, str], dict[int, float]] = {}
    for config in configs:
        group = groups.setdefault((config.dataset, config.model, config.method), {})
        if config.key in values:
            group[config.seed] = 100 * values[config.key]
    rows = []
    for (dataset, model, method), by_seed in groups.items():
        if not by_seed:
            continue
        mean, half_width = mean_ci(list(by_seed.values()))
        delta = delta_half = math.nan
        reference = groups.get((dataset, model, BASELINE))
        if method != BASELINE and reference:
            delta, delta_half, _ = paired_difference(by_seed, reference)
        rows.append(SummaryRow(dataset, model, method, len(by_seed), mean, half_width, delta, delta_half))
    return rows


def _ci(value: float, half_width: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:+.2f} +- {half_width:.2f}" if not math.isnan(half_width) else f"{value:+.2f}"


def format_table(rows: Sequence[SummaryRow], title: str, metric: str = "test accuracy (%)") -> str:
    """A plain-text table: mean +- 95 % CI per method and the seed-matched difference to the baseline.

    A ``*`` marks differences whose paired 95 % CI excludes zero.
    """
    width = max([len("method"), *(len(r.method) for r in rows)])
    lines = [title, f"{'method':<{width}}  seeds  {metric + ', mean +- 95% CI':<32}  vs baseline (paired, 95% CI)"]
    previous = None
    for row in rows:
        if (row.dataset, row.model) != previous and len({(r.dataset, r.model) for r in rows}) > 1:
            lines.append(f"[{row.dataset} / {row.model}]")
        previous = (row.dataset, row.model)
        ci = "n/a (1 seed)" if row.seeds < 2 else f"{row.half_width:.2f}"
        delta = _ci(row.delta, row.delta_half_width) + (" *" if row.significant else "")
        lines.append(f"{row.method:<{width}}  {row.seeds:>5}  {f'{row.mean:6.2f} +- {ci}':<32}  {delta}")
    return "\n".join(lines)
