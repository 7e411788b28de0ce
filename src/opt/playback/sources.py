"""Where a playback comes from: a stage-2 trial's walk-forward, or the registered champion on any bars.

- :func:`trial_playback`: the trial's exact config and walk-forward trades are read from its MLflow run
  (:func:`opt.promote.study.trial_config`, :func:`opt.promote.study.trial_trades`); the search part's
  context and the trial's events are rebuilt with that config, and one span is played: the fold
  ``playback.fold`` (default: the fold with the best net PnL), or ``playback.start`` .. ``playback.end``.
- :func:`champion_playback`: ``models:/<name>@<promote.alias>`` (name as ``promote`` registers it) is
  loaded and unwrapped to its :class:`opt.promote.policy.SignalPolicy`; its classifier scores the
  events of the bars given (``data=...``) built with its own config, and its calls are traded by
  :func:`opt.backtest.evaluate_span`, as the backtest trades them.
"""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from opt.dataset import build_context, build_event_dataset
from opt.errors import StageError
from opt.playback._data import PlaybackData, playback_data
from opt.playback.spans import bar_span, fold_playback, score_span

__all__ = ["champion_playback", "trial_playback"]


def trial_playback(cfg: DictConfig) -> tuple[PlaybackData, str]:
    """The playback of a stage-2 trial (module docstring) and its file stem (``trial<N>_fold<F>``).

    Raises:
        StageError: no stage-2 study or trial, or the trial's run has no ``trades.parquet`` (kept only
            by the trials ``tracking.trial_artifacts`` names).
        ConfigError: bad ``playback`` keys, or an instrument other than the study's.
    """
    from opt.promote.study import trial_config, trial_trades
    from opt.schema import TrialAttr
    from opt.stages.market import prepare_market
    from opt.studies import open_study, pick_trial
    from opt.tracking import Tracker

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    pb = cfg.playback
    study = open_study(cfg, 2)
    trial = pick_trial(study, None if pb.trial is None else int(pb.trial), complete=True)
    client = Tracker(cfg).client
    run_id = str(trial.user_attrs[TrialAttr.MLFLOW_RUN_ID])
    tcfg = trial_config(cfg, client, run_id)
    trades = trial_trades(client, run_id)
    if trades is None:
        raise StageError(f"trial {trial.number} of {study.study_name} has no trades.parquet in MLflow run {run_id}: "
                         f"tracking.trial_artifacts={cfg.tracking.trial_artifacts} keeps them for the best trials only; "
                         "play the best trial (playback.trial=null) or another of the best")
    market = prepare_market(tcfg)
    ds = build_event_dataset(market.ctx, tcfg)
    title = f"{study.study_name} trial {trial.number}"
    note = f"walk-forward trades of MLflow run {run_id}; events and levels rebuilt with the trial's config"
    if pb.start is None and pb.end is None:
        data = fold_playback(tcfg, market.ctx, ds, trades, title=title, fold=pb.fold, notes=[note])
        fold = data.title.rsplit("fold ", 1)[-1]
        return data, f"trial{trial.number}_fold{fold}"
    start, end = bar_span(market.ctx, pb.start, pb.end)
    data = playback_data(market.ctx, tcfg, events=ds.events, trades=trades, start=start, end=end,
                         max_bars=int(pb.max_bars), margin_bars=int(pb.margin_bars),
                         title=f"{title}, {_span_text(market.ctx, start, end)}", notes=[note])
    return data, f"trial{trial.number}_span"


def _span_text(ctx: Any, start: int, end: int) -> str:
    import pandas as pd

    if end <= start:
        return "empty span"
    a, b = (pd.Timestamp(ctx.timestamps[i], tz="UTC").strftime("%Y-%m-%d %H:%M") for i in (start, end - 1))
    return f"{a} .. {b} UTC"


def _champion(cfg: DictConfig) -> tuple[Any, str, str]:
    """The champion's policy, its ``name@alias``, and its version (registry of ``tracking.uri``).

    Raises:
        StageError: no such registered model or alias.
    """
    import mlflow

    from opt.promote.command import model_name
    from opt.tracking import Tracker

    client = Tracker(cfg).client
    name, alias = model_name(cfg), str(cfg.promote.alias)
    try:
        version = str(client.get_model_version_by_alias(name, alias).version)
    except Exception as exc:  # noqa: BLE001 - a missing model or alias is a user error
        raise StageError(f"no registered model {name}@{alias} in {cfg.tracking.uri} ({str(exc).splitlines()[0][:200]}): "
                         "run python -m opt promote first, or set promote.model_name") from exc
    model = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    return model.unwrap_python_model().policy, f"{name}@{alias}", version


def champion_playback(cfg: DictConfig) -> tuple[PlaybackData, str]:
    """The playback of the registered champion on the bars of ``cfg.data`` (module docstring), and ``champion``.

    Raises:
        StageError: no champion registered.
        DataError, ConfigError: bad bars or ``playback`` keys.
    """
    from opt.data import load_bars_from_config

    policy, label, version = _champion(cfg)
    pcfg = cfg.copy()
    OmegaConf.set_struct(pcfg, False)
    for section, node in policy.cfg.items():
        if section != "data":
            pcfg[section] = node
    bars = load_bars_from_config(cfg)
    ctx = build_context(bars, pcfg)
    ds = build_event_dataset(ctx, pcfg)
    pb = cfg.playback
    start, end = bar_span(ctx, pb.start, pb.end)
    events, calls, trades = score_span(pcfg, ctx, ds, policy.model, start)
    notes = [f"{label} version {version} on {len(bars):,} bars ({cfg.data.source}); events with a complete label "
             f"window scored; its confident calls traded from bar {start} by the backtest's simulator"]
    data = playback_data(ctx, pcfg, events=events, trades=trades, calls=calls, start=start, end=end,
                         max_bars=int(pb.max_bars), margin_bars=int(pb.margin_bars),
                         title=f"champion {label} (version {version}), {_span_text(ctx, start, end)}", notes=notes)
    return data, "champion"
