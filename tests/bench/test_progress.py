"""The progress bar moves by each run's estimated cost, so its time left accounts for methods of
different cost; cached phases still bring the bar to where the run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from augbench.bench import runner
from augbench.bench.experiment import parse_experiment
from augbench.bench.preflight import check_runs
from augbench.bench.store import Store


class _Bar:
    """A stand-in for tqdm that records what the runner asks of it."""

    def __init__(self, total: float = 0, **options: Any) -> None:
        self.total, self.n, self.updates, self.options = total, 0.0, [], options

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, amount: float = 1) -> None:
        self.n += amount
        self.updates.append(amount)

    def write(self, text: str) -> None: ...
    def set_description(self, text: str) -> None: ...
    def set_postfix(self, **values: object) -> None: ...
    def refresh(self) -> None: ...


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[_Bar]:
    made: list[_Bar] = []

    def make(**options: Any) -> _Bar:
        made.append(_Bar(**options))
        return made[-1]

    monkeypatch.setattr(runner, "tqdm", make)
    return made


def test_the_bar_moves_by_each_runs_cost(bars: list[_Bar], tmp_path: Path) -> None:
    specs = parse_experiment({"datasets": ["digits"], "methods": ["baseline", "affine"], "seeds": 1, "epochs": 2, "train_size": 50}).runs()
    costs = {specs[0].key: 1.0, specs[1].key: 3.0}
    runner.run_all(specs, Store(str(tmp_path / "r.db")), costs=costs)
    (bar,) = bars
    assert bar.total == 4.0 and bar.updates == [0.5, 0.5, 1.5, 1.5] and bar.n == pytest.approx(bar.total)


def test_a_cached_phase_still_brings_the_bar_to_the_end_of_its_run(bars: list[_Bar], tmp_path: Path) -> None:
    specs = parse_experiment({"datasets": ["digits"], "methods": [{"label": "kd", "type": "kd", "teacher_epochs": 2}], "seeds": 1,
                              "epochs": 2, "train_size": 50}).runs()
    store_path, cache = tmp_path / "r.db", tmp_path / "cache"
    runner.run_all(specs, Store(str(store_path)), costs={specs[0].key: 2.0}, cache_dir=cache)
    Store(str(store_path)).engine.dispose()
    (store_path).unlink()  # train again: the teacher phase now comes from the cache and reports no epochs
    runner.run_all(specs, Store(str(store_path)), costs={specs[0].key: 2.0}, cache_dir=cache)
    first, second = bars
    assert first.n == pytest.approx(2.0) and second.n == pytest.approx(2.0)
    assert len(second.updates) < len(first.updates)


def test_preflight_costs_rank_a_fixmatch_run_above_its_supervised_baseline() -> None:
    experiment = parse_experiment({"datasets": ["digits"], "methods": ["baseline", {"label": "fm", "type": "fixmatch", "strong": "hflip"}],
                                   "seeds": 2, "epochs": 2, "batch_size": 8, "labeled_per_class": 4,
                                   "unlabeled": "rest", "ratio": 7})
    costs = check_runs(experiment.runs())
    baseline, fixmatch = (costs[spec.key] for spec in experiment.runs()[::2])
    assert set(costs) == {spec.key for spec in experiment.runs()}
    assert fixmatch > 3 * baseline  # 8 + 2 x 56 images a step against 8
