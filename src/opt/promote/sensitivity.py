"""Sensitivity of the test-part ``net_pnl`` to one-step moves of each searched bracket parameter.

A configuration on a plateau keeps its result when a parameter moves a little; one on a spike (a
typical product of overfitting, cf. Bailey et al. 2017 on backtest overfitting) does not. Each bracket
parameter of the stage-2 search space is moved one step down and one step up, within its searched
range, and the test-part brackets are re-simulated with the SAME model probabilities:

- float: ``promote.sensitivity.float_step`` (default 10%) of the searched range; of the log range
  (a factor ``(high / low) ** float_step``) for log-scale ranges; the ``step`` for stepped ranges;
- int: its ``step`` (1 when none);
- categorical: the neighbouring choices in the declared order.

``plateau_score`` is the share of these neighbours whose ``net_pnl`` is at least
``base - keep_share x |base|`` (default: keeps half of the base result); 1 is a flat plateau.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from opt.backtest import atr_on, evaluate_span

__all__ = ["neighbours", "bracket_sensitivity", "plateau_score"]


def neighbours(dist: BaseDistribution, value: Any, *, float_step: float) -> list[tuple[int, Any]]:
    """One-step neighbours of ``value`` in ``dist``: ``[(-1, lower), (+1, upper)]``, dropping the sides
    that fall outside the range (module docstring for the step of each type)."""
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        i = choices.index(value)
        return [(s, choices[i + s]) for s in (-1, 1) if 0 <= i + s < len(choices)]
    if isinstance(dist, IntDistribution):
        step = int(dist.step or 1)
        return [(s, int(value) + s * step) for s in (-1, 1) if dist.low <= int(value) + s * step <= dist.high]
    if isinstance(dist, FloatDistribution):
        v = float(value)
        if dist.step is not None:
            moved = [v - dist.step, v + dist.step]
        elif dist.log:
            factor = (dist.high / dist.low) ** float_step
            moved = [v / factor, v * factor]
        else:
            width = float_step * (dist.high - dist.low)
            moved = [v - width, v + width]
        out = []
        for s, m in zip((-1, 1), moved, strict=True):
            m = min(max(m, dist.low), dist.high)
            if not math.isclose(m, v, rel_tol=1e-12, abs_tol=1e-12):
                out.append((s, m))
        return out
    raise TypeError(f"unsupported distribution {dist!r}")


class _FixedProba:
    """A classifier stand-in returning probabilities computed once (the same predictions every time)."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def fit(self, train: Any, y: np.ndarray, *, valid: Any = None, y_valid: np.ndarray | None = None,
            report: Any = None) -> _FixedProba:
        """Nothing to fit: the probabilities are fixed."""
        return self

    def predict_proba(self, data: Any) -> np.ndarray:
        """The fixed probabilities."""
        return self.proba


def bracket_sensitivity(cfg: DictConfig, ds: Any, ctx: Any, proba: np.ndarray, test: np.ndarray,
                        start_bar: int, distributions: dict[str, BaseDistribution], *,
                        float_step: float) -> pd.DataFrame:
    """Re-simulate the test part for every one-step move of every searched ``bracket.*`` parameter.

    Args:
        cfg: the promoted configuration.
        ds, ctx: event dataset and market context of all bars.
        proba: ``(len(test), 3)`` the model's probabilities for the test events.
        test: positions of the test events in ``ds``.
        start_bar: first bar of the test part (trades run to the last bar).
        distributions: the promoted trial's Optuna distributions (searched ranges), by parameter name.
        float_step: share of a float range per step.

    Returns:
        One row per neighbour: ``param``, ``value`` (the trial's), ``side`` (-1/+1), ``neighbour``,
        ``net_pnl``, ``n_trades``, ``sharpe``.
    """
    model = _FixedProba(proba)
    cache: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for name, dist in distributions.items():
        if not name.startswith("bracket."):
            continue
        value = OmegaConf.select(cfg, name)
        for side, moved in neighbours(dist, value, float_step=float_step):
            moved_cfg = cfg.copy()
            OmegaConf.update(moved_cfg, name, moved, merge=False)
            atr = atr_on(cache, ctx, int(moved_cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
            m = evaluate_span(moved_cfg, ds, ctx, atr, model, test, start_bar, ctx.n_bars).metrics
            rows.append({"param": name, "value": value, "side": side, "neighbour": moved,
                         "net_pnl": m["net_pnl"], "n_trades": m["n_trades"], "sharpe": m["sharpe"]})
    return pd.DataFrame(rows, columns=["param", "value", "side", "neighbour", "net_pnl", "n_trades", "sharpe"])


def plateau_score(table: pd.DataFrame, base_net_pnl: float, *, keep_share: float) -> dict[str, float]:
    """``plateau_score`` (module docstring), ``sensitivity_worst_net_pnl`` and ``sensitivity_neighbours``.

    NaN score and worst value when there is no neighbour.
    """
    if table.empty:
        return {"plateau_score": math.nan, "sensitivity_worst_net_pnl": math.nan, "sensitivity_neighbours": 0.0}
    floor = base_net_pnl - keep_share * abs(base_net_pnl)
    pnl = table["net_pnl"].to_numpy(float)
    return {"plateau_score": float(np.mean(pnl >= floor - 1e-9)), "sensitivity_worst_net_pnl": float(pnl.min()),
            "sensitivity_neighbours": float(len(pnl))}
