"""Run the real CLI in a subprocess and read back the MLflow store it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STAGE1_METRICS = (
    "n_events", "events_per_day", "break_rate", "bounce_rate", "chop_rate", "knn5_purity", "silhouette",
    "precision_at_80", "coverage_at_80", "auc", "brier", "score",
)


def run_cli(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m opt ARGS`` in ``cwd``; returns the completed process (never raises on exit status)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, "-m", "opt", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def runs_of(workdir: Path, experiment: str) -> list:
    """All runs of ``experiment`` in ``workdir``'s MLflow store (parent and children)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} not in the store"
    return client.search_runs([exp.experiment_id], max_results=1000)
