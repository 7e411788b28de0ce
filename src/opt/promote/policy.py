"""The promoted signal policy: 1-minute bars in, bracket orders out (the registered model's logic).

:class:`SignalPolicy` holds what a stage-2 trial is made of (sessions/levels config, event geometry,
features, the trained classifier and the OCO bracket) and turns a frame of bars into one row per
signal, using those bars only: the market context and the events are built from them
(:func:`opt.dataset.build_context`, :func:`opt.dataset.build_event_dataset` with
``keep_unlabelled=True``, so a touch on the last bar still gives a signal), the classifier scores
every touch, and :func:`opt.backtest.calls_to_orders` keeps the confident BREAK/BOUNCE
calls, one order per bar and direction, deduplicated as the backtest does (DESIGN §8), and
:func:`opt.backtest.filters.apply_filters` drops the orders the market-context filters of ``filters``
refuse, as the backtest does (no ``filters`` section: none). Everything is causal, so the signals up
to bar t do not change when later bars are added or removed.

Prices are the bracket simulator's own (:func:`opt.backtest.order_prices`, which runs the kernel
functions :func:`opt.brackets.simulate_brackets` runs) with the signal bar's close as the reference:
a limit entry is ``close - d x entry_offset_atr x ATR`` rounded to the tick grid away from the
market; a market entry fills at the next bar's open, unknown at the signal, so ``entry`` is the signal
close and the live executor should keep the distances (``risk_points``, ``tp_r``) from its actual fill,
as the simulator does. The stop is ``stop_atr x ATR`` (of ``atr_timeframe``-minute bars) from the
entry, or ``stop_buffer_ticks`` beyond the level, and the take-profit ``tp_r`` x risk, both rounded
away from the entry.

Every confident call is a signal (touches of several levels on one bar in one direction are one):
``bracket.max_positions`` (the simulator's limit on open positions)
is left to the executor, which knows its open positions. ``expiry`` counts minutes, not bars, so
with gaps in the data it ends sooner than ``expiry_bars`` traded bars would.

With ``bracket.flatten_at_session_end`` (DESIGN §8, §10) ``flatten_at`` is the end of the signal bar's
session (``levels.day_end``, or a half day's early close, from the exchange calendar known in advance):
the executor cancels the unfilled entry and closes the position by then, as the simulator does at the
close of the session's last bar (``SESSION_END``); ``expiry`` is never later. Without it ``flatten_at``
is NaT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.backtest.filters import apply_filters
from opt.backtest.signals import calls_to_orders, order_prices
from opt.brackets import BracketParams
from opt.data import validate_bars
from opt.dataset import build_context, build_event_dataset
from opt.indicators import timeframe_atr
from opt.models import Classifier
from opt.models.fitting import model_input
from opt.schema import CLASS_NAMES

__all__ = ["SIGNAL_COLUMNS", "SignalPolicy", "order_prices"]

#: columns of :meth:`SignalPolicy.signals`, in order
SIGNAL_COLUMNS = ("timestamp", "bar", "level_type", "level_name", "level_price", "side", "direction", "call",
                  "probability", "entry_type", "entry", "stop", "take_profit", "risk_points", "expiry",
                  "max_hold_bars", "flatten_at")


@dataclass
class SignalPolicy:
    """A promoted stage-2 configuration: dataset geometry, trained classifier and bracket.

    Attributes:
        cfg: plain dict with the config sections ``levels``, ``events``, ``outcome``, ``features``,
            ``bracket``, ``instrument``, ``filters`` (optional) and ``data`` (only ``data.tz``, the zone
            of naive timestamps), resolved.
        model: the trained classifier (P(BREAK), P(BOUNCE), P(CHOP)).
    """

    cfg: dict[str, Any]
    model: Classifier

    @property
    def bracket(self) -> BracketParams:
        """The checked bracket and instrument parameters."""
        return BracketParams.from_config(self.cfg["bracket"], self.cfg["instrument"])

    def signals(self, bars: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
        """Turn 1-minute bars into bracket orders, one row per signal (see the module docstring).

        Args:
            bars: ``timestamp`` (tz-aware, or naive in ``tz``), ``open``, ``high``, ``low``,
                ``close`` (points), ``volume`` (contracts); one row per traded minute, ascending.
            tz: IANA time zone of naive timestamps; ``None``: the policy's ``data.tz``.

        Returns:
            Columns :data:`SIGNAL_COLUMNS`: ``timestamp`` (UTC open time of the touch bar; the order is
            placed at its close), ``bar`` (row in ``bars``), ``level_type``, ``level_name``,
            ``level_price``, ``side`` (``long``/``short``), ``direction`` (+1/-1), ``call``
            (``BREAK``/``BOUNCE``), ``probability`` (P of the call), ``entry_type``
            (``market``/``limit``), ``entry``, ``stop``, ``take_profit``, ``risk_points`` (points),
            ``expiry`` (UTC time after which an unfilled entry is cancelled: the end of the next bar for
            market orders, of bar ``expiry_bars`` after the signal for limits; at most ``flatten_at``),
            ``max_hold_bars`` and ``flatten_at`` (UTC end of the signal bar's session when
            ``bracket.flatten_at_session_end``, else NaT).

        Raises:
            DataError: bars that break a rule of DESIGN §3 (the message names the row and the rule).
            ConfigError: ``tz`` (or ``data.tz``) is not a known time zone name.
        """
        frame = validate_bars(pd.DataFrame(bars), source="predict input", tz=tz or self.cfg["data"].get("tz"))
        ctx = build_context(frame, self.cfg)
        ds = build_event_dataset(ctx, self.cfg, keep_unlabelled=True)
        if len(ds) == 0:
            return _empty()
        bp = self.bracket
        proba = self.model.predict_proba(model_input(ds, ctx, np.arange(len(ds))))
        orders = calls_to_orders(proba, ds.events, confidence=bp.confidence, direction=bp.direction)
        orders = apply_filters(orders, ctx, self.cfg)  # the backtest's market-context filters (cfg["filters"])
        if orders.empty:
            return _empty()
        sig = orders["signal_bar"].to_numpy(np.int64)
        atr = timeframe_atr(ctx.bars, int(bp.atr_timeframe), int(self.cfg["levels"]["atr_period"]))[sig]
        d = orders["direction"].to_numpy(np.int64)
        prices = order_prices(ctx.close[sig], d, atr, orders["level_price"].to_numpy(np.float64), bp)
        events = ds.events.iloc[orders["event"].to_numpy()].reset_index(drop=True)
        stamp = pd.to_datetime(ctx.timestamps[sig], utc=True)
        live_bars = bp.expiry_bars if bp.entry_mode == "limit" else 1
        expiry = stamp + pd.Timedelta(minutes=1 + live_bars)
        flatten_at = pd.to_datetime(ctx.calendar.session_end[sig], utc=True)
        if bp.flatten_at_session_end:
            expiry = expiry.where(expiry <= flatten_at, flatten_at)
        else:
            flatten_at = pd.DatetimeIndex(np.full(len(sig), np.datetime64("NaT"), "datetime64[ns]"), tz="UTC")
        out = pd.DataFrame({
            "timestamp": stamp, "bar": sig, "level_type": events["level_type"].astype(str),
            "level_name": events["level_name"].astype(str), "level_price": events["level_price"].to_numpy(),
            "side": np.where(d > 0, "long", "short"), "direction": d,
            "call": np.asarray(CLASS_NAMES)[orders["call"].to_numpy()], "probability": orders["proba"].to_numpy(),
            "entry_type": bp.entry_mode, **prices,
            "expiry": expiry, "max_hold_bars": int(bp.max_hold_bars), "flatten_at": flatten_at,
        })
        return out[list(SIGNAL_COLUMNS)]


def _empty() -> pd.DataFrame:
    """No signal: the columns of :data:`SIGNAL_COLUMNS` with their dtypes."""
    ts = pd.Series([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({
        "timestamp": ts, "bar": pd.Series([], dtype=np.int64), "level_type": pd.Series([], dtype=object),
        "level_name": pd.Series([], dtype=object), "level_price": pd.Series([], dtype=np.float64),
        "side": pd.Series([], dtype=object), "direction": pd.Series([], dtype=np.int64),
        "call": pd.Series([], dtype=object), "probability": pd.Series([], dtype=np.float64),
        "entry_type": pd.Series([], dtype=object), "entry": pd.Series([], dtype=np.float64),
        "stop": pd.Series([], dtype=np.float64), "take_profit": pd.Series([], dtype=np.float64),
        "risk_points": pd.Series([], dtype=np.float64), "expiry": ts,
        "max_hold_bars": pd.Series([], dtype=np.int64), "flatten_at": ts,
    })
