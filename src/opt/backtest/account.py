"""Prop-firm account rules applied to a trade sequence (DESIGN §10: ``account_*`` metrics).

A funded-account evaluation ("$50k account, $2k trailing max drawdown, $300 risk") is not a metric of
net PnL: position size follows the account, and one bad day ends it. :func:`simulate_account` replays
the trades in exit order on such an account (config group ``account``, :class:`AccountRules`):

- **risk** (currency per 1R) of a trade is ``min(max_risk, risk_per_trade + risk_step x
  floor(max(0, B - start_balance) / step_every))``, where ``B`` is the balance after every taken trade
  that exited on a bar before the trade's entry bar (what is known when it is placed; with one position
  at a time that is the balance after the previous trade). ``risk_step = 0`` keeps the risk fixed.
- **PnL** of a trade is ``r_multiple x risk``: position size scales with risk, so the input is the
  trades' R (net of costs), not their currency PnL at the backtest's own size.
- **floor**: ``static``: ``start_balance - max_drawdown`` throughout. ``trailing``: ``min(peak -
  max_drawdown, start_balance)``, where ``peak`` is the highest balance so far, updated after every
  taken trade (``trail_on: trade``, closed-trade balances: stricter) or at the end of each trading day
  (``trail_on: day``, end-of-day balances, as several prop firms do). It stops trailing once it reaches
  ``start_balance``.
- **fail**: the account fails at the first trade after which the balance is strictly below the floor
  in force; the rest of the trades are not taken. The fail day is that trade's exit trading day.
- **daily loss limit** (optional, currency): once the realized PnL of a trading day (exit days) is
  ``<= -daily_loss_limit``, the remaining trades exiting that day are not taken (trading stops for the
  day, the common prop rule; the account does not fail for it). The trade that crosses the limit
  counts in full.

Causality: a trade's risk reads only trades that exited on bars before its entry bar; whether a trade
is taken reads only trades before it in exit order. Nothing reads bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value, check_fields
from opt.errors import ConfigError

__all__ = ["AccountRules", "AccountResult", "account_rules", "simulate_account", "account_metrics",
           "trades_account", "fail_date", "account_report", "ACCOUNT_METRICS", "FAILED_ON_TAG"]

#: metric names :func:`account_metrics` returns
ACCOUNT_METRICS = ("account_passed", "account_fail_day", "account_final_balance", "account_max_risk",
                   "account_min_headroom", "account_n_taken", "account_n_skipped_daily")

FAILED_ON_TAG = "opt.account_failed_on"
"""Run tag of a stage-2 trial or promote run whose account failed: the ISO date of the failing trading day."""

_KEYS = ("start_balance", "max_drawdown", "drawdown", "trail_on", "daily_loss_limit", "risk_per_trade",
         "risk_step", "step_every", "max_risk")


@dataclass(frozen=True)
class AccountRules:
    """The account rules (config group ``account``; module docstring for their meaning).

    Attributes:
        start_balance: currency (> 0).
        max_drawdown: currency (> 0, < ``start_balance``).
        drawdown: ``"trailing"`` or ``"static"``.
        trail_on: ``"trade"`` or ``"day"``: when a trailing floor moves up.
        daily_loss_limit: currency (> 0), or None (no limit).
        risk_per_trade: base risk, currency per 1R (> 0).
        risk_step: currency added per step (>= 0).
        step_every: balance gain above ``start_balance`` per step, currency (> 0).
        max_risk: cap on the risk, currency (>= ``risk_per_trade``), or None (no cap).

    Raises:
        ConfigError: on construction, naming the ``account.*`` key of a value that breaks its rule.
    """

    start_balance: float = 50_000.0
    max_drawdown: float = 2_000.0
    drawdown: str = "trailing"
    trail_on: str = "trade"
    daily_loss_limit: float | None = None
    risk_per_trade: float = 300.0
    risk_step: float = 50.0
    step_every: float = 1_000.0
    max_risk: float | None = None

    def __post_init__(self) -> None:
        check_fields(self, {k: f"account.{k}" for k in _KEYS})
        if self.max_drawdown >= self.start_balance:
            raise ConfigError(f"account.max_drawdown={self.max_drawdown:g} must be < account.start_balance="
                              f"{self.start_balance:g}")
        if self.max_risk is not None and self.max_risk < self.risk_per_trade:
            raise ConfigError(f"account.max_risk={self.max_risk:g} must be >= account.risk_per_trade="
                              f"{self.risk_per_trade:g} (or null)")

    def risk(self, balance: float) -> float:
        """Risk (currency per 1R) of a trade placed when the known balance is ``balance`` (currency)."""
        steps = math.floor(max(0.0, balance - self.start_balance) / self.step_every)
        value = self.risk_per_trade + self.risk_step * steps
        return value if self.max_risk is None else min(value, self.max_risk)


def account_rules(account_cfg: Any) -> AccountRules | None:
    """Read the ``account`` config group; None when ``account.enabled`` is false.

    Raises:
        ConfigError: a missing key or a value that breaks its rule (naming ``account.<key>``).
    """
    if not cfg_value(account_cfg, "enabled", where="account"):
        return None
    nullable = {"daily_loss_limit", "max_risk"}
    values = {k: cfg_value(account_cfg, k, where="account", nullable=k in nullable) for k in _KEYS}
    return AccountRules(**values)


@dataclass(frozen=True)
class AccountResult:
    """The account path of a trade sequence; arrays ``(n_trades,)`` in the given (exit) order.

    Attributes:
        taken: bool, the trade was taken (False after the fail, or after the day's loss limit).
        risk: float64 currency per 1R of each taken trade (0 where not taken).
        pnl: float64 currency, ``r_multiple x risk`` (0 where not taken).
        balance: float64 currency after each trade (unchanged where not taken).
        floor: float64 currency, the floor each trade was checked against.
        skipped_daily: bool, not taken because of the daily loss limit.
        passed: the account never went below its floor.
        fail_index: position of the failing trade, or -1.
        fail_day: trading day code (days since 1970-01-01) of the failing trade's exit, or -1.
        final_balance: currency after the last taken trade (``start_balance`` without trades).
        max_risk: currency, the largest risk used (0 without trades).
        min_headroom: currency, the smallest ``balance - floor`` after a taken trade (``max_drawdown``
            without trades; negative when the account failed).
    """

    taken: np.ndarray
    risk: np.ndarray
    pnl: np.ndarray
    balance: np.ndarray
    floor: np.ndarray
    skipped_daily: np.ndarray
    passed: bool
    fail_index: int
    fail_day: int
    final_balance: float
    max_risk: float
    min_headroom: float


def simulate_account(r_multiple: np.ndarray, entry_bar: np.ndarray, exit_bar: np.ndarray, exit_day: np.ndarray,
                     rules: AccountRules) -> AccountResult:
    """Replay trades in exit order on an account (module docstring for every rule).

    Args:
        r_multiple: float64 ``(n,)``, each trade's result in R (net of costs).
        entry_bar: int64 ``(n,)``, bar of each entry fill.
        exit_bar: int64 ``(n,)``, bar of each exit fill, non-decreasing (exit order).
        exit_day: int64 ``(n,)``, trading day code of each exit (days since 1970-01-01).
        rules: the account rules.

    Returns:
        The :class:`AccountResult`.

    Raises:
        ValueError: arrays of different shapes, exits out of order, an exit before its entry, or a
            non-finite ``r_multiple``.
    """
    r = np.asarray(r_multiple, dtype=np.float64)
    entry = np.asarray(entry_bar, dtype=np.int64)
    exit_ = np.asarray(exit_bar, dtype=np.int64)
    day = np.asarray(exit_day, dtype=np.int64)
    n = r.shape[0]
    if not (r.ndim == 1 and entry.shape == exit_.shape == day.shape == (n,)):
        raise ValueError(f"r_multiple, entry_bar, exit_bar, exit_day must have one shape (n,): {r.shape}, "
                         f"{entry.shape}, {exit_.shape}, {day.shape}")
    if n and (np.any(np.diff(exit_) < 0) or np.any(exit_ < entry)):
        raise ValueError("trades must be in exit order (exit_bar non-decreasing) with exit_bar >= entry_bar")
    if not np.all(np.isfinite(r)):
        raise ValueError("r_multiple must be finite")
    # trades that exited before each entry: the prefix [0, known[i]) in exit order
    known = np.searchsorted(exit_, entry, side="left")
    taken = np.zeros(n, dtype=bool)
    skipped = np.zeros(n, dtype=bool)
    risk, pnl = np.zeros(n), np.zeros(n)
    balance, floor = np.zeros(n), np.zeros(n)
    static = rules.drawdown == "static"
    bal = peak = rules.start_balance
    cur_floor = rules.start_balance - rules.max_drawdown
    current_day, day_pnl = None, 0.0
    fail_index, headroom = -1, rules.max_drawdown
    for i in range(n):
        if current_day is not None and day[i] != current_day:
            if not static and rules.trail_on == "day":
                peak = max(peak, bal)
                cur_floor = min(peak - rules.max_drawdown, rules.start_balance)
            day_pnl = 0.0
        current_day = int(day[i])
        floor[i] = cur_floor
        if rules.daily_loss_limit is not None and day_pnl <= -rules.daily_loss_limit:
            skipped[i], balance[i] = True, bal
            continue
        k = min(int(known[i]), i)
        before = rules.start_balance if k == 0 else balance[k - 1]
        risk[i] = rules.risk(float(before))
        pnl[i] = r[i] * risk[i]
        bal += pnl[i]
        day_pnl += pnl[i]
        taken[i], balance[i] = True, bal
        headroom = min(headroom, bal - cur_floor)
        if bal < cur_floor:
            fail_index = i
            balance[i + 1:], floor[i + 1:] = bal, cur_floor
            break
        if not static and rules.trail_on == "trade":
            peak = max(peak, bal)
            cur_floor = min(peak - rules.max_drawdown, rules.start_balance)
    return AccountResult(
        taken=taken, risk=risk, pnl=pnl, balance=balance, floor=floor, skipped_daily=skipped,
        passed=fail_index < 0, fail_index=fail_index, fail_day=int(day[fail_index]) if fail_index >= 0 else -1,
        final_balance=float(bal), max_risk=float(risk.max()) if n else 0.0, min_headroom=float(headroom))


def account_metrics(result: AccountResult) -> dict[str, float]:
    """The ``account_*`` metrics of :data:`ACCOUNT_METRICS` (DESIGN §10).

    ``account_passed`` 1/0; ``account_fail_day`` the failing trading day (days since 1970-01-01), NaN
    when passed; ``account_final_balance``, ``account_max_risk``, ``account_min_headroom`` currency;
    ``account_n_taken``, ``account_n_skipped_daily`` trade counts.
    """
    return {
        "account_passed": float(result.passed),
        "account_fail_day": float(result.fail_day) if not result.passed else math.nan,
        "account_final_balance": result.final_balance,
        "account_max_risk": result.max_risk,
        "account_min_headroom": result.min_headroom,
        "account_n_taken": float(result.taken.sum()),
        "account_n_skipped_daily": float(result.skipped_daily.sum()),
    }


def fail_date(result: AccountResult) -> str | None:
    """The failing trading day as an ISO date (``"2025-10-03"``), or None when the account passed."""
    return None if result.passed else str(pd.Timestamp(result.fail_day, unit="D").date())


def trades_account(trades: pd.DataFrame, trading_day: np.ndarray,
                   rules: AccountRules) -> tuple[AccountResult, pd.DataFrame]:
    """Apply ``rules`` to a trades frame (walk-forward or test part), sorted into exit order.

    Args:
        trades: one row per filled trade with ``entry_bar``, ``exit_bar`` (int) and ``r_multiple``.
        trading_day: int64 ``(n_bars,)`` trading day code of every bar (``calendar.trading_day``).
        rules: the account rules.

    Returns:
        ``(result, table)``: the :class:`AccountResult` in exit order, and one row per trade in that
        order: ``exit_bar``, ``exit_day`` (ISO date), ``r_multiple``, ``taken``, ``risk``, ``pnl``,
        ``balance``, ``floor`` (currency), ``skipped_daily`` (written as ``account.csv``).
    """
    if len(trades):
        ordered = trades.sort_values(["exit_bar", "entry_bar"], kind="stable")
        entry, exit_ = ordered["entry_bar"].to_numpy(np.int64), ordered["exit_bar"].to_numpy(np.int64)
        r = ordered["r_multiple"].to_numpy(np.float64)
    else:
        entry = exit_ = np.empty(0, np.int64)
        r = np.empty(0)
    day = np.asarray(trading_day, dtype=np.int64)[exit_]
    result = simulate_account(r, entry, exit_, day, rules)
    table = pd.DataFrame({"exit_bar": exit_, "exit_day": pd.to_datetime(day, unit="D").strftime("%Y-%m-%d"),
                          "r_multiple": r, "taken": result.taken, "risk": result.risk, "pnl": result.pnl,
                          "balance": result.balance, "floor": result.floor, "skipped_daily": result.skipped_daily})
    return result, table


def account_report(account_cfg: Any, trades: pd.DataFrame, trading_day: np.ndarray
                   ) -> tuple[dict[str, float], pd.DataFrame, str | None]:
    """The account metrics, table and fail date of ``trades`` under the ``account`` config group.

    Args:
        account_cfg: the ``account`` group, or None (a config saved before it existed).
        trades: one row per filled trade (``entry_bar``, ``exit_bar``, ``r_multiple``).
        trading_day: int64 ``(n_bars,)`` trading day code of every bar.

    Returns:
        ``(metrics, table, fail_date)``: :func:`account_metrics`, the :func:`trades_account` table and
        :func:`fail_date`; ``({}, empty frame, None)`` when the group is absent or ``enabled`` is false.

    Raises:
        ConfigError: a bad ``account.*`` value.
    """
    rules = account_rules(account_cfg) if account_cfg is not None else None
    if rules is None:
        return {}, pd.DataFrame(), None
    result, table = trades_account(trades, trading_day, rules)
    return account_metrics(result), table, fail_date(result)
