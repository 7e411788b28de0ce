"""The registered model: an MLflow pyfunc wrapping :class:`opt.promote.policy.SignalPolicy`.

``mlflow.pyfunc.load_model("models:/<name>@champion").predict(bars)`` takes a DataFrame of 1-minute
bars (``timestamp, open, high, low, close, volume``) and returns one row per signal
(:data:`opt.promote.policy.SIGNAL_COLUMNS`). The model is logged MLflow-3 style
(``mlflow.pyfunc.log_model(name=...)``) into the promote run, registered as a new version of the
registered model, tagged with its lineage, and the alias (``champion``) is moved to that version.
Loading it needs the ``opt`` package importable (the policy's code; the pickle holds the parameters
and the trained classifier).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from opt.promote.policy import SIGNAL_COLUMNS, SignalPolicy

__all__ = ["SignalModel", "signature", "log_and_register"]

#: MLflow types of the non-string signal columns
_OUTPUT_TYPES = {"timestamp": "datetime", "bar": "long", "level_price": "double", "direction": "long",
                 "probability": "double", "entry": "double", "stop": "double", "take_profit": "double",
                 "risk_points": "double", "expiry": "datetime", "max_hold_bars": "long"}


class SignalModel(PythonModel):
    """pyfunc wrapper: ``predict(context, bars) -> signals`` (see :meth:`SignalPolicy.signals`)."""

    def __init__(self, policy: SignalPolicy) -> None:
        self.policy = policy

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Signals of the bars ``model_input`` (a DataFrame of 1-minute bars); ``params`` is unused.

        ``pd.DataFrame`` is a type hint MLflow accepts without inferring a schema from it; the schema
        is :func:`signature`.
        """
        return self.policy.signals(pd.DataFrame(model_input))


def signature() -> ModelSignature:
    """Input columns (bars) and output columns (signals) of the model, shown in the registry."""
    # MLflow's type enforcement refuses tz-aware timestamps and integer volumes (int64 -> double is not
    # "safe" to it), the bars' normal forms: the columns are named here and the policy checks the
    # values itself (opt.data.validate_bars, with a message naming the row and the rule)
    bars = Schema([ColSpec(AnyType(), c) for c in ("timestamp", "open", "high", "low", "close", "volume")])
    return ModelSignature(inputs=bars, outputs=Schema([ColSpec(_OUTPUT_TYPES.get(c, "string"), c)
                                                       for c in SIGNAL_COLUMNS]))


def _requirements() -> list[str]:
    out = []
    for dist in ("opt", "mlflow", "numpy", "pandas", "xgboost", "numba", "omegaconf", "scikit-learn"):
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(dist)
    return out


def log_and_register(policy: SignalPolicy, *, run_id: str, name: str, alias: str,
                     tags: Mapping[str, str], description: str) -> str:
    """Log ``policy`` as a pyfunc model in run ``run_id``, register it as ``name``, move ``alias`` to it.

    Args:
        policy: the promoted policy.
        run_id: the promote run (the model is logged there).
        name: registered model name.
        alias: alias moved to the new version (e.g. ``champion``).
        tags: version tags (lineage).
        description: version description.

    Returns:
        The new version number (string).
    """
    from mlflow.tracking import MlflowClient

    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example was not provided")  # the signature is given
        info = mlflow.pyfunc.log_model(name="model", python_model=SignalModel(policy), signature=signature(),
                                       pip_requirements=_requirements())
    version = mlflow.register_model(info.model_uri, name, tags=dict(tags))
    client = MlflowClient()
    client.update_model_version(name, version.version, description=description)
    client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)
