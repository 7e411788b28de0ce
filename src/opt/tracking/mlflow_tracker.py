"""MLflow tracking for opt: one parent run per invocation, one nested child run per trial.

Uses :class:`mlflow.tracking.MlflowClient` directly (no global active-run state), batched logging
(one ``log_batch`` per trial) and synchronous writes: async logging costs ~0.5-1 s per run end.
The default store is ``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts``;
``postgresql://USER@HOST:PORT/DB`` (opened with psycopg2) serves several hosts.

Several processes may write at once: their first contact with the store (which migrates an empty
database) is serialized with :func:`opt.stores.init_lock`, and a write that meets a busy database is
retried (:func:`retry_locked`).

A new SQLite store is created and migrated under a temporary name and renamed into place once the
migration succeeded (:func:`opt.stores.create_sqlite_atomically`): a migration stopped half-way (a full
disk) leaves no half-migrated store behind. An ``http(s)://`` tracking server is asked once, quickly,
before MLflow's own minutes of retries (:func:`opt.stores.check_tracking_server`), and a tracking URI
naming the Optuna storage's database is refused (:func:`opt.stores.check_separate`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig

from opt.errors import ConfigError, OptError
from opt.secrets import mask_url
from opt.stores import (
    check_experiment_location,
    check_separate,
    check_tracking_server,
    create_sqlite_atomically,
    ensure_free_space,
    experiment_location,
    init_lock,
    sqlalchemy_url,
)
from opt.tracking.ui_view import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND, experiment_ui_tags

__all__ = ["Tracker", "sqlite_path", "retry_locked", "PARAM_VALUE_MAX"]

PARAM_VALUE_MAX = 6000  # MLflow's param value length limit (characters)
RETRY_FOR_S = 120.0  # how long a write that hit a busy database is retried (seconds)
_TRANSIENT = ("database is locked", "deadlock detected", "could not serialize access")

T = TypeVar("T")

log = logging.getLogger(__name__)


def retry_locked(call: Callable[[], T], *, for_s: float = RETRY_FOR_S) -> T:
    """Run ``call``; while it fails because the database is busy, wait (doubling, 0.05-2 s) and retry.

    SQLite waits ``busy_timeout`` (MLflow sets 20 s) before it reports "database is locked";
    PostgreSQL can report a deadlock or a serialization failure. Both are transient under many
    writers; anything else is raised at once.

    Raises:
        Exception: what ``call`` raised, when it is not transient or still fails after ``for_s``.
    """
    deadline, pause = time.monotonic() + for_s, 0.05
    while True:
        try:
            return call()
        except Exception as exc:
            if not any(t in str(exc) for t in _TRANSIENT) or time.monotonic() > deadline:
                raise
            log.warning("MLflow store busy (%s); retrying in %.2f s", str(exc).splitlines()[0][:200], pause)
            time.sleep(pause)
            pause = min(2.0, pause * 2)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


def _absolute(uri: str) -> str:
    """``uri`` with a relative SQLite path made absolute (MLflow caches stores by URI, and a process may
    change its working directory between two studies)."""
    db = sqlite_path(uri)
    return uri if db is None or db.is_absolute() else f"sqlite:///{db.resolve()}"


class _NoTraceback(logging.Filter):
    """Drops the traceback that MLflow's store logs with every database error (``_logger.exception``).

    MLflow raises the error right after logging it, and opt reports it in one line (or retries it), so
    its traceback on the console only hides that line (e.g. a full disk's "opt: error: disk full at ...").
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def _quiet_mlflow_store_errors() -> None:
    store_log = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _NoTraceback) for f in store_log.filters):
        store_log.addFilter(_NoTraceback())


