"""Full-disk messages, the free-space check and atomic SQLite creation (opt.stores), without a small disk.

The same behaviour end to end, on a real small tmpfs, is in test_disk_full.py (root only)."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from opt.errors import ConfigError
from opt.stores import DiskFullError, create_sqlite_atomically, disk_full_message, ensure_free_space
from opt.studies.journal import JournalError

from tests.helpers.config import compose_config


def test_a_full_disk_is_recognised_directly_wrapped_and_in_text(workdir: Path) -> None:
    cfg = compose_config(["+stage=1"])
    enospc = OSError(errno.ENOSPC, "No space left on device", "experiments/optuna-journal.log")
    assert disk_full_message(enospc, cfg) is not None
    assert str(disk_full_message(enospc, cfg)).startswith("disk full at experiments/optuna-journal.log (")

    try:  # SQLite's own wording, wrapped the way the tracker wraps store errors
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise ConfigError("tracking.uri='sqlite:///mlruns/mlflow.db' could not be opened: "
                              "(sqlite3.OperationalError) database or disk is full") from exc
    except ConfigError as wrapped:
        message = disk_full_message(wrapped, cfg)
    assert message is not None and message.startswith("disk full at mlruns/mlflow.db (")
    assert "MB free): tracking.uri=" in message and "rerun the same command" in message

    try:  # an error raised while handling the full disk still says so (implicit chaining)
        try:
            raise enospc
        except OSError:
            raise RuntimeError("closing failed")  # noqa: B904 - the implicit context is what is tested
    except RuntimeError as later:
        assert disk_full_message(later, cfg) is not None


def test_other_errors_and_precise_ones_keep_their_message() -> None:
    cfg = compose_config(["+stage=1"])
    assert disk_full_message(ValueError("bad value"), cfg) is None
    assert disk_full_message(OSError(errno.EACCES, "Permission denied"), cfg) is None
    assert disk_full_message(DiskFullError("disk full at x: 1 MB free"), cfg) is None
    quoting = JournalError('corrupt at line 3 (not a JSON record: \'{"error":"No space left on device"\')')
    assert disk_full_message(quoting, cfg) is None


def test_too_little_free_space_is_refused_naming_the_place(tmp_path: Path) -> None:
    ensure_free_space(tmp_path / "new" / "store.db", 0, "the store")
    with pytest.raises(DiskFullError) as raised:
        ensure_free_space(tmp_path / "new" / "store.db", 10**12, "the MLflow store")
    message = str(raised.value)
    assert message.startswith(f"disk full at {tmp_path}: ") and "MB free, opt needs 1e+12 MB to create the MLflow store" in message


def test_a_failed_sqlite_creation_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "stores" / "mlflow.db"

    def half_then_fail(url: str) -> Callable[[], None]:
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("CREATE TABLE half (x)")
        con.commit()
        con.close()
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(sqlite3.OperationalError):
        create_sqlite_atomically(db, half_then_fail)
    assert not db.exists() and list(db.parent.iterdir()) == []

    def whole(url: str) -> Callable[[], None]:
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("CREATE TABLE whole (x)")
        con.commit()
        return con.close

    assert create_sqlite_atomically(db, whole) is True
    assert [p.name for p in db.parent.iterdir()] == ["mlflow.db"]
    assert create_sqlite_atomically(db, half_then_fail) is False  # exists: left alone
    con = sqlite3.connect(db)
    assert con.execute("SELECT name FROM sqlite_master").fetchall() == [("whole",)]
    con.close()
