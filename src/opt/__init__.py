"""opt: two-stage hyperparameter search for intraday futures level-touch research.

The package reads like the pipeline: ``data`` -> ``sessions``/``levels`` -> ``events`` (events and
labels) -> ``features`` -> ``dataset`` -> ``models`` -> ``brackets`` -> ``backtest`` -> ``metrics`` ->
``stages``/``studies``/``search`` -> ``tracking`` -> ``promote``; ``schema`` holds the shared codes and
keys. ``python -m opt run +stage=1`` is the main entry point (see :mod:`opt.cli`).
"""

from __future__ import annotations

import os

# MLflow sends usage telemetry by default and decides when it is imported; opt keeps it off unless the
# user opts in (tracking.telemetry=true, applied by opt.secrets.apply_telemetry, or
# MLFLOW_DISABLE_TELEMETRY=false in the environment). The variables opt set itself are remembered, so
# tracking.telemetry=true can undo exactly those.
TELEMETRY_DEFAULTS = {k: "true" for k in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK") if k not in os.environ}
os.environ.update(TELEMETRY_DEFAULTS)

__version__ = "0.1.0"
__all__ = ["__version__"]
