"""User feature functions (``features.custom``): per-bar columns read at the touch bar (DESIGN §6).

Each entry of ``features.custom`` is a Hydra ``_target_`` node naming a callable
``fn(bars: pd.DataFrame, **kwargs) -> pd.DataFrame`` (the node's other keys are the kwargs, built with
:func:`hydra.utils.instantiate` and ``_partial_``). ``bars`` is a copy of the study's 1-minute bars
(``timestamp`` UTC, ``open``, ``high``, ``low``, ``close``, ``volume``; RangeIndex); the function returns
one row per bar with the same index and numeric columns. Column ``c`` becomes feature ``custom_<c>``,
its value at an event being the row of the touch bar u; NaN becomes 0 (as for the built-in features).

A custom feature must read bars ``<= t`` for its row t (no ``shift(-k)``, no centred windows, no
statistics of the whole series): ``python -m opt audit`` recomputes it with the bars after t removed
or replaced and reports any row that changes.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from opt.errors import ConfigError

__all__ = ["CUSTOM_PREFIX", "custom_columns"]

#: prefix of the feature names of ``features.custom`` columns
CUSTOM_PREFIX = "custom_"


def _locate(target: str, where: str) -> Any:
    """The object at the dotted path ``target`` (module path, then attributes)."""
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # this prefix is no module: try a shorter one
            raise ConfigError(f"{where}: cannot import _target_ '{target}': {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the user's module fails on import: say which and why
            raise ConfigError(f"{where}: importing '{module_name}' for _target_ '{target}' failed: "
                              f"{type(exc).__name__}: {exc}") from None
        for name in parts[i:]:
            if not hasattr(obj, name):
                raise ConfigError(f"{where}: cannot import _target_ '{target}': module '{module_name}' has no "
                                  f"'{'.'.join(parts[i:])}'")
            obj = getattr(obj, name)
        return obj
    raise ConfigError(f"{where}: cannot import _target_ '{target}': no module '{parts[0]}' (the module must be "
                      "importable: in the working directory or an installed package)")


def _function(spec: Any, where: str) -> tuple[str, Any]:
    """``(target, fn)``: the checked ``_target_`` and the callable taking ``bars`` (kwargs bound)."""
    from hydra.utils import instantiate

    if not isinstance(spec, Mapping) or not isinstance(spec.get("_target_"), str) or not spec["_target_"]:
        raise ConfigError(f"{where} must be a node with a _target_ (the dotted path of fn(bars, **kwargs) -> "
                          f"DataFrame), got {spec!r}")
    target = str(spec["_target_"])
    located = _locate(target, where)
    if not callable(located):
        raise ConfigError(f"{where}: _target_ '{target}' is not callable")
    kwargs = {str(k): v for k, v in spec.items() if not str(k).startswith("_")}
    try:
        signature = inspect.signature(located)
    except (TypeError, ValueError):  # a builtin without a signature: the call says what is wrong
        signature = None
    if signature is not None:
        try:
            signature.bind(None, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"{where}: {target}(bars, **{sorted(kwargs)}) does not fit its signature "
                              f"{signature}: {exc}") from None
    try:
        fn = instantiate(spec, _partial_=True, _convert_="all")
    except Exception as exc:  # noqa: BLE001 - Hydra's message names the bad kwarg
        raise ConfigError(f"{where}: cannot build _target_ '{target}': {str(exc).splitlines()[0]}") from None
    return target, fn


def _frame(out: Any, bars: pd.DataFrame, target: str, where: str) -> pd.DataFrame:
    """The checked output of one function: a frame with one numeric row per bar, index = ``bars.index``."""
    if isinstance(out, pd.Series):
        out = out.to_frame(name=out.name if out.name is not None else target.rsplit(".", 1)[-1])
    if not isinstance(out, pd.DataFrame):
        raise ConfigError(f"{where} ({target}) returned {type(out).__name__}: it must return a pandas DataFrame "
                          "with one row per bar")
    if len(out) != len(bars):
        raise ConfigError(f"{where} ({target}) returned {len(out)} rows for {len(bars)} bars: it must return one "
                          "row per bar (same length and index as bars)")
    if not out.index.equals(bars.index):
        raise ConfigError(f"{where} ({target}) returned a frame whose index is not the bars' index (0 .. "
                          f"{len(bars) - 1}): keep the index of bars (no reset, sort or filter)")
    if out.shape[1] == 0:
        raise ConfigError(f"{where} ({target}) returned no columns")
    for col in out.columns:
        dtype = out[col].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise ConfigError(f"{where} ({target}) column '{col}' is {dtype}, not numeric: custom features must be "
                              "numbers (NaN allowed, read as 0)")
    return out


def custom_columns(bars: pd.DataFrame, specs: Sequence[Any]) -> dict[str, np.ndarray]:
    """Run the ``features.custom`` functions on ``bars`` and return their checked per-bar columns.

    Args:
        bars: ``(n,)`` 1-minute bars (``timestamp`` UTC, ``open``, ``high``, ``low``, ``close``, ``volume``),
            RangeIndex; each function gets a copy.
        specs: the ``features.custom`` entries, Hydra ``_target_`` nodes (mappings).

    Returns:
        Feature name (``custom_<column>``) -> float64 ``(n,)`` per-bar values, NaN kept (the feature
        build reads them at the touch bars and turns NaN into 0), in the order of ``specs`` and columns.

    Raises:
        ConfigError: naming ``features.custom[i]`` and the rule: an entry without ``_target_``, a target
            that cannot be imported or is not callable, bad kwargs, an output that is not a DataFrame (or
            Series) with one row per bar and the bars' index, a non-numeric or infinite value, or a column
            name that another entry already gave.
    """
    out: dict[str, np.ndarray] = {}
    for i, spec in enumerate(specs):
        where = f"features.custom[{i}]"
        target, fn = _function(spec, where)
        frame = _frame(fn(bars.copy()), bars, target, where)
        for col in frame.columns:
            name = f"{CUSTOM_PREFIX}{col}"
            if name in out:
                raise ConfigError(f"{where} ({target}) column '{col}' repeats feature '{name}' of an earlier "
                                  "features.custom entry: rename one")
            values = frame[col].to_numpy(np.float64, na_value=np.nan)
            bad = np.flatnonzero(np.isinf(values))
            if bad.size:
                raise ConfigError(f"{where} ({target}) column '{col}' is infinite at bar {int(bad[0])} "
                                  f"({bars['timestamp'].iloc[int(bad[0])]}): return NaN (read as 0) or a finite "
                                  "number")
            out[name] = values
    return out
