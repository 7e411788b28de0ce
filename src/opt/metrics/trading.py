"""Stage-2 bracket metrics (DESIGN §7): PnL, win and target-hit rates, expectancy, profit factor, drawdown, Sharpe.

Inputs are per-trade arrays plus the calendar of trading days of the evaluated span, so that days
without a trade count as zero PnL in the Sharpe ratio. Equity and drawdown follow exit order (DESIGN §8):
callers holding trades in signal order (overlapping positions with ``max_positions > 1``) pass each
trade's exit bar and :func:`trading_metrics` reorders by it (:func:`exit_order`).
"""

from __future__ import annotations

import numpy as np

from opt.schema import TRADING_DAYS_PER_YEAR

__all__ = ["PROFIT_FACTOR_CAP", "equity_curve", "drawdown_curve", "daily_pnl", "exit_order", "trading_metrics"]

PROFIT_FACTOR_CAP = 100.0
"""Largest reported profit factor: keeps a run with profits and (almost) no losses finite and sortable."""


def equity_curve(pnl: np.ndarray) -> np.ndarray:
    """Cumulative PnL after each trade, starting from 0.

    Args:
        pnl: Net PnL per trade in currency, shape ``(n_trades,)``, in trade order.

    Returns:
        Equity in currency, shape ``(n_trades + 1,)``; element 0 is the starting 0.0.
    """
    pnl = np.asarray(pnl, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(pnl)])


def drawdown_curve(equity: np.ndarray) -> np.ndarray:
    """Fall of the equity below its running peak (``running_max(equity) - equity``).

    Args:
        equity: Equity curve, shape ``(n,)`` (e.g. from :func:`equity_curve`).

    Returns:
        Drawdown in the same unit, shape ``(n,)``, non-negative.
    """
    equity = np.asarray(equity, dtype=np.float64)
    return np.maximum.accumulate(equity) - equity if equity.size else equity


def exit_order(exit_bar: np.ndarray) -> np.ndarray:
    """Positions that put trades in exit order: by exit bar, ties in their given order (stable sort).

    Args:
        exit_bar: Exit bar of each trade, int64, shape ``(n_trades,)``.

    Returns:
        int64 indices, shape ``(n_trades,)``.
    """
    return np.argsort(np.asarray(exit_bar, dtype=np.int64), kind="stable")


def daily_pnl(pnl: np.ndarray, exit_day: np.ndarray, trading_days: np.ndarray) -> np.ndarray:
    """PnL summed per trading day of exit, with 0 on the days without a trade.

    Args:
        pnl: Net PnL per trade in currency, shape ``(n_trades,)``.
        exit_day: Trading day of each exit (any int64 day code), shape ``(n_trades,)``.
        trading_days: Trading days of the evaluated span, int64; duplicates are allowed (a per-bar day
            array works) and are collapsed with :func:`numpy.unique`.

    Returns:
        Daily PnL, shape ``(n_days,)``, in ascending day order.

    Raises:
        ValueError: Mismatched shapes, or an exit day that is not in ``trading_days``.
    """
    pnl = np.asarray(pnl, dtype=np.float64)
    exit_day = np.asarray(exit_day, dtype=np.int64)
    if pnl.shape != exit_day.shape or pnl.ndim != 1:
        raise ValueError(
            f"pnl and exit_day must have the same shape (n_trades,), got {pnl.shape}, {exit_day.shape}"
        )
    days = np.unique(np.asarray(trading_days, dtype=np.int64))
    pos = np.searchsorted(days, exit_day)
    found = np.zeros(exit_day.shape, dtype=bool)
    inside = pos < days.size
    found[inside] = days[pos[inside]] == exit_day[inside]
    bad = ~found
    if bad.any():
        raise ValueError(f"exit days not among trading_days: {np.unique(exit_day[bad])[:5].tolist()}")
    return np.bincount(pos, weights=pnl, minlength=days.size).astype(np.float64)


def _profit_factor(pnl: np.ndarray) -> float:
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    if gross_profit == 0.0:
        return 0.0
    if gross_loss == 0.0:
        return PROFIT_FACTOR_CAP
    return min(gross_profit / gross_loss, PROFIT_FACTOR_CAP)


