"""Optuna storage from ``search.storage``.

- ``null`` (default): a journal file ``experiments/optuna-journal.log`` (Optuna's journal file storage
  is safe for several processes on one host; SQLite is not, per Optuna's FAQ).
- ``journal:PATH`` or a path ending in ``.log``/``.journal``: a journal file at PATH.
- ``sqlite:///...``, ``postgresql://...``, ``mysql://...``: an RDB storage with heartbeats, so a trial
  whose process died is marked FAIL after ``search.grace_period`` seconds.

SQLite is for one process (``search.workers=1``); the journal file serves several workers on one
host, PostgreSQL several hosts (:func:`check_parallel`).

Before a journal file is opened, :func:`opt.studies.journal.check_journal` cuts a torn last line (an
interrupted write) and refuses a corrupt record; the journal is opened with a snapshot beside it
(``<journal>.snapshot``, :mod:`opt.studies.snapshot`) so a big study loads from its tail. A new journal or SQLite storage needs
``paths.min_free_mb`` free on its disk; a new SQLite storage is created under a temporary name and
renamed into place once complete (:func:`opt.stores.create_sqlite_atomically`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from omegaconf import DictConfig
from optuna.storages.journal import JournalFileOpenLock

from opt.errors import ConfigError, OptError
from opt.secrets import mask_url
from opt.stores import (
    check_store_owner,
    create_sqlite_atomically,
    ensure_free_space,
    init_lock,
    sqlalchemy_url,
    sqlite_file,
)
from opt.studies.journal import check_journal
from opt.studies.snapshot import SnapshotJournalFileBackend

__all__ = ["make_storage", "study_name_for", "describe_storage", "is_journal", "journal_path", "check_parallel"]

_RDB_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql")


def study_name_for(cfg: DictConfig, stage: int) -> str:
    """The Optuna study name of ``stage``: ``<search.study_name>-stage<stage>``."""
    return f"{cfg.search.study_name}-stage{stage}"


def describe_storage(cfg: DictConfig) -> str:
    """Human-readable storage location (for logs, tags and optuna-dashboard); a password is masked."""
    url = cfg.search.storage
    if url is None:
        return str(journal_path(cfg))
    return mask_url(str(url))


def is_journal(cfg: DictConfig) -> bool:
    """Whether ``search.storage`` names a journal file (the default)."""
    url = cfg.search.storage
    return url is None or str(url).startswith("journal:") or str(url).endswith((".log", ".journal"))


def journal_path(cfg: DictConfig) -> Path:
    """The journal file of ``search.storage`` (null: ``experiments/optuna-journal.log``); see :func:`is_journal`."""
    url = cfg.search.storage
    return Path(str(url).removeprefix("journal:")) if url else Path(cfg.paths.experiments) / "optuna-journal.log"


def check_parallel(cfg: DictConfig, workers: int) -> None:
    """Refuse a storage that ``workers`` processes cannot share.

    Raises:
        ConfigError: SQLite storage with more than one worker.
    """
    if workers > 1 and str(cfg.search.storage or "").startswith("sqlite:"):
        raise ConfigError(
            f"search.storage={cfg.search.storage!r} is SQLite, which is not safe for search.workers={workers} "
            "parallel processes: use the journal file (search.storage=null, the default, for one host) or "
            "PostgreSQL (search.storage=postgresql://USER@HOST:PORT/DB, for one or several hosts)")


def make_storage(cfg: DictConfig) -> optuna.storages.BaseStorage:
    """Open the storage named by ``cfg.search.storage`` (see the module docstring).

    Raises:
        ConfigError: naming ``search.storage`` when the URL is not understood or cannot be opened.
    """
    url = cfg.search.storage
    if is_journal(cfg):
        path = journal_path(cfg)
        if not (path.is_file() and path.stat().st_size > 0):
            ensure_free_space(path, float(cfg.paths.min_free_mb), "the Optuna journal")
        path.parent.mkdir(parents=True, exist_ok=True)
        check_journal(path)
        backend = SnapshotJournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    url = str(url)
    if not url.startswith(_RDB_PREFIXES):
        raise ConfigError(
            f"search.storage={url!r} is not understood: use null (journal file under experiments/), "
            "journal:PATH, sqlite:///PATH, or postgresql://USER@HOST:PORT/DB"
        )
    url = sqlalchemy_url(url)  # postgresql:// -> postgresql+psycopg2://
    heartbeat = cfg.search.heartbeat_interval
    grace = cfg.search.grace_period

    def rdb(at: str) -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
            return optuna.storages.RDBStorage(
                at,
                heartbeat_interval=int(heartbeat) if heartbeat else None,
                grace_period=int(grace) if heartbeat else None,
                engine_kwargs={"pool_pre_ping": True} if at.startswith(("postgresql", "mysql")) else None,
            )

    db = sqlite_file(url)
    try:
        # processes that start together on an empty database race its table creation: one at a time
        with init_lock(url, name="optuna"):
            check_store_owner(str(cfg.search.storage), "search.storage", "Optuna")  # not an MLflow store
            if db is not None and not (db.is_file() and db.stat().st_size > 0):
                ensure_free_space(db, float(cfg.paths.min_free_mb), "the Optuna SQLite storage")
                # created under a temporary name, so an interrupted creation leaves nothing half-made
                create_sqlite_atomically(db, lambda tmp: rdb(tmp).engine.dispose)
            return rdb(url)
    except OptError:
        raise  # already clear (e.g. too little free space)
    except Exception as exc:  # noqa: BLE001 - a store that will not open is a user problem (a full disk too:
        # the CLI finds it in the chain, opt.stores.disk_full_message)
        raise ConfigError(f"search.storage={describe_storage(cfg)!r} could not be opened: {mask_url(str(exc))}") from exc
