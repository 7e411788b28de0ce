"""MLflow tracking: parent/child runs, batched params and metrics, artifacts."""

from opt.tracking.mlflow_tracker import Tracker

__all__ = ["Tracker"]
