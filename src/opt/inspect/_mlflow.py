"""Reading the MLflow store for ``show`` and ``ui`` (read only: nothing is created)."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any
from urllib.parse import unquote, urlparse

from omegaconf import DictConfig

from opt.errors import StageError
from opt.secrets import mask_url
from opt.tracking.mlflow_tracker import sqlite_path

__all__ = ["store_uri", "open_client", "run_detail", "PER_FOLD"]

PER_FOLD = "per_fold.csv"  # a stage-2 trial's walk-forward metrics, one row per fold (opt.backtest.report)

log = logging.getLogger(__name__)


def store_uri(cfg: DictConfig) -> str:
    """``tracking.uri``, checked to exist when it is a SQLite file.

    Raises:
        StageError: the SQLite store does not exist yet (no run was tracked there).
    """
    uri = str(cfg.tracking.uri)
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        raise StageError(f"no MLflow store at {db} (tracking.uri={mask_url(uri)}): run a stage first, or pass "
                         "tracking.uri=... / run from the directory that holds mlruns/")
    return uri


def open_client(cfg: DictConfig) -> Any:
    """An :class:`mlflow.tracking.MlflowClient` on :func:`store_uri` (telemetry off unless enabled)."""
    if not cfg.tracking.telemetry:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store_uri(cfg))


def _local(uri: str) -> str:
    """``file:///a/b`` -> ``/a/b``; other URIs unchanged."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _artifacts(client: Any, run_id: str, path: str | None = None) -> list[str]:
    out: list[str] = []
    for item in client.list_artifacts(run_id, path):
        out.extend(_artifacts(client, run_id, item.path) if item.is_dir else [item.path])
    return out


def _per_fold(client: Any, run_id: str) -> dict[str, dict[int, float]]:
    """``{metric: {fold: value}}`` from the run's ``per_fold.csv`` (a stage-2 trial's walk-forward table)."""
    import pandas as pd

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # not in show's output
    with tempfile.TemporaryDirectory(prefix="opt-show-") as tmp:
        try:
            table = pd.read_csv(client.download_artifacts(run_id, PER_FOLD, tmp))
        except Exception as exc:  # noqa: BLE001 - an unreadable table is shown as missing, not fatal
            log.warning("%s of MLflow run %s not readable: %s", PER_FOLD, run_id, str(exc).splitlines()[0][:200])
            return {}
    folds = table.pop("fold").astype(int).tolist() if "fold" in table else list(range(len(table)))
    return {str(c): {f: float(v) for f, v in zip(folds, table[c], strict=True)} for c in table.columns}


def run_detail(client: Any, run_id: str) -> dict[str, Any]:
    """Status, metrics, per-fold histories and artifact locations of MLflow run ``run_id``.

    Returns:
        ``run_status``, ``metrics`` (latest values, ``fold_*`` excluded), ``folds``
        (``{metric: {fold: value}}`` from the run's ``per_fold.csv``, or for runs logged before it the
        ``fold_<metric>`` histories, step = fold),
        ``artifact_uri`` (a local path for file stores) and ``artifacts`` (full locations);
        ``{}`` when the run cannot be read.
    """
    try:
        run = client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - a missing run is shown as missing, not fatal
        log.warning("MLflow run %s not readable: %s", run_id, str(exc).splitlines()[0][:200])
        return {}
    artifacts = _artifacts(client, run_id)
    folds = _per_fold(client, run_id) if PER_FOLD in artifacts else {}
    for key in sorted(k for k in run.data.metrics if k.startswith("fold_")):  # runs logged before per_fold.csv
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        folds.setdefault(key[len("fold_"):], {int(m.step): float(m.value) for m in history})
    root = _local(run.info.artifact_uri)
    return {
        "run_status": run.info.status,
        "metrics": {k: v for k, v in run.data.metrics.items() if not k.startswith("fold_")},
        "folds": folds,
        "artifact_uri": root,
        "artifacts": [f"{root}/{p}" for p in artifacts],
        "tags": {k: v for k, v in run.data.tags.items() if k.startswith("opt.")},
    }
