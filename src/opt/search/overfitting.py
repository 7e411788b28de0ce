"""The study's probability of backtest overfitting as the search goes: PBO over the running top-K.

At the end of every stage-2 invocation the parent run gets the PBO by CSCV (Bailey, Borwein, Lopez de
Prado and Zhu, "The Probability of Backtest Overfitting", Journal of Computational Finance 20(4),
2017) of the K best COMPLETE trials so far (``promote.pbo.top_k``, best first objective), computed from
their walk-forward daily PnL (each trial run's ``daily_pnl.parquet``, kept for the study's best trials
by ``tracking.trial_artifacts=top``). Days missing from a trial's series count as 0 PnL (every trial of
a study walks the same folds, so that only happens when a fold was skipped). The same computation runs
in ``promote`` on the promoted trial's study (:mod:`opt.promote.guards`); here it tells the quant,
before any promotion, whether the search is fitting noise.
"""

from __future__ import annotations

import logging
import math
import tempfile
from typing import Any

import optuna
import pandas as pd

from opt.promote.guards import pbo
from opt.schema import TrialAttr
from opt.studies import ranked_trials
from opt.studies.selection import trials_tried

__all__ = ["DAILY_PNL_FILE", "RUNNING_PBO_ATTR", "running_pbo"]

log = logging.getLogger(__name__)

DAILY_PNL_FILE = "daily_pnl.parquet"
"""A stage-2 trial run's walk-forward daily PnL (:func:`opt.backtest.report.write_walk_forward`)."""
RUNNING_PBO_ATTR = "opt.running_pbo"
"""Study user attribute: the last :func:`running_pbo` result (NaN stored as None)."""


def _daily(client: Any, run_id: str) -> pd.Series | None:
    with tempfile.TemporaryDirectory(prefix="opt-daily-") as tmp:
        try:
            frame = pd.read_parquet(client.download_artifacts(run_id, DAILY_PNL_FILE, tmp))
        except Exception as exc:  # noqa: BLE001 - a run without the file (older, or not kept) is skipped
            log.debug("no %s for run %s (%s)", DAILY_PNL_FILE, run_id, str(exc).splitlines()[0][:200])
            return None
    return pd.Series(frame["daily_pnl"].to_numpy(float), index=frame["trading_day"].to_numpy())


def running_pbo(study: optuna.Study, client: Any, *, top_k: int, n_splits: int) -> dict[str, float]:
    """PBO over the ``top_k`` best COMPLETE trials of ``study`` (module docstring).

    Args:
        study: a stage-2 study.
        client: an ``MlflowClient`` of the study's tracking store.
        top_k: trials K in the CSCV matrix (best first).
        n_splits: CSCV blocks S at most.

    Returns:
        :func:`opt.promote.guards.pbo`'s metrics (``pbo`` NaN with fewer than 2 trials that have daily
        PnL) plus ``n_trials_tried`` (configurations this study tried).
    """
    columns: dict[str, pd.Series] = {}
    for t in ranked_trials(study, (optuna.trial.TrialState.COMPLETE,))[: int(top_k)]:
        run_id = t.user_attrs.get(TrialAttr.MLFLOW_RUN_ID)
        series = _daily(client, str(run_id)) if run_id else None
        if series is not None:
            columns[f"trial_{t.number}"] = series
    if columns:
        matrix = pd.DataFrame(columns).sort_index().fillna(0.0).to_numpy()
        out = pbo(matrix, max_splits=int(n_splits))
    else:
        out = {"pbo": math.nan, "pbo_trials": 0.0, "pbo_days": 0.0, "pbo_splits": 0.0}
    return {**out, "n_trials_tried": float(trials_tried(study))}
