"""Cost stress: the champion's test part evaluated again with harsher costs, beside the base case.

Live fills are rarely as kind as a backtest's. Every promotion re-evaluates the test part with the same
model, probabilities, calls and brackets, but commission multiplied by ``promote.cost_stress.
commission_factor`` (default x2) and ``promote.cost_stress.slippage_ticks_added`` more ticks of slippage
on every market fill (default +1 tick; the bracket simulator applies slippage to market entries, stops,
time and end exits, DESIGN §8). The stressed metrics are promote metrics named ``stress_<metric>``
(``stress_net_pnl``, ``stress_sharpe``, ...), so a gate can read them (``promote.gates.min_stress_net_pnl``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.backtest.evaluate import evaluate_span
from opt.errors import ConfigError

if TYPE_CHECKING:
    from opt.promote.retrain import Retrained

__all__ = ["STRESS_KEYS", "stressed_config", "cost_stress"]

#: test metrics repeated under stress (``stress_<key>``) and shown side by side in the report
STRESS_KEYS = ("n_trades", "net_pnl", "sharpe", "max_drawdown", "expectancy_r", "win_rate", "profit_factor")


def stressed_config(cfg: DictConfig, *, commission_factor: float, slippage_ticks_added: float) -> DictConfig:
    """``cfg`` with ``instrument.commission`` x ``commission_factor`` and ``bracket.slippage_ticks`` + ``slippage_ticks_added``.

    Raises:
        ConfigError: a factor below 1 or negative added ticks (a stress test may not make costs kinder).
    """
    if not commission_factor >= 1.0:
        raise ConfigError(f"promote.cost_stress.commission_factor={commission_factor} must be >= 1 (a multiple of "
                          "the commission)")
    if not slippage_ticks_added >= 0.0:
        raise ConfigError(f"promote.cost_stress.slippage_ticks_added={slippage_ticks_added} must be >= 0 ticks")
    out = cfg.copy()
    OmegaConf.update(out, "instrument.commission", float(cfg.instrument.commission) * commission_factor, merge=False)
    OmegaConf.update(out, "bracket.slippage_ticks", float(cfg.bracket.slippage_ticks) + slippage_ticks_added,
                     merge=False)
    return out


def cost_stress(r: Retrained, *, commission_factor: float, slippage_ticks_added: float
                ) -> tuple[dict[str, float], pd.DataFrame]:
    """Evaluate ``r``'s test part under stressed costs.

    Args:
        r: the retrained champion with its base test evaluation.
        commission_factor: commission multiple (>= 1).
        slippage_ticks_added: extra slippage per market fill, ticks (>= 0).

    Returns:
        ``(metrics, table)``: ``stress_<key>`` for :data:`STRESS_KEYS` plus ``stress_net_pnl_change``
        (stressed - base net PnL, currency); the table has one row per case (``base``, ``stressed``) with
        ``case``, ``commission`` (currency per contract per side), ``slippage_ticks`` and :data:`STRESS_KEYS`.

    Raises:
        ConfigError: see :func:`stressed_config`.
    """
    cfg = stressed_config(r.cfg, commission_factor=commission_factor, slippage_ticks_added=slippage_ticks_added)
    span = evaluate_span(cfg, r.ds, r.ctx, r.atr, r.model, r.test, r.test_start, r.ctx.n_bars)
    base = r.result.metrics
    metrics = {f"stress_{k}": float(span.metrics.get(k, float("nan"))) for k in STRESS_KEYS}
    metrics["stress_net_pnl_change"] = metrics["stress_net_pnl"] - float(base.get("net_pnl", float("nan")))
    rows = [{"case": "base", "commission": float(r.cfg.instrument.commission),
             "slippage_ticks": float(r.cfg.bracket.slippage_ticks), **{k: float(base.get(k, float("nan")))
                                                                        for k in STRESS_KEYS}},
            {"case": "stressed", "commission": float(cfg.instrument.commission),
             "slippage_ticks": float(cfg.bracket.slippage_ticks), **{k: metrics[f"stress_{k}"] for k in STRESS_KEYS}}]
    return metrics, pd.DataFrame(rows)