def _create_store(url: str) -> Callable[[], None]:
    """Create and migrate an MLflow SQLite store at ``url``; return what closes its connections."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    def close() -> None:  # MLflow caches one engine per URL; this URL is never used again
        engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(url, None)
        if engine is not None:
            engine.dispose()

    try:
        SqlAlchemyStore(url, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    except BaseException:
        close()
        raise
    return close


def _prepare_sqlite(path: Path) -> None:
    """Create the folder, and switch the DB to WAL mode (persistent; halves lock waits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


class Tracker:
    """Opens the MLflow store named in ``cfg.tracking`` and writes opt's runs into it.

    Args:
        cfg: the composed config; reads ``tracking.uri``, ``tracking.artifact_root``,
            ``tracking.experiment``, ``tracking.telemetry`` and ``tracking.parent_run_id`` (set: the
            store was prepared by the launcher, no init lock).

    With an ``http(s)://`` tracking server a new experiment gets the server's artifact root (proxied
    ``mlflow-artifacts:``), never a local ``tracking.artifact_root`` (:func:`opt.stores.experiment_location`).

    Raises:
        ConfigError: when the tracking URI cannot be opened, or the server's experiment keeps its
            artifacts in a local folder (:func:`opt.stores.check_experiment_location`).
    """

    def __init__(self, cfg: DictConfig) -> None:
        if not cfg.tracking.telemetry:
            os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        import mlflow
        from mlflow.tracking import MlflowClient

        self.uri = sqlalchemy_url(_absolute(str(cfg.tracking.uri)))
        check_separate(cfg)
        check_tracking_server(self.uri)
        _quiet_mlflow_store_errors()
        mlflow.set_tracking_uri(self.uri)
        # the first contact migrates an empty store: one process at a time (opt.stores); a worker's
        # launcher (tracking.parent_run_id set) has done it already, so its workers start together
        prepared = bool(cfg.tracking.parent_run_id)
        try:
            with contextlib.nullcontext() if prepared else init_lock(self.uri, name="mlflow"):
                db = sqlite_path(self.uri)
                if db is not None and not prepared:
                    if not (db.is_file() and db.stat().st_size > 0):
                        ensure_free_space(db, float(cfg.paths.min_free_mb), "the MLflow store")
                        create_sqlite_atomically(db, _create_store)
                    _prepare_sqlite(db)
                self.client = MlflowClient(tracking_uri=self.uri)
                self.experiment_id = self._experiment(str(cfg.tracking.experiment),
                                                      str(cfg.tracking.artifact_root))
        except OptError:
            raise  # already clear (e.g. too little free space)
        except Exception as exc:  # noqa: BLE001 - any store failure is a config problem for the user
            hint = ""
            if "duplicate column name" in str(exc):
                hint = (" (the store looks half-migrated: its first migration was interrupted, e.g. by a full disk, "
                        "in an opt that did not yet create stores atomically; if it holds no runs, delete it and rerun)")
            raise ConfigError(f"tracking.uri={mask_url(self.uri)!r} could not be opened: {mask_url(str(exc))}{hint}") from exc

    def _experiment(self, name: str, artifact_root: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            check_experiment_location(self.uri, name, found.artifact_location, artifact_root)
            self._mark_model_training(found.experiment_id, found.tags)
            return found.experiment_id
        location = experiment_location(self.uri, name, artifact_root)  # None: the tracking server's artifact root
        try:
            created = self.client.create_experiment(name, artifact_location=location,
                                                    tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
            self._mark_model_training(created, {EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
            return created
        except Exception:  # another host created it first
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _mark_model_training(self, experiment_id: str, tags: Mapping[str, str] | None) -> None:
        """Tag the experiment so the MLflow UI opens on its runs table (:mod:`opt.tracking.ui_view`); also
        an experiment made before opt tagged them."""
        for key, value in experiment_ui_tags(experiment_id, dict(tags or {})).items():
            retry_locked(partial(self.client.set_experiment_tag, experiment_id, key, value))

    def start_run(self, *, name: str, tags: Mapping[str, str], parent_run_id: str | None = None) -> str:
        """Create a RUNNING run (nested under ``parent_run_id`` when given); return its id."""
        all_tags = dict(tags)
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = retry_locked(lambda: self.client.create_run(self.experiment_id, run_name=name, tags=all_tags))
        return run.info.run_id

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        step: int = 0,
        step_metrics: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        """Log params, metrics and tags in one batch (values stringified; None params skipped).

        ``step_metrics`` maps a metric name to its values at steps 0, 1, ... (e.g. per fold).
        """
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        p = [Param(k, str(v)[:PARAM_VALUE_MAX]) for k, v in (params or {}).items() if v is not None]
        m = [Metric(k, float(v), now, step) for k, v in (metrics or {}).items()]
        m += [Metric(k, float(v), now, i) for k, vs in (step_metrics or {}).items() for i, v in enumerate(vs)]
        t = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        # MLflow's batch limits: 100 params and 100 tags per call, 1000 entities in all
        chunks = max(1, -(-len(p) // 100), -(-len(t) // 100), -(-len(m) // 500))
        for i in range(chunks):
            retry_locked(partial(self.client.log_batch, run_id, metrics=m[i * 500 : (i + 1) * 500],
                                 params=p[i * 100 : (i + 1) * 100], tags=t[i * 100 : (i + 1) * 100]))

    def log_artifact(self, run_id: str, path: str | Path) -> None:
        """Copy one file into the run's artifacts (top level)."""
        retry_locked(lambda: self.client.log_artifact(run_id, str(path)))

    def log_artifacts(self, run_id: str, folder: str | Path, artifact_path: str | None = None) -> None:
        """Copy every file under ``folder`` into the run's artifacts."""
        retry_locked(lambda: self.client.log_artifacts(run_id, str(folder), artifact_path))

    def log_input(self, run_id: str, *, name: str, digest: str, source: str, profile: Mapping[str, Any],
                  context: str = "search") -> None:
        """Record the dataset a run used as an MLflow run input (the run's "Datasets used" in the UI).

        Args:
            run_id: the run.
            name: the dataset's name (e.g. the data file's name).
            digest: its fingerprint (:func:`opt.data` fingerprint, hex); the UI shows the first characters.
            source: where it is (a path or URL; a password in a URL is masked here).
            profile: small facts shown with it (bars, first and last bar, ...), stored as JSON.
            context: the input's role, shown as a tag (``search``, ``test``).
        """
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=name, digest=digest[:36], source_type=source.split("://")[0] if "://" in source else "local",
                          source=json.dumps({"uri": mask_url(source)}), profile=json.dumps(dict(profile), default=str))
        inputs = [DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value=context)])]
        retry_locked(lambda: self.client.log_inputs(run_id, datasets=inputs))

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Close a run with status FINISHED, FAILED or KILLED."""
        retry_locked(lambda: self.client.set_terminated(run_id, status=status))

    def running_runs(self, tags: Mapping[str, str]) -> list[Any]:
        """Runs of this experiment still RUNNING whose tags include ``tags`` (at most 1,000)."""
        where = " and ".join(["attributes.status = 'RUNNING'",
                              *(f"tags.`{k}` = '{v}'" for k, v in tags.items())])
        return list(retry_locked(lambda: self.client.search_runs([self.experiment_id], filter_string=where,
                                                                  max_results=1000)))

    def run_status(self, run_id: str) -> str:
        """The status of a run: RUNNING, FINISHED, FAILED or KILLED."""
        return str(retry_locked(lambda: self.client.get_run(run_id)).info.status)
