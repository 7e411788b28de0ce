"""opt: two-stage hyperparameter search for intraday futures level-touch research.

The package reads like the pipeline: ``data`` -> ``sessions``/``levels`` -> ``events`` (events and
labels) -> ``features`` -> ``dataset`` -> ``models`` -> ``brackets`` -> ``backtest`` -> ``metrics`` ->
``stages``/``studies``/``search`` -> ``tracking`` -> ``promote``; ``schema`` holds the shared codes and
keys. ``python -m opt run +stage=1`` is the main entry point (see :mod:`opt.cli`).
"""

from __future__ import annotations

import os

# MLflow sends usage telemetry by default; opt keeps it off unless the user opts in
# (tracking.telemetry=true or MLFLOW_DISABLE_TELEMETRY=false in the environment).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

__version__ = "0.1.0"
__all__ = ["__version__"]
