"""The playback page (opt.playback): one offline HTML file whose JSON holds the bars, levels, events, calls and
trades it shows; the span is cut to ``max_bars`` around the trades; an empty span still renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import DictConfig, OmegaConf

from opt.data import load_bars_from_config
from opt.dataset import MarketContext, build_context, build_event_dataset
from opt.playback import cut_window, playback_data, write_playback
from opt.playback.spans import bar_span, best_fold, confident_calls, with_proba

from tests.helpers.config import compose_config
from tests.helpers.playback import assert_offline, page_json


@pytest.fixture(scope="module")
def market() -> tuple[DictConfig, MarketContext, pd.DataFrame]:
    cfg = compose_config(["data.synthetic.n_days=14"])
    bars = load_bars_from_config(cfg)
    ctx = build_context(bars, cfg)
    return cfg, ctx, build_event_dataset(ctx, cfg).events


def _trades(ctx: MarketContext, events: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` filled trades at events (a long/short bracket of 2 points risk, 1:2), exits 1-20 bars later."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(events), size=n, replace=False))
    rows = []
    for k, i in enumerate(picks):
        sig = int(events["bar"].iloc[i])
        d = 1 if k % 2 == 0 else -1
        entry = float(ctx.open[sig + 1])
        target = k % 3 != 0
        reason = "TARGET" if target else ("STOP" if k % 2 else "SESSION_END")  # any other reason: a grey exit
        rows.append({"signal_bar": sig, "entry_bar": sig + 1, "entry_price": entry, "stop_price": entry - 2 * d,
                     "target_price": entry + 4 * d, "exit_bar": sig + 1 + int(rng.integers(0, 20)),
                     "exit_price": entry + (4 * d if target else -2 * d), "exit_reason_name": reason,
                     "pnl": 20.0 if target else -10.0, "r_multiple": 2.0 if target else -1.0,
                     "call": k % 2, "proba": 0.85, "fold": 0})
    return pd.DataFrame(rows)


def test_the_page_is_offline_and_holds_what_it_shows(market, tmp_path: Path) -> None:
    cfg, ctx, events = market
    start = int(events["bar"].iloc[0]) - 30
    trades = _trades(ctx, events[events["bar"] < start + 2500], 12)
    proba = np.tile([0.1, 0.85, 0.05], (len(events), 1))
    data = playback_data(ctx, cfg, events=with_proba(events, proba), trades=trades,
                         calls=confident_calls(cfg, events, proba), start=start, end=start + 2600, max_bars=3000,
                         margin_bars=60, title="test <page>", notes=["a note"])
    page = write_playback(data, tmp_path / "p.html").read_text()
    assert_offline(page)
    assert "<title>test &lt;page&gt;</title>" in page and "a note" in page
    fig, meta = page_json(page, "playback-figure"), page_json(page, "playback-data")
    candles = fig["data"][0]
    assert candles["type"] == "candlestick" and len(candles["x"]) == len(candles["close"]) == 2600 == meta["n_bars"]
    assert candles["close"][0] == pytest.approx(float(ctx.close[start]))
    assert meta["first_bar"] == start and len(meta["times"]) == 2600
    # every trade: in the player's data and as one entry and one exit marker
    assert len(meta["trades"]) == len(trades) == 12
    markers = {t["name"]: t for t in fig["data"] if t.get("mode") == "markers"}
    entries = sum(len(t["x"]) for n, t in markers.items() if n.startswith("entry "))
    exits = sum(len(t["x"]) for n, t in markers.items() if n.startswith("exit "))
    assert entries == exits == 12
    assert len(markers["exit target"]["x"]) == int((trades["exit_reason_name"] == "TARGET").sum())
    assert len(markers["exit time / end / other"]["x"]) == int((trades["exit_reason_name"] == "SESSION_END").sum()) > 0
    first = meta["trades"][0]
    assert (first["entry"] + start, first["stop"], first["target"]) == (
        trades["entry_bar"].iloc[0], trades["stop_price"].iloc[0], trades["target_price"].iloc[0])
    # events with their labels and the model's probabilities, calls with theirs
    shown = events[(events["bar"] >= start) & (events["bar"] < start + 2600)]
    event_traces = [t for n, t in markers.items() if n.startswith("event ")]
    assert sum(len(t["x"]) for t in event_traces) == len(shown) == meta["n_events"] > 0
    assert any("P(BOUNCE)=0.85" in h for t in event_traces for h in t["hovertext"])
    calls = [t for n, t in markers.items() if n.endswith("call (P)")]
    assert sum(len(t["x"]) for t in calls) == meta["n_calls"] > 0 and "P=0.85" in calls[0]["hovertext"][0]
    # levels: a line and two zones (monitor, touch) per level, only the switched-on types
    lines = [t for t in fig["data"] if t.get("meta") == "level"]
    bands = [t for t in fig["data"] if t.get("meta") == "band"]
    assert len(lines) == len(meta["levels"]) > 5 and len(bands) == 2 * len(lines)
    assert all(t["fill"] == "toself" for t in bands) and any("touch band (+/- 0.5)" in t["name"] for t in bands)
    # the trades table: one clickable row per trade
    assert page.count('<tr data-trade="') == 12


def test_a_switched_off_level_type_is_not_shown(market, tmp_path: Path) -> None:
    cfg, ctx, events = market
    off = cfg.copy()
    OmegaConf.update(off, "levels.use.vwap", False)
    data = playback_data(ctx, off, events=events, trades=_trades(ctx, events, 3), start=8000, end=9000,
                         max_bars=3000, margin_bars=60, title="no vwap")
    assert data.levels and not [lv for lv in data.levels if lv.type == "vwap"]


def test_a_long_span_is_cut_to_the_window_with_the_most_trades(market) -> None:
    cfg, ctx, events = market
    trades = _trades(ctx, events, 20)
    data = playback_data(ctx, cfg, events=events, trades=trades, start=0, end=ctx.n_bars, max_bars=1000,
                         margin_bars=60, title="cut")
    assert data.n_bars == 1000 and data.first_bar > 0
    assert "playback.max_bars" in data.notes[-1] and "20 trades" in data.notes[-1]
    assert (data.trades["signal_bar"] >= data.first_bar).all() and (data.trades["exit_bar"] < data.first_bar + 1000).all()
    assert len(data.trades) >= 1 and list(data.trades["direction"].unique()) != []


def test_cut_window_rules() -> None:
    sig, ex = np.array([100, 5000, 5100, 5200]), np.array([110, 5010, 5150, 5300])
    assert cut_window(0, 500, sig, ex, max_bars=1000, margin_bars=10) == (0, 500)  # short: whole span
    assert cut_window(0, 10_000, sig, ex, max_bars=1000, margin_bars=10) == (4990, 5990)  # 3 trades beat 1
    assert cut_window(0, 10_000, sig[:0], ex[:0], max_bars=1000, margin_bars=10) == (0, 1000)  # no trade: the start
    assert cut_window(0, 5250, sig, ex, max_bars=1000, margin_bars=10) == (4250, 5250)  # moved back to the end
    with pytest.raises(ValueError, match="max_bars=0"):
        cut_window(0, 10, sig, ex, max_bars=0, margin_bars=0)


def test_an_empty_span_and_a_span_without_trades_render(market, tmp_path: Path) -> None:
    cfg, ctx, events = market
    for start, end, trades in ((500, 500, _trades(ctx, events, 2)), (100, 400, events.iloc[0:0])):
        data = playback_data(ctx, cfg, events=events, trades=trades.iloc[0:0] if len(trades) == 0 else trades,
                             start=start, end=end, max_bars=3000, margin_bars=60, title="empty")
        page = write_playback(data, tmp_path / f"e{start}.html").read_text()
        assert_offline(page)
        meta = page_json(page, "playback-data")
        assert meta["n_bars"] == end - start and meta["trades"] == []
        assert "no trade in these bars" in page


def test_bar_span_and_best_fold(market) -> None:
    cfg, ctx, _ = market
    stamps = pd.to_datetime(ctx.timestamps, utc=True)
    a, b = bar_span(ctx, stamps[100].isoformat(), stamps[199].isoformat())
    assert (a, b) == (100, 200)
    assert bar_span(ctx, None, None) == (0, ctx.n_bars)
    assert bar_span(ctx, str(stamps[100].tz_localize(None)), None)[0] == 100  # naive = UTC
    from opt.errors import ConfigError

    with pytest.raises(ConfigError, match="playback.start='x'"):
        bar_span(ctx, "x", None)
    trades = pd.DataFrame({"fold": [0, 1, 1, 2], "pnl": [5.0, 10.0, -1.0, 3.0]})
    assert best_fold(trades, {0: (0, 1), 1: (1, 2), 2: (2, 3)}) == 1
    assert best_fold(trades.iloc[0:0], {3: (0, 1), 4: (1, 2)}) == 3
