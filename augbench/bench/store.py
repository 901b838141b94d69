"""The results database (SQLAlchemy Core): one transaction per finished run.

Tables: ``schema_version``; ``runs`` (identity, config and environment as JSON, times);
``metrics`` (run, name, value); ``curves`` (run, epoch, name, value); ``artifacts`` (run, name,
JSON: structured results such as a reliability diagram or accuracy per corruption and
severity). A run is written with everything it produced in a single transaction, so a crash or SIGKILL leaves either the whole
run or nothing, and the run key's primary-key constraint refuses duplicates.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from augbench.bench.config import RunConfig
from augbench.bench.trainer import RunResult
from augbench.errors import ConfigError

__all__ = ["Store", "StoredRun", "SCHEMA_VERSION", "resolve_url"]

SCHEMA_VERSION = 2

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, primary_key=True))
runs = Table(
    "runs",
    metadata,
    Column("run_key", String(64), primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("method", String(128), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("config", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("finished_at", Float, nullable=False),
)
metrics = Table(
    "metrics",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)
artifacts = Table(
    "artifacts",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
curves = Table(
    "curves",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)


@dataclass
class StoredRun:
    """One finished run as read back from the store.

    Attributes:
        config: the run's resolved config.
        environment: versions and device it ran with.
        finished_at: UNIX time it was written.
        metrics: final scalars, e.g. ``test_accuracy`` (0-1), ``test_ece``, ``wall_time_s``.
        curves: per-epoch series by name, each a list of ``(epoch, value)``.
        artifacts: structured results by name (parsed JSON), e.g. ``reliability``.
    """

    config: RunConfig
    environment: dict[str, Any]
    finished_at: float
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)


def resolve_url(db: str) -> str:
    """A SQLAlchemy URL from ``db``: a URL as is, a plain path as a SQLite file (parents created)."""
    if "://" in db:
        return db
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store:
    """Finished runs in a SQL database; creates the schema on first use.

    Args:
        db: a SQLAlchemy URL (``sqlite:///results/augbench.db``, ``postgresql://...``) or a
            file path for SQLite.
    """

    def __init__(self, db: str) -> None:
        url = resolve_url(db)
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url)
            metadata.create_all(self.engine)
        except (ArgumentError, OperationalError) as error:
            raise ConfigError(f"cannot open results database {db!r}: {str(error).splitlines()[0]}; pass --db sqlite:///path/to.db or a valid URL") from None
        with self.engine.begin() as connection:
            found = connection.execute(select(schema_version.c.version)).scalars().all()
            if not found:
                connection.execute(schema_version.insert().values(version=SCHEMA_VERSION))
            elif max(found) != SCHEMA_VERSION:
                raise ConfigError(
                    f"results database {db!r} has schema version {max(found)}, this augbench writes "
                    f"{SCHEMA_VERSION}; use a new --db file"
                )

    def finished_keys(self) -> set[str]:
        """Keys of every run stored so far."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(runs.c.run_key)).scalars())

    def save(self, result: RunResult) -> None:
        """Store one finished run with its metrics and curves in a single transaction."""
        config = result.config
        with self.engine.begin() as connection:
            connection.execute(
                runs.insert().values(
                    run_key=config.key,
                    dataset=config.dataset,
                    model=config.model,
                    method=config.method,
                    seed=config.seed,
                    config=json.dumps(config.to_dict(), sort_keys=True),
                    environment=json.dumps(result.environment, sort_keys=True),
                    finished_at=time.time(),
                )
            )
            connection.execute(
                metrics.insert(), [{"run_key": config.key, "name": k, "value": v} for k, v in result.metrics.items()]
            )
            if result.curves:
                connection.execute(
                    curves.insert(),
                    [{"run_key": config.key, "epoch": e, "name": n, "value": v} for e, n, v in result.curves],
                )
            if result.artifacts:
                connection.execute(
                    artifacts.insert(),
                    [{"run_key": config.key, "name": n, "value": json.dumps(v)} for n, v in result.artifacts.items()],
                )

    def load_results(self) -> list[StoredRun]:
        """Every finished run with its config, environment, metrics, curves and artifacts."""
        with self.engine.connect() as connection:
            stored = {
                row.run_key: StoredRun(
                    RunConfig.from_dict(json.loads(row.config)), json.loads(row.environment), row.finished_at
                )
                for row in connection.execute(select(runs))
            }
            for row in connection.execute(select(metrics)):
                stored[row.run_key].metrics[row.name] = row.value
            for row in connection.execute(select(curves).order_by(curves.c.epoch)):
                stored[row.run_key].curves.setdefault(row.name, []).append((row.epoch, row.value))
            for row in connection.execute(select(artifacts)):
                stored[row.run_key].artifacts[row.name] = json.loads(row.value)
        return sorted(stored.values(), key=lambda run: run.finished_at)

    def metric_values(self, configs: list[RunConfig], name: str) -> dict[str, float]:
        """``{run_key: value}`` of metric ``name`` for those of ``configs`` that finished."""
        keys = [config.key for config in configs]
        query = select(metrics.c.run_key, metrics.c.value).where(metrics.c.name == name, metrics.c.run_key.in_(keys))
        with self.engine.connect() as connection:
            return {key: value for key, value in connection.execute(query)}
