"""Fixtures of the search tests: fresh PostgreSQL databases for the multi-host tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.workers import PG_SERVER


def _pg_admin() -> Any:
    import psycopg2

    try:  # database "test" exists on the dev machine and in CI; new databases are created from it
        con = psycopg2.connect(f"{PG_SERVER}/test", connect_timeout=3)
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        pytest.skip(f"PostgreSQL does not answer on 127.0.0.1:5432 (user postgres, database test): {reason}; "
                    "start it to run the multi-host tests")
    con.autocommit = True
    return con


@pytest.fixture
def pg_urls() -> Iterator[dict[str, str]]:
    """Two fresh, uniquely named PostgreSQL databases (Optuna storage, MLflow store); dropped after."""
    con = _pg_admin()
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
