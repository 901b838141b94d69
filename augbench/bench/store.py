"""The results database (SQLAlchemy Core): one transaction per finished run.

Schema version 3. Tables: ``schema_version``; ``runs`` (identity, the resolved spec and the
environment as JSON, times; ``method`` holds the run's label); ``run_metrics`` (run, phase,
name, value: phase ``""`` for the run's final metrics, a phase name for that phase's cost);
``run_curves`` (run, phase, epoch, name, value); ``artifacts`` (run, name, JSON: structured
results such as a reliability diagram); ``checkpoints`` (run, phase, phase key, weights file,
whether the phase was reused from the cache). A run is written with everything it produced in
a single transaction, so a crash or SIGKILL leaves either the whole run or nothing, and the run
key's primary-key constraint refuses duplicates.

A version-2 database (``metrics`` and ``curves`` without phases) is migrated in place on
open, in one transaction: its rows move to the new tables with phase ``""`` and its flat run
configs read back as :class:`~augbench.bench.spec.RunSpec` (nothing is dropped).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augbench.extras import EXTRAS, missing_extra

try:
    from sqlalchemy import (
        Boolean,
        Column,
        Float,
        ForeignKey,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        create_engine,
        inspect,
        select,
    )
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
except ModuleNotFoundError as error:
    raise missing_extra(error, "the results store") from None

from augbench.bench.run import RunResult
from augbench.bench.spec import RunSpec
from augbench.errors import ConfigError

__all__ = ["Store", "StoredRun", "SCHEMA_VERSION", "resolve_url"]

SCHEMA_VERSION = 3
RUN_PHASE = ""
"""The phase of a run's final metrics and of v2 rows."""

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
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("phase", String(64), primary_key=True),
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
run_curves = Table(
    "run_curves",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("phase", String(64), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("run_key", String(64), ForeignKey("runs.run_key"), primary_key=True),
    Column("phase", String(64), primary_key=True),
    Column("phase_key", String(64), nullable=False),
    Column("path", Text, nullable=True),
    Column("reused", Boolean, nullable=False),
)


@dataclass
class StoredRun:
    """One finished run as read back from the store.

    Attributes:
        spec: the run's resolved spec (v2 runs: rebuilt from their flat config).
        key: the run key it was stored under.
        environment: versions and device it ran with.
        finished_at: UNIX time it was written.
        metrics: final scalars, e.g. ``test_accuracy`` (0-1), ``test_ece``, ``wall_time_s``.
        phase_metrics: per phase, its cost figures.
        curves: per-epoch series by name, each a list of ``(epoch, value)`` (``phase/name`` for
            the curves of a named phase).
        artifacts: structured results by name (parsed JSON), e.g. ``reliability``.
        checkpoints: ``{phase: (phase_key, path, reused)}``.
    """

    spec: RunSpec
    key: str
    environment: dict[str, Any]
    finished_at: float
    metrics: dict[str, float] = field(default_factory=dict)
    phase_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)


def resolve_url(db: str) -> str:
    """A SQLAlchemy URL from ``db``: a URL as is, a plain path as a SQLite file (parents created)."""
    if "://" in db:
        return db
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _check_sqlite_file(db: str) -> None:
    """One line when ``db`` names a SQLite file (a path or ``sqlite:///``) that does not exist."""
    path = db[len("sqlite:///"):] if db.startswith("sqlite:///") else None if "://" in db else db
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"results database {db!r} does not exist; pass the --db that augbench run or bench "
                          "wrote (default results/augbench.db)")


