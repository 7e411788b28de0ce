"""Shared database stores (SQLite, PostgreSQL): driver-explicit URLs and a lock for their first use.

PostgreSQL URLs are handed to SQLAlchemy with the psycopg2 driver named (``postgresql+psycopg2://``):
SQLAlchemy 2.1 otherwise picks psycopg 3, which opt does not depend on (:func:`sqlalchemy_url`).

Processes that start together on an empty store race its schema creation: MLflow's SQLite/PostgreSQL
store runs its migrations when it finds no tables, and a second process can see the tables of a
half-migrated database and skip the rest. :func:`init_lock` serializes that first contact:

- a SQLite database: ``fcntl.flock`` on a ``.init.lock`` file beside it (one host), e.g. ``mlruns/.init.lock``;
- PostgreSQL: a session-level advisory lock in that database (any number of hosts).

Other URLs (MySQL, HTTP tracking servers, journal files, which lock themselves) get no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["init_lock", "lock_file_of", "sqlalchemy_url", "is_postgres"]

#: name of the lock file created beside a SQLite database or a journal file
LOCK_NAME = ".init.lock"


_PG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(_PG_SCHEMES)


def sqlalchemy_url(url: str) -> str:
    """``url`` for SQLAlchemy: ``postgresql://``/``postgres://`` become ``postgresql+psycopg2://``."""
    if is_postgres(url):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def libpq_url(url: str) -> str:
    """``url`` for psycopg2 itself (``postgresql://...``, no driver name)."""
    return "postgresql://" + url.split("://", 1)[1]


def lock_file_of(uri: str) -> Path | None:
    """The lock file guarding a ``sqlite:///PATH`` URL (``.init.lock`` beside PATH), else None."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).parent / LOCK_NAME
    return None


def _advisory_key(name: str) -> int:
    """A stable ``pg_advisory_lock`` key for ``name`` (its CRC32)."""
    return zlib.crc32(f"opt-init:{name}".encode())


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_advisory(url: str, name: str) -> Iterator[None]:
    import psycopg2

    con = psycopg2.connect(url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_advisory_key(name),))
        yield
    finally:
        con.close()  # closing the session releases its advisory locks


@contextlib.contextmanager
def init_lock(uri: str, *, name: str) -> Iterator[None]:
    """Hold an exclusive cross-process lock for the first contact with the store at ``uri``.

    Args:
        uri: a ``sqlite:///PATH`` or ``postgresql://...`` (``postgres://``, ``postgresql+psycopg2://``) URL.
        name: what is being initialized (``"mlflow"``, ``"optuna"``): the PostgreSQL advisory lock key.

    Raises:
        psycopg2.Error: the PostgreSQL server cannot be reached.
    """
    path = lock_file_of(uri)
    if path is not None:
        with _flock(path):
            yield
    elif is_postgres(uri):
        with _pg_advisory(libpq_url(uri), name):
            yield
    else:
        yield
