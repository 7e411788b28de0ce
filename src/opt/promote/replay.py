"""Live equals backtest: replay the test part bar by bar through the registered policy (DESIGN §8, §9).

A live feed calls the registered model with the bars so far and acts on the signals of the newest bar.
:func:`replay_test_part` checks that this gives the orders the batch evaluation of the same model
backtested:

- *Batch*: :meth:`SignalPolicy.signals` on all bars, restricted to signal bars ``>= test_start``.
- *Live* at bar ``t``: the rows with ``bar == t`` of :meth:`SignalPolicy.signals` on ``bars[:t+1]``
  exactly (the policy sees nothing after ``t``).
- Compared per bar, with exact float equality: ``bar``, ``direction``, ``call``, ``entry``, ``stop``,
  ``take_profit`` (NaN equals NaN). A signal on one side only, or a field that differs, is a
  difference; the first (lowest bar) is reported with both rows.
- *Trades*: every filled trade of :func:`opt.backtest.evaluate_span` (``batch``) must be a batch
  signal: same signal bar, direction (``sign(target - stop)``) and call, and the same bracket. A limit
  entry's stop and target are the signal's to the bit; a market entry fills at the next open, so its
  stop and target must equal the signal's bracket re-priced from the trade's fill
  (:func:`opt.backtest.order_prices` with the signal's direction and level and the ATR known at the
  signal bar), which is what the simulator does.

Before the replay, the batch must hold one order per bar and direction (:func:`opt.backtest.calls_to_orders`
deduplicates both paths; check ``batch orders``).

Speed. A policy call rebuilds the context, the events and the predictions from the first bar (about
0.1 s of CPU on 60,000 bars), so a call per test bar (16,443 on the ES file) is out of reach. Signals
sit on touch bars (DESIGN §5: an event is at the close of its touch bar), so the replay calls the
policy exactly (``bars[:t+1]``) at every *checkpoint* ``t`` of the test part, in bar order:

1. every bar with a batch signal (catches a batch signal that live does not give, or gives otherwise);
2. every touch bar of the policy's own event geometry (:func:`opt.dataset.build_event_dataset` with
   ``keep_unlabelled=True`` on all bars, one build): catches a signal that appears only live, at a
   touch the batch did not call (a look-ahead that suppresses signals, e.g. one reading the next bar);
3. the last bar, and bars that cut any longer stretch without a checkpoint into ``chunk_bars`` bars.

Each call also returns the signals of the bars since the previous checkpoint, computed with the later
bars up to ``t``: the *chunk pass*. A bar where these differ from the batch is replayed exactly as
well, before ``t`` is compared, so a signal off the touch bars (a policy whose touches are not causal)
is still looked at. For a policy whose signals sit on its touch bars the replay is therefore exact:
every bar that can carry a signal is replayed with exactly the bars up to it. What it cannot see is a
signal that appears only live on a bar that is no checkpoint while the chunk pass there agrees with
the batch; with ``touches=False`` (checkpoints 1 and 3 only, about half the calls) that includes a
look-ahead that adds live signals at touches, such as the next-bar one of the tests.

Cost: one call per checkpoint. On the ES file's test part (16,443 bars, ``split.test_fraction=0.2``)
that is ~350 calls, ~43 s of CPU (~0.12 s per call); ``touches=False``: ~175 calls, ~22 s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.backtest import SpanResult, order_prices
from opt.data import validate_bars
from opt.dataset import build_context, build_event_dataset
from opt.indicators import timeframe_atr
from opt.promote.policy import SignalPolicy
from opt.schema import CLASS_NAMES

__all__ = ["COMPARED", "DEFAULT_CHUNK_BARS", "ReplayResult", "replay_test_part"]

#: signal columns compared between live and batch, with exact equality
COMPARED = ("bar", "direction", "call", "entry", "stop", "take_profit")
#: longest stretch of test bars without a checkpoint (checkpoint 3 of the module docstring)
DEFAULT_CHUNK_BARS = 240

_Row = tuple[Any, ...]


@dataclass(frozen=True)
class ReplayResult:
    """What :func:`replay_test_part` compared.

    Attributes:
        n_bars: bars of the test part replayed (``test_start`` to the last bar).
        n_calls: policy calls (one on all bars for the batch, one per bar replayed exactly).
        n_exact_bars: bars where the policy was called with exactly the bars up to them.
        n_signals_live: live signals compared (rows of the exact calls on their own bar).
        n_signals_batch: batch signals of the test part compared.
        n_trades: filled trades of the batch evaluation checked against the batch signals.
        seconds: wall time of the replay.
        first_difference: None, or the first difference: ``bar``, ``timestamp`` (UTC, ISO), ``check``
            (``live vs batch``, ``trade vs batch`` or ``batch orders``), ``what`` (the fields or the side that differ),
            ``live`` and ``batch`` (the rows of that bar, lists of dicts) and, for a trade, ``trade``.
    """

    n_bars: int
    n_calls: int
    n_exact_bars: int
    n_signals_live: int
    n_signals_batch: int
    n_trades: int
    seconds: float
    first_difference: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        """Live equals batch: no difference found."""
        return self.first_difference is None

    def describe(self) -> str:
        """One line: bars, calls, signals compared, result."""
        head = (f"live replay of the test part: {self.n_bars} bars, {self.n_calls} policy calls "
                f"({self.n_exact_bars} bars replayed exactly), {self.n_signals_live} live vs "
                f"{self.n_signals_batch} batch signals and {self.n_trades} trades compared in {self.seconds:.1f} s")
        d = self.first_difference
        if d is None:
            return f"{head}: no difference"
        return f"{head}: FIRST DIFFERENCE at bar {d['bar']} ({d['timestamp']}), {d['check']}: {d['what']}"


def replay_test_part(policy: SignalPolicy, bars: pd.DataFrame, test_start: int, batch: SpanResult | None = None,
                     *, chunk_bars: int = DEFAULT_CHUNK_BARS, touches: bool = True) -> ReplayResult:
    """Feed the test part to ``policy`` as a live feed would and compare with the batch (module docstring).

    The replay stops at the first difference (or at the bar of a trade that is not a batch signal).

    Args:
        policy: the policy to register (its model is the batch evaluation's).
        bars: all bars, as the batch saw them (row ``i`` is bar ``i`` of ``batch``), ascending.
        test_start: first bar of the test part.
        batch: the batch evaluation of the test part (:func:`opt.backtest.evaluate_span`); its filled
            trades are checked against the batch signals. None: no trade check.
        chunk_bars: longest stretch of test bars without a checkpoint, >= 1.
        touches: also replay every touch bar exactly (checkpoint 2 of the module docstring); False:
            the batch signal bars and the chunk checkpoints only (about half the calls, blind to a
            signal that appears only live between two checkpoints).

    Raises:
        ValueError: ``test_start`` outside the bars or ``chunk_bars`` < 1.
        DataError: bars the policy rejects.
    """
    started = time.perf_counter()
    n = len(bars)
    if not 0 <= test_start < n:
        raise ValueError(f"test_start={test_start} is not a bar of the {n} bars")
    if chunk_bars < 1:
        raise ValueError(f"chunk_bars={chunk_bars} must be >= 1")
    raw = bars.reset_index(drop=True)
    full = policy.signals(raw)
    want = full[full["bar"] >= test_start].reset_index(drop=True)
    by_bar = _rows_by_bar(want)
    frame = validate_bars(raw, source="replay input", tz=policy.cfg["data"].get("tz"))
    stamps = frame["timestamp"]
    diffs = [d for d in (_duplicates(want, stamps), _check_trades(policy, frame, want, batch)) if d is not None]
    due = set(by_bar)
    if touches:
        events = build_event_dataset(build_context(frame, policy.cfg), policy.cfg, keep_unlabelled=True).events
        touched = events["bar"].to_numpy(np.int64)
        due |= {int(t) for t in touched[touched >= test_start]}
    replay = _Replay(policy, raw, by_bar, stamps)
    prev = test_start - 1
    last = min([d["bar"] for d in diffs], default=n - 1)  # past a difference found already: nothing to learn
    for t in _checkpoints(due, test_start, n, chunk_bars):
        if t > last:
            break
        diff = replay.step(t, prev)
        prev = t
        if diff is not None:
            diffs.append(diff)
            break
    return ReplayResult(
        n_bars=n - test_start, n_calls=1 + replay.n_calls, n_exact_bars=replay.n_calls,
        n_signals_live=replay.n_live, n_signals_batch=len(want), n_trades=0 if batch is None else len(batch.trades),
        seconds=time.perf_counter() - started, first_difference=min(diffs, key=lambda d: d["bar"]) if diffs else None)


def _checkpoints(due: set[int], test_start: int, n: int, chunk_bars: int) -> list[int]:
    """``due`` and the last bar, plus bars that cut every longer stretch into chunks of ``chunk_bars``."""
    out: list[int] = []
    prev = test_start - 1
    for t in sorted(due | {n - 1}):
        out.extend(range(prev + chunk_bars, t, chunk_bars))
        out.append(t)
        prev = t
    return out


def _duplicates(signals: pd.DataFrame, stamps: pd.Series) -> dict[str, Any] | None:
    """The first bar with two batch orders in one direction (:func:`opt.backtest.calls_to_orders` keeps one)."""
    dup = signals.duplicated(["bar", "direction"], keep=False).to_numpy()
    if not dup.any():
        return None
    t = int(signals["bar"].to_numpy()[dup].min())
    rows = _rows_by_bar(signals[signals["bar"] == t])[t]
    return {"bar": t, "timestamp": stamps.iloc[t].isoformat(), "check": "batch orders",
            "what": "two orders on one bar in one direction", "live": [], "batch": [_as_dict(r) for r in rows]}


class _Replay:
    """The exact live calls, with the chunk pass between checkpoints."""

    def __init__(self, policy: SignalPolicy, bars: pd.DataFrame, batch: dict[int, list[_Row]],
                 stamps: pd.Series) -> None:
        self.policy, self.bars, self.batch, self.stamps = policy, bars, batch, stamps
        self.n_calls = 0
        self.n_live = 0

    def call(self, t: int) -> pd.DataFrame:
        self.n_calls += 1
        return self.policy.signals(self.bars.iloc[: t + 1])

    def step(self, t: int, prev: int) -> dict[str, Any] | None:
        """Call at ``t``; first exactly replay the bars in ``(prev, t)`` whose chunk-pass rows differ."""
        live = self.call(t)
        chunk = _rows_by_bar(live[(live["bar"] > prev) & (live["bar"] < t)])
        suspects = sorted(b for b in set(chunk) | {b for b in self.batch if prev < b < t}
                          if chunk.get(b, []) != self.batch.get(b, []))
        for s in suspects:
            diff = self.compare(s, _rows_by_bar(self.call(s)).get(s, []))
            if diff is not None:
                return diff
        return self.compare(t, _rows_by_bar(live).get(t, []))

    def compare(self, t: int, live: list[_Row]) -> dict[str, Any] | None:
        self.n_live += len(live)
        batch = self.batch.get(t, [])
        if live == batch:
            return None
        return {"bar": t, "timestamp": self.stamps.iloc[t].isoformat(), "check": "live vs batch",
                "what": _what(live, batch), "live": [_as_dict(r) for r in live],
                "batch": [_as_dict(r) for r in batch]}


def _key(value: Any) -> Any:
    """A compared value: NaN as None (so NaN equals NaN), numbers as Python numbers."""
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _rows_by_bar(signals: pd.DataFrame) -> dict[int, list[_Row]]:
    """The :data:`COMPARED` values of each signal, grouped by bar, sorted within a bar."""
    out: dict[int, list[_Row]] = {}
    for row in signals[list(COMPARED)].itertuples(index=False, name=None):
        out.setdefault(int(row[0]), []).append(tuple(_key(v) for v in row))
    return {b: sorted(rows, key=repr) for b, rows in out.items()}


def _as_dict(row: _Row) -> dict[str, Any]:
    return dict(zip(COMPARED, row, strict=True))


def _what(live: list[_Row], batch: list[_Row]) -> str:
    """Which side has a signal the other lacks, or which fields differ, per direction."""
    parts = []
    for d in sorted({r[1] for r in live} | {r[1] for r in batch}):
        mine = [r for r in live if r[1] == d]
        theirs = [r for r in batch if r[1] == d]
        side = "long" if d > 0 else "short"
        if not theirs:
            parts.append(f"{side} signal live only")
        elif not mine:
            parts.append(f"{side} signal in the batch only")
        elif len(mine) != len(theirs):
            parts.append(f"{len(mine)} {side} signals live, {len(theirs)} in the batch")
        elif mine != theirs:
            fields = [c for i, c in enumerate(COMPARED) if any(a[i] != b[i] for a, b in zip(mine, theirs, strict=True))]
            parts.append(f"{side} signal: {', '.join(fields)} differ")
    return "; ".join(parts)


def _check_trades(policy: SignalPolicy, bars: pd.DataFrame, signals: pd.DataFrame, batch: SpanResult | None
                  ) -> dict[str, Any] | None:
    """The first filled trade of ``batch`` that is not a batch signal (module docstring), or None.

    ``bars`` are the validated bars (for the ATR known at each signal).
    """
    if batch is None or batch.trades.empty:
        return None
    trades = batch.trades
    bp = policy.bracket
    sig = trades["signal_bar"].to_numpy(np.int64)
    stop = trades["stop_price"].to_numpy(np.float64)
    target = trades["target_price"].to_numpy(np.float64)
    d = np.where(target > stop, 1, -1)
    table = {(int(r["bar"]), int(r["direction"])): r for r in signals.to_dict("records")}
    rows = [table.get((int(b), int(x))) for b, x in zip(sig, d, strict=True)]
    nan = np.nan
    want_stop = np.array([nan if r is None else r["stop"] for r in rows], dtype=np.float64)
    want_target = np.array([nan if r is None else r["take_profit"] for r in rows], dtype=np.float64)
    if bp.entry_mode == "market":  # the simulator prices a market entry's bracket from its fill
        atr = timeframe_atr(bars, int(bp.atr_timeframe), int(policy.cfg["levels"]["atr_period"]))[sig]
        level = np.array([nan if r is None else r["level_price"] for r in rows], dtype=np.float64)
        refill = order_prices(trades["entry_price"].to_numpy(np.float64), d, atr, level, bp)
        want_stop, want_target = refill["stop"], refill["take_profit"]
    for i in np.argsort(sig, kind="stable"):
        row = rows[i]
        call = CLASS_NAMES[int(trades["call"].iloc[i])]
        if row is None:
            what = f"{'long' if d[i] > 0 else 'short'} trade with no batch signal on its bar and direction"
        elif row["call"] != call:
            what = f"trade call {call}, signal call {row['call']}"
        elif (want_stop[i], want_target[i]) != (stop[i], target[i]):
            what = (f"trade stop/target {stop[i]}/{target[i]}, the signal's {want_stop[i]}/{want_target[i]}"
                    + (f" (re-priced from the fill {trades['entry_price'].iloc[i]})" if bp.entry_mode == "market"
                       else ""))
        else:
            continue
        t = int(sig[i])
        return {"bar": t, "timestamp": pd.Timestamp(trades["timestamp"].iloc[i]).isoformat(),
                "check": "trade vs batch", "what": what, "live": [],
                "batch": [_as_dict(r) for r in _rows_by_bar(signals[signals["bar"] == t]).get(t, [])],
                "trade": {str(k): _key(v) for k, v in trades.iloc[i].items()}}
    return None
