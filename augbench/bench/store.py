"""The results database (SQLAlchemy Core): one transaction per finished run.

Tables: ``schema_version``; ``runs`` (identity, config and environment as JSON, times);
``metrics`` (run, name, value); ``curves`` (run, epoch, name, value). A run is written with
its metrics and curves in a single transaction, so a crash or SIGKILL leaves either the whole
run or nothing, and the run key's primary-key constraint refuses duplicates.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

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

__all__ = ["Store", "SCHEMA_VERSION", "resolve_url"]

SCHEMA_VERSION = 1

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
curves = Table(
    "curves",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)


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

    def metric_values(self, configs: list[RunConfig], name: str) -> dict[str, float]:
        """``{run_key: value}`` of metric ``name`` for those of ``configs`` that finished."""
        keys = [config.key for config in configs]
        query = select(metrics.c.run_key, metrics.c.value).where(metrics.c.name == name, metrics.c.run_key.in_(keys))
        with self.engine.connect() as connection:
            return {key: value for key, value in connection.execute(query)}
