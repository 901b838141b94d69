"""Results-database fixtures: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``AUGBENCH_TEST_POSTGRES_URL`` (``.ci/run`` starts a server on loopback
and sets it); each test gets a fresh database that is dropped afterwards. Without the variable
the PostgreSQL cases skip, unless ``AUGBENCH_REQUIRE_POSTGRES=1`` (set by CI) makes them fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("AUGBENCH_TEST_POSTGRES_URL")


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        if os.environ.get("AUGBENCH_REQUIRE_POSTGRES") == "1":
            pytest.fail("AUGBENCH_REQUIRE_POSTGRES=1 but AUGBENCH_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server: set AUGBENCH_TEST_POSTGRES_URL (CI starts one)")
    name = f"augbench_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty results database, SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
    else:
        yield from _postgres_database()
