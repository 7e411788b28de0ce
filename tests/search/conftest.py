"""Fixtures of the search tests: fresh PostgreSQL databases for the multi-host tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.helpers.workers import PG_SERVER, pg_admin


@pytest.fixture
def pg_urls() -> Iterator[dict[str, str]]:
    """Two fresh, uniquely named PostgreSQL databases (Optuna storage, MLflow store); dropped after."""
    con = pg_admin("multi-host tests")
    names = {kind: f"opt_test_{kind}_{uuid.uuid4().hex[:12]}" for kind in ("storage", "tracking")}
    with con.cursor() as cur:
        for name in names.values():
            cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {kind: f"{PG_SERVER}/{name}" for kind, name in names.items()}
    finally:
        with con.cursor() as cur:
            for name in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.close()
