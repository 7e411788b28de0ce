"""The registered model: an MLflow pyfunc wrapping :class:`opt.promote.policy.SignalPolicy`.

``mlflow.pyfunc.load_model("models:/<name>@champion").predict(bars)`` takes a DataFrame of 1-minute
bars (``timestamp, open, high, low, close, volume``) and returns one row per signal
(:data:`opt.promote.policy.SIGNAL_COLUMNS`). The model is logged MLflow-3 style
(``mlflow.pyfunc.log_model(name=...)``) into the promote run, registered as a new version of the
registered model, tagged with its lineage, and the alias (``champion``) is moved to that version.

The model carries what it needs to load: the pickle holds the parameters and the trained classifier,
the ``opt`` package's source travels in the model's ``code/`` folder (``code_paths``; MLflow puts that
folder first on ``sys.path`` when it loads the model, so ``opt`` need not be installed), and its pip
requirements are PyPI distributions (MLflow, numpy, pandas, pyarrow, scipy, scikit-learn, xgboost,
numba, omegaconf, cloudpickle, plus torch for a CNN), pinned to the versions that logged it. So
``mlflow models serve -m models:/<name>@champion`` works from a fresh environment with only those.

``predict(bars, params={"tz": "America/Chicago"})`` reads naive timestamps in that zone (default: the
promoted config's ``data.tz``); the parameter is declared in the signature, so the scoring server
passes it from the request body's ``params``.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]  # MLflow's pickler, no stubs
import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import AnyType

import opt
from opt.data.validate import check_tz
from opt.errors import ConfigError, DataError
from opt.promote.policy import SIGNAL_COLUMNS, SignalPolicy

__all__ = ["TZ_PARAM", "SignalModel", "code_path", "signature", "log_and_register"]

#: MLflow types of the non-string signal columns
_OUTPUT_TYPES = {"timestamp": "datetime", "bar": "long", "level_price": "double", "direction": "long",
                 "probability": "double", "entry": "double", "stop": "double", "take_profit": "double",
                 "risk_points": "double", "expiry": "datetime", "max_hold_bars": "long",
                 "flatten_at": "datetime"}


#: distributions every model needs: what ``opt.promote.policy`` imports, and MLflow's pickle (cloudpickle);
#: a classifier whose pickle holds other libraries' objects (torch for the CNN) adds theirs
_REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost",
                 "numba", "omegaconf")

#: the ``params`` key of the zone of naive timestamps
TZ_PARAM = "tz"


class SignalModel(PythonModel):
    """pyfunc wrapper: ``predict(context, bars, params) -> signals`` (see :meth:`SignalPolicy.signals`)."""

    def __init__(self, policy: SignalPolicy) -> None:
        self.policy = policy

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Signals of the bars ``model_input`` (a DataFrame of 1-minute bars).

        ``params={"tz": "<IANA name>"}`` is the zone of naive timestamps (``None`` or absent: the
        promoted config's ``data.tz``). ``pd.DataFrame`` is a type hint MLflow accepts without inferring
        a schema from it; the schema is :func:`signature`.

        Raises:
            DataError: bars that break a rule of DESIGN §3, e.g. naive timestamps and no zone (the
                message then says to pass ``params={"tz": ...}``).
            ConfigError: ``params["tz"]`` is not a known time zone name.
        """
        tz = (params or {}).get(TZ_PARAM) or None
        if tz is not None:
            try:
                check_tz(str(tz))
            except ConfigError as e:
                raise ConfigError(f"predict params {{{TZ_PARAM!r}: {tz!r}}}: not a known IANA time zone name "
                                  "(e.g. America/Chicago, America/New_York, UTC)") from e
        try:
            return self.policy.signals(pd.DataFrame(model_input), tz=None if tz is None else str(tz))
        except DataError as e:
            if tz is not None or "no source timezone" not in str(e):
                raise
            raise DataError(f"{e}; to the registered model, give the zone of naive timestamps as "
                            f"params={{{TZ_PARAM!r}: 'America/Chicago'}} (served: \"params\": "
                            f"{{\"{TZ_PARAM}\": \"America/Chicago\"}} beside \"dataframe_split\")") from e


