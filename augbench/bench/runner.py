"""Run a list of configs, skipping finished ones, and write each result as soon as it ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from augbench.bench.config import RunConfig
from augbench.bench.stats import mean_ci
from augbench.bench.store import Store
from augbench.bench.trainer import train_run

__all__ = ["run_all", "summarize", "SummaryRow", "format_table"]


def run_all(configs: Sequence[RunConfig], store: Store, *, device: str = "cpu", progress: bool = True) -> int:
    """Train every config that is not in ``store`` yet; each result is saved when its run ends.

    An interruption loses only the run in progress; a rerun resumes with the next one.

    Returns:
        The number of runs trained by this call.
    """
    done = store.finished_keys()
    pending = [config for config in configs if config.key not in done]
    skipped = len(configs) - len(pending)
    total_epochs = sum(config.epochs for config in pending)
    with tqdm(total=total_epochs, unit="epoch", disable=not progress, dynamic_ncols=True) as bar:
        if skipped:
            bar.write(f"skipping {skipped} finished run(s) found in the database")
        for config in pending:
            bar.set_description(f"{config.method} seed {config.seed}")
            result = train_run(config, device=device, on_epoch=lambda _epoch: bar.update(1))
            store.save(result)
            bar.set_postfix(last_acc=f"{100 * result.metrics['test_accuracy']:.1f}%")
    return len(pending)


@dataclass(frozen=True)
class SummaryRow:
    """Mean and 95 % Student-t CI of test accuracy (in %) over the finished seeds of one method."""

    method: str
    seeds: int
    mean: float
    half_width: float


def summarize(configs: Sequence[RunConfig], store: Store, metric: str = "test_accuracy") -> list[SummaryRow]:
    """One row per method, in the order they first appear in ``configs``."""
    values = store.metric_values(list(configs), metric)
    rows = []
    for method in dict.fromkeys(config.method for config in configs):
        found = [100 * values[c.key] for c in configs if c.method == method and c.key in values]
        if found:
            mean, half_width = mean_ci(found)
            rows.append(SummaryRow(method, len(found), mean, half_width))
    return rows


def format_table(rows: Sequence[SummaryRow], title: str) -> str:
    """A plain-text table of test accuracy, mean +- 95 % CI."""
    width = max([len("method"), *(len(r.method) for r in rows)])
    lines = [title, f"{'method':<{width}}  seeds  test accuracy (%, mean +- 95% CI)"]
    for row in rows:
        ci = "n/a (1 seed)" if row.seeds < 2 else f"{row.half_width:.2f}"
        lines.append(f"{row.method:<{width}}  {row.seeds:>5}  {row.mean:6.2f} +- {ci}")
    return "\n".join(lines)
