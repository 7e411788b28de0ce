"""The registered champion in the look-ahead check: its probabilities and signals up to the cut.

The champion (``models:/<promote.model_name>@<promote.alias>``, name from
:func:`opt.promote.command.model_name`) is loaded with :func:`mlflow.pyfunc.load_model`; its
:class:`opt.promote.policy.SignalPolicy` is what ``predict`` runs. For a set of bars the audit takes

- the classifier's P(BREAK), P(BOUNCE), P(CHOP) of every event of the champion's own geometry
  (``keep_unlabelled=True``, as ``predict`` builds them), and
- the signals ``policy.signals(bars)`` (= ``predict``): call, probability, entry, stop, take-profit, ...

and :func:`compare_champion` compares those with bar ``<= t`` between all bars and the cut data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.audit._lookahead import Raw, agree
from opt.errors import ConfigError, OptError

__all__ = ["Champion", "ChampionOutputs", "champion_outputs", "compare_champion", "compare_signals",
           "find_champion"]

_PROBA = ("p_break", "p_bounce", "p_chop")


@dataclass(frozen=True, eq=False)
class Champion:
    """A loaded registered model.

    Attributes:
        uri: ``models:/<name>@<alias>``; ``version`` the registered version it resolves to.
        policy: the model's :class:`opt.promote.policy.SignalPolicy`.
    """

    uri: str
    version: str
    policy: Any


@dataclass(frozen=True, eq=False)
class ChampionOutputs:
    """What the champion makes of one set of bars.

    Attributes:
        events: one row per event of its geometry: ``bar``, ``level_name``, ``p_break``, ``p_bounce``,
            ``p_chop`` (float64).
        signals: ``policy.signals(bars)`` (columns :data:`opt.promote.policy.SIGNAL_COLUMNS`).
    """

    events: pd.DataFrame
    signals: pd.DataFrame


def _registry_uri(cfg: DictConfig) -> str | None:
    """The tracking URI as opt opens it (a SQLite path made absolute), or None when it names a SQLite file
    that does not exist (nothing was ever tracked there).

    Raises:
        ConfigError: a tracking server that does not answer (:func:`opt.stores.check_tracking_server`).
    """
    from opt.stores import check_tracking_server, sqlalchemy_url
    from opt.tracking.mlflow_tracker import sqlite_path

    uri = str(cfg.tracking.uri)
    db = sqlite_path(uri)
    if db is not None:
        if not db.is_file():
            return None
        uri = f"sqlite:///{db.resolve()}"
    check_tracking_server(uri)
    return sqlalchemy_url(uri)


def find_champion(cfg: DictConfig, mode: str | bool) -> Champion | None:
    """Load the champion of this study (``audit.champion``: ``auto``, true or false).

    Args:
        cfg: the composed config (``tracking.uri``, ``promote.model_name``/``alias``, ``search.study_name``).
        mode: ``auto`` (the champion when the registry has one, else None), True (required) or False (None).

    Returns:
        The loaded :class:`Champion`, or None.

    Raises:
        OptError: ``mode`` is True and there is no such registered model, or its tracking server does not
            answer; or the registered model cannot be loaded.
    """
    if mode is False:
        return None
    from opt.promote.command import model_name

    name, alias = model_name(cfg), str(cfg.promote.alias)
    try:
        uri = _registry_uri(cfg)
    except ConfigError:
        if mode is True:
            raise
        return None  # auto: a server that does not answer has no champion to check
    if uri is None:
        if mode is True:
            raise OptError(f"audit.champion=true: no MLflow store at tracking.uri={cfg.tracking.uri} (nothing "
                           "promoted yet); run `python -m opt promote` first or set audit.champion=auto")
        return None
    import mlflow
    from mlflow.tracking import MlflowClient

    try:
        version = MlflowClient(tracking_uri=uri).get_model_version_by_alias(name, alias)
    except Exception as exc:  # noqa: BLE001 - no such model or alias
        if mode is True:
            raise OptError(f"audit.champion=true: no registered model {name}@{alias} in tracking.uri="
                           f"{cfg.tracking.uri} ({str(exc).splitlines()[0]}); promote one first "
                           "(`python -m opt promote`) or set audit.champion=auto") from None
        return None
    mlflow.set_tracking_uri(uri)
    model_uri = f"models:/{name}@{alias}"
    try:
        policy = mlflow.pyfunc.load_model(model_uri).unwrap_python_model().policy
    except Exception as exc:  # noqa: BLE001 - a model opt cannot read is the user's to fix
        raise OptError(f"cannot load {model_uri} ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return Champion(uri=model_uri, version=str(version.version), policy=policy)


def champion_outputs(policy: Any, bars: pd.DataFrame) -> ChampionOutputs:
    """The champion's per-event probabilities and its signals on ``bars`` (module docstring).

    Args:
        policy: a :class:`opt.promote.policy.SignalPolicy`.
        bars: validated 1-minute bars ``(n,)``, RangeIndex.

    Returns:
        The :class:`ChampionOutputs`.

    Raises:
        ConfigError: the champion's config does not build (e.g. a custom feature that cannot be imported here).
    """
    from opt.dataset import build_context, build_event_dataset
    from opt.models.fitting import model_input

    try:
        ctx = build_context(bars, policy.cfg)
        ds = build_event_dataset(ctx, policy.cfg, keep_unlabelled=True)
    except ConfigError as exc:
        raise ConfigError(f"the champion's config: {exc}") from None
    proba = (policy.model.predict_proba(model_input(ds, ctx, np.arange(len(ds)))) if len(ds)
             else np.zeros((0, 3)))
    events = pd.DataFrame({"bar": ds.events["bar"].to_numpy(np.int64), "level_name": ds.events["level_name"],
                           **{p: np.asarray(proba, dtype=np.float64)[:, k] for k, p in enumerate(_PROBA)}})
    return ChampionOutputs(events=events, signals=policy.signals(bars))


def compare_signals(full: pd.DataFrame, other: pd.DataFrame, t: int, *, tolerance: float) -> list[Raw]:
    """Signals with bar ``<= t`` of all bars (``full``) and of the cut data (``other``).

    Rows are matched on ``bar`` and ``direction`` (one order per bar and direction). A signal on one side
    only is a difference (column ``signal``), and so is any other column that differs (floats with
    :func:`opt.audit._lookahead.agree`'s ``tolerance``, the rest exactly).

    Args:
        full, other: signal frames (:data:`opt.promote.policy.SIGNAL_COLUMNS`).
        t: the cut bar.
        tolerance: float tolerance.

    Returns:
        ``("champion", column, bar, full value, other value)``, the earliest bar per column.
    """
    def upto(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["bar"].to_numpy() <= t].reset_index(drop=True)

    a, b = upto(full), upto(other)
    m = a.reset_index().merge(b.reset_index(), on=["bar", "direction"], how="outer", suffixes=("_f", "_o"),
                              sort=True)
    out: list[Raw] = []
    lone = m["index_f"].isna() | m["index_o"].isna()
    if lone.any():
        row = m[lone].iloc[0]
        where = ("present", "absent") if pd.notna(row["index_f"]) else ("absent", "present")
        out.append(("champion", "signal", int(row["bar"]), *where))
    both = m[~lone]
    for col in (c for c in a.columns if c not in ("bar", "direction")):
        x, y = both[f"{col}_f"].to_numpy(), both[f"{col}_o"].to_numpy()
        if x.dtype.kind not in "fiub":
            x, y = x.astype(str), y.astype(str)
        bad = np.flatnonzero(~agree(x, y, tolerance=tolerance))
        if bad.size:
            i = int(bad[0])
            out.append(("champion", f"signal.{col}", int(both["bar"].iloc[i]), x[i], y[i]))
    return out


def compare_champion(full: ChampionOutputs, other: ChampionOutputs, t: int, *, tolerance: float) -> list[Raw]:
    """Probabilities of the champion's events and its signals with bar ``<= t`` (module docstring).

    Returns:
        ``("champion", column, bar, full, other)``: ``event`` for an event on one side only,
        ``p_break``/``p_bounce``/``p_chop`` for a probability, ``signal...`` from :func:`compare_signals`.
    """
    def upto(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["bar"].to_numpy() <= t]

    m = upto(full.events).merge(upto(other.events), on=["bar", "level_name"], how="outer", suffixes=("_f", "_o"),
                                indicator=True, sort=True)
    out: list[Raw] = []
    lone = m[m["_merge"] != "both"]
    if len(lone):
        row = lone.iloc[0]
        where = ("present", "absent") if row["_merge"] == "left_only" else ("absent", "present")
        out.append(("champion", f"event {row['level_name']}", int(row["bar"]), *where))
    both = m[m["_merge"] == "both"]
    for p in _PROBA:
        x, y = both[f"{p}_f"].to_numpy(np.float64), both[f"{p}_o"].to_numpy(np.float64)
        bad = np.flatnonzero(~agree(x, y, tolerance=tolerance))
        if bad.size:
            i = int(bad[0])
            out.append(("champion", p, int(both["bar"].iloc[i]), x[i], y[i]))
    return out + compare_signals(full.signals, other.signals, t, tolerance=tolerance)