class Store:
    """Finished runs in a SQL database; creates the schema on first use, migrates version 2.

    Args:
        db: a SQLAlchemy URL (``sqlite:///results/augbench.db``, ``postgresql://...``) or a
            file path for SQLite.
        create: create the database and its schema when missing (``False`` for readers such as
            ``augbench report``: a mistyped path is then one line, not a new empty database).
    """

    def __init__(self, db: str, create: bool = True) -> None:
        if not create:
            _check_sqlite_file(db)
        url = resolve_url(db)
        try:
            self.engine: Engine = create_engine(url)
            with self.engine.begin() as connection:
                if not create and "schema_version" not in inspect(connection).get_table_names():
                    raise ConfigError(f"results database {db!r} holds no augbench results; pass the --db that "
                                      "augbench run or bench wrote (default results/augbench.db)")
                self._prepare(connection, db)
        except ModuleNotFoundError as error:
            extra = EXTRAS.get((error.name or "").split(".")[0])
            fix = f"pip install 'augbench[{extra}]'" if extra else "pip install the driver (e.g. mysqlclient)"
            raise ConfigError(
                f"cannot open results database {db!r}: its driver {error.name!r} is not installed; "
                f"{fix} or use sqlite:///path/to.db"
            ) from None
        except (ArgumentError, OperationalError, NoSuchModuleError) as error:
            raise ConfigError(
                f"cannot open results database {db!r}: {str(error).splitlines()[0]}; "
                "pass --db sqlite:///path/to.db or a valid URL"
            ) from None

    def _prepare(self, connection: Connection, db: str) -> None:
        """Create the schema, or check its version and migrate version 2 to 3."""
        existing = set(inspect(connection).get_table_names())
        found = []
        if "schema_version" in existing:
            found = connection.execute(select(schema_version.c.version)).scalars().all()
        version = max(found) if found else None
        if version is not None and version not in (2, SCHEMA_VERSION):
            raise ConfigError(
                f"results database {db!r} has schema version {version}, this augbench reads 2 and writes "
                f"{SCHEMA_VERSION}; use a new --db file"
            )
        metadata.create_all(connection)
        if version == 2:
            _migrate_v2(connection)
        if version != SCHEMA_VERSION:
            connection.execute(schema_version.delete())
            connection.execute(schema_version.insert().values(version=SCHEMA_VERSION))

    def finished_keys(self) -> set[str]:
        """Keys of every run stored so far."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(runs.c.run_key)).scalars())

    def save(self, result: RunResult) -> None:
        """Store one finished run with its metrics, curves, artifacts and checkpoints in a single transaction."""
        spec = result.spec
        key = spec.key
        metric_rows = [{"run_key": key, "phase": RUN_PHASE, "name": k, "value": v} for k, v in result.metrics.items()]
        metric_rows += [
            {"run_key": key, "phase": phase, "name": k, "value": v}
            for phase, values in result.phase_metrics.items() for k, v in values.items()
        ]
        with self.engine.begin() as connection:
            connection.execute(
                runs.insert().values(
                    run_key=key,
                    dataset=spec.dataset_name,
                    model=spec.model_name,
                    method=spec.label,
                    seed=spec.seed,
                    config=json.dumps(spec.to_dict(), sort_keys=True),
                    environment=json.dumps(result.environment, sort_keys=True),
                    finished_at=time.time(),
                )
            )
            if metric_rows:
                connection.execute(run_metrics.insert(), metric_rows)
            if result.curves:
                connection.execute(
                    run_curves.insert(),
                    [{"run_key": key, "phase": p, "epoch": e, "name": n, "value": v} for p, e, n, v in result.curves],
                )
            if result.artifacts:
                connection.execute(
                    artifacts.insert(),
                    [{"run_key": key, "name": n, "value": json.dumps(v)} for n, v in result.artifacts.items()],
                )
            if result.checkpoints:
                connection.execute(
                    checkpoints.insert(),
                    [{"run_key": key, "phase": c.phase, "phase_key": c.key, "path": c.path, "reused": c.reused}
                     for c in result.checkpoints],
                )

    def load_results(self) -> list[StoredRun]:
        """Every finished run with its spec, environment, metrics, curves, artifacts and checkpoints."""
        with self.engine.connect() as connection:
            stored = {
                row.run_key: StoredRun(
                    RunSpec.from_dict(json.loads(row.config)), row.run_key, json.loads(row.environment), row.finished_at
                )
                for row in connection.execute(select(runs))
            }
            for row in connection.execute(select(run_metrics)):
                run = stored[row.run_key]
                if row.phase == RUN_PHASE:
                    run.metrics[row.name] = row.value
                else:
                    run.phase_metrics.setdefault(row.phase, {})[row.name] = row.value
            for row in connection.execute(select(run_curves).order_by(run_curves.c.epoch)):
                name = row.name if row.phase in (RUN_PHASE, "train") else f"{row.phase}/{row.name}"
                stored[row.run_key].curves.setdefault(name, []).append((row.epoch, row.value))
            for row in connection.execute(select(artifacts)):
                stored[row.run_key].artifacts[row.name] = json.loads(row.value)
            for row in connection.execute(select(checkpoints)):
                stored[row.run_key].checkpoints[row.phase] = (row.phase_key, row.path, bool(row.reused))
        return sorted(stored.values(), key=lambda run: run.finished_at)

    def metric_values(self, keys: list[str], name: str) -> dict[str, float]:
        """``{run_key: value}`` of the final metric ``name`` for those of ``keys`` that finished."""
        query = select(run_metrics.c.run_key, run_metrics.c.value).where(
            run_metrics.c.name == name, run_metrics.c.phase == RUN_PHASE, run_metrics.c.run_key.in_(keys)
        )
        with self.engine.connect() as connection:
            return {key: value for key, value in connection.execute(query)}


def _migrate_v2(connection: Connection) -> None:
    """Move the rows of v2's ``metrics`` and ``curves`` into the v3 tables (phase ``""``), then drop them."""
    existing = set(inspect(connection).get_table_names())
    if "metrics" in existing:
        connection.exec_driver_sql(
            "INSERT INTO run_metrics (run_key, phase, name, value) SELECT run_key, '', name, value FROM metrics"
        )
        connection.exec_driver_sql("DROP TABLE metrics")
    if "curves" in existing:
        connection.exec_driver_sql(
            "INSERT INTO run_curves (run_key, phase, epoch, name, value) SELECT run_key, '', epoch, name, value FROM curves"
        )
        connection.exec_driver_sql("DROP TABLE curves")