def _annualized_sharpe(daily: np.ndarray, periods_per_year: int) -> float:
    if daily.size < 2 or np.ptp(daily) == 0:
        return 0.0
    return float(daily.mean() / daily.std(ddof=1) * np.sqrt(periods_per_year))


def trading_metrics(
    *,
    pnl: np.ndarray,
    r_multiple: np.ndarray,
    hit_target: np.ndarray,
    exit_day: np.ndarray,
    trading_days: np.ndarray,
    exit_bar: np.ndarray | None = None,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> dict[str, float]:
    """Bracket-trading metrics of DESIGN §7, all finite floats.

    - ``net_pnl``: sum of ``pnl``.
    - ``n_trades``: number of trades.
    - ``win_rate``: share of trades with net PnL > 0, after costs (``0.0`` without trades).
    - ``target_hit_rate``: share of trades that exited at take-profit (``0.0`` without trades); differs
      from ``win_rate`` when a stop or time exit makes money or a take-profit does not cover costs.
    - ``expectancy_r``: mean of ``r_multiple`` (``0.0`` without trades).
    - ``profit_factor``: gross profit / gross loss, capped at :data:`PROFIT_FACTOR_CAP`; the cap when
      there is profit and no loss; ``0.0`` when there is no profit (including no trades).
    - ``max_drawdown``: largest peak-to-trough fall of :func:`equity_curve` in exit order (starts at 0,
      so a first losing trade is a drawdown), positive currency.
    - ``sharpe``: ``sqrt(periods_per_year) * mean / std(ddof=1)`` of :func:`daily_pnl` over all trading
      days (Sharpe 1994, annualized as in Lo 2002 for iid returns); ``0.0`` with fewer than 2 days or
      constant daily PnL.

    Args:
        pnl: Net PnL per trade in currency (after commission and slippage), shape ``(n_trades,)``; in
            exit order unless ``exit_bar`` is given.
        r_multiple: Result of each trade in R (1R = initial stop distance), shape ``(n_trades,)``.
        hit_target: Whether each trade exited at take-profit, bool, shape ``(n_trades,)``.
        exit_day: Trading day of each exit, int64, shape ``(n_trades,)``.
        trading_days: All trading days of the evaluated span, int64 (duplicates allowed).
        exit_bar: Exit bar of each trade, int64, shape ``(n_trades,)``: the equity curve (and so
            ``max_drawdown``) takes the trades by exit bar, ties in the given order, as
            :func:`opt.backtest.report.plot_equity` draws it. None: ``pnl`` is already in exit order.
        periods_per_year: Trading days per year for the annualization
            (:data:`opt.schema.TRADING_DAYS_PER_YEAR`).

    Raises:
        ValueError: Mismatched shapes or an exit day outside ``trading_days``.
    """
    pnl = np.asarray(pnl, dtype=np.float64)
    r_multiple = np.asarray(r_multiple, dtype=np.float64)
    hit_target = np.asarray(hit_target, dtype=bool)
    if not pnl.shape == r_multiple.shape == hit_target.shape:
        raise ValueError(
            f"pnl, r_multiple, hit_target shapes differ: {pnl.shape}, {r_multiple.shape}, {hit_target.shape}"
        )
    in_exit_order = pnl
    if exit_bar is not None:
        exit_bar = np.asarray(exit_bar, dtype=np.int64)
        if exit_bar.shape != pnl.shape:
            raise ValueError(f"exit_bar must have the shape of pnl {pnl.shape}, got {exit_bar.shape}")
        in_exit_order = pnl[exit_order(exit_bar)]
    n = pnl.size
    return {
        "net_pnl": float(pnl.sum()),
        "n_trades": float(n),
        "win_rate": float((pnl > 0).mean()) if n else 0.0,
        "target_hit_rate": float(hit_target.mean()) if n else 0.0,
        "expectancy_r": float(r_multiple.mean()) if n else 0.0,
        "profit_factor": _profit_factor(pnl),
        "max_drawdown": float(drawdown_curve(equity_curve(in_exit_order)).max()),
        "sharpe": _annualized_sharpe(daily_pnl(pnl, exit_day, trading_days), periods_per_year),
    }