def signature(tz: str | None = None) -> ModelSignature:
    """Input columns (bars), output columns (signals) and the ``tz`` parameter (default ``tz``)."""
    # MLflow's type enforcement refuses tz-aware timestamps and integer volumes (int64 -> double is not
    # "safe" to it), the bars' normal forms: the columns are named here and the policy checks the
    # values itself (opt.data.validate_bars, with a message naming the row and the rule)
    bars = Schema([ColSpec(AnyType(), c) for c in ("timestamp", "open", "high", "low", "close", "volume")])
    return ModelSignature(inputs=bars, outputs=Schema([ColSpec(_OUTPUT_TYPES.get(c, "string"), c)
                                                       for c in SIGNAL_COLUMNS]),
                          params=ParamSchema([ParamSpec(TZ_PARAM, "string", tz)]))


def code_path() -> str:
    """The folder of the ``opt`` package, logged with the model (MLflow copies it without ``__pycache__``)."""
    return str(Path(opt.__file__).resolve().parent)


class _TypeRecorder(cloudpickle.Pickler):
    """MLflow's pickler, noting the module of every object's type (and of the classes and functions)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO())
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        self.modules.add(type(obj).__module__)
        if isinstance(obj, type) or callable(obj):
            self.modules.add(str(getattr(obj, "__module__", None) or "builtins"))
        return None


def _pickled_distributions(policy: SignalPolicy) -> list[str]:
    """The distributions whose objects the pickle of ``policy`` holds (``opt`` and the stdlib left out)."""
    recorder = _TypeRecorder()
    recorder.dump(policy)
    owners = metadata.packages_distributions()
    out: list[str] = []
    for top in sorted({m.split(".")[0] for m in recorder.modules}):
        if top in sys.stdlib_module_names or top in ("opt", "builtins"):
            continue
        dists = owners.get(top, [])
        dist = top if top in dists else (dists[0] if dists else None)
        if dist is not None and dist not in out:
            out.append(dist)
    return out


def _requirements(policy: SignalPolicy) -> list[str]:
    """Pinned PyPI requirements of the model (local version labels such as ``+cpu`` dropped)."""
    out = []
    for dist in dict.fromkeys([*_REQUIREMENTS, *_pickled_distributions(policy)]):
        try:
            out.append(f"{dist}=={metadata.version(dist).split('+')[0]}")
        except metadata.PackageNotFoundError:
            out.append(dist)
    return out


def log_and_register(policy: SignalPolicy, *, run_id: str, name: str, alias: str,
                     tags: Mapping[str, str], description: str, artifacts: Mapping[str, str] | None = None) -> str:
    """Log ``policy`` as a pyfunc model in run ``run_id``, register it as ``name``, move ``alias`` to it.

    Args:
        policy: the promoted policy.
        run_id: the promote run (the model is logged there).
        name: registered model name.
        alias: alias moved to the new version (e.g. ``champion``).
        tags: version tags (lineage).
        description: version description.
        artifacts: files that travel with the model (name -> local path; under the model's ``artifacts/``),
            e.g. the promotion's decision report.

    Returns:
        The new version number (string).
    """
    from mlflow.tracking import MlflowClient

    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example was not provided")  # the signature is given
        info = mlflow.pyfunc.log_model(name="model", python_model=SignalModel(policy),
                                       signature=signature(policy.cfg["data"]["tz"]),
                                       code_paths=[code_path()], pip_requirements=_requirements(policy),
                                       artifacts=dict(artifacts) if artifacts else None)
    version = mlflow.register_model(info.model_uri, name, tags=dict(tags))
    client = MlflowClient()
    client.update_model_version(name, version.version, description=description)
    client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)
