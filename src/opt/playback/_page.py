"""The playback page: one self-contained HTML file that replays bars, levels, events, calls and brackets.

:func:`render_playback` writes a :class:`opt.playback.PlaybackData` as a plotly chart (plotly.js inlined,
nothing loaded from the network) driven by a small inline player:

- the chart: 1-minute candlesticks (x = bar position in the window, tick labels in UTC time), each
  level as a line with its monitor band (wide, faint) and touch band (narrow) around it, the events at
  their touch bars on the level (marker per label: BREAK, BOUNCE, CHOP, or no label yet), the model's
  calls at the signal bar's close (hover: the call, its probability, the order's side), and each
  trade's bracket: a green take-profit box and a red stop box from the entry bar to the exit bar,
  the entry (triangle: up long, down short) and the exit (colored by outcome) joined by a dashed line;
- the controls: a cursor that steps bar by bar (buttons, slider, arrow keys, play); while "reveal up
  to the cursor" is on, the bars and markers after the cursor are left out and a curtain covers the
  levels there (a trade's outcome stays hidden until its exit bar), and previous/next trade buttons (PageUp/PageDown) that center the chart on a trade;
  rows of the trades table jump there too.

The figure (``<script type="application/json" id="playback-figure">``, plotly's ``data`` and
``layout``) and the player's data (``id="playback-data"``: bar times, trades, counts) are JSON in the
page, so tests and tools can read what it shows. Units: prices in points, PnL in the instrument's
currency net of costs, R in multiples of the initial risk.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opt.playback._data import LevelTrack, PlaybackData
from opt.schema import CLASS_NAMES

__all__ = ["render_playback", "write_playback", "figure_and_meta", "CHART_HEIGHT"]

CHART_HEIGHT = 640
"""Chart height, pixels."""

#: line color of each level type
TYPE_COLORS = {"on": "#8250df", "pm": "#bf8700", "or": "#0550ae", "pd": "#6e7781", "sma": "#e16f24",
               "vwap": "#1b7c83", "vwap_rth": "#0a3069"}
#: marker of each event label (-1: no complete label window yet)
EVENT_STYLE = {0: ("BREAK", "x", "#bc4c00"), 1: ("BOUNCE", "circle-open", "#0969da"),
               2: ("CHOP", "diamond-open", "#6e7781"), -1: ("no label yet", "circle-open", "#afb8c1")}
#: marker of each exit outcome group: name -> (exit reasons, symbol, color); ``None``: every other reason
#: (TIME, END, a session-end flatten, ...)
EXIT_STYLE: dict[str, tuple[tuple[str, ...] | None, str, str]] = {
    "target": (("TARGET",), "square", "#1a7f37"), "stop": (("STOP",), "square", "#cf222e"),
    "time / end / other": (None, "square-open", "#57606a")}

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;
 background:#f6f8fa;font-size:13px;line-height:1.35}
main{max-width:1500px;margin:0 auto;padding:6px 14px 30px}
h1{font-size:17px;margin:0}.meta{color:#57606a;font-size:12px}
.controls{display:flex;align-items:center;gap:6px;flex-wrap:wrap;margin:6px 0 4px}
.controls button{font-size:13px;padding:3px 9px;border:1px solid #d0d7de;border-radius:6px;background:#fff;
 cursor:pointer}.controls button:hover{background:#eaeef2}
#pb-slider{flex:1;min-width:220px}#pb-where{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
#pb-trade{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:3px 10px;min-height:18px;
 font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin-top:4px}
table{border-collapse:collapse;font-size:12px;margin-top:4px;background:#fff}
th,td{border-bottom:1px solid #d8dee4;padding:2px 7px;text-align:right}th{background:#f6f8fa}
tbody tr{cursor:pointer}tbody tr:hover td{background:#ddf4ff}
.win{color:#1a7f37}.loss{color:#cf222e}.nodata{color:#57606a;font-style:italic}
"""

PLAYER_JS = r"""
(function () {
  "use strict";
  var FIG = JSON.parse(document.getElementById("playback-figure").textContent);
  var META = JSON.parse(document.getElementById("playback-data").textContent);
  var gd = document.getElementById("playback-chart");
  var N = META.n_bars, TR = META.trades, TIMES = META.times, CANDLE = FIG.data[0];
  var KEYS = ["x", "y", "open", "high", "low", "close", "text", "hovertext", "customdata"];
  var CONFIG = {displaylogo: false, responsive: true, scrollZoom: true};
  var STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 960, 1440, 2880, 5760, 11520];
  var st = {cursor: Math.max(0, N - 1), reveal: true, trade: -1, timer: null, rev: 0, busy: false};
  var lay = FIG.layout;
  function $(id) { return document.getElementById(id); }
  function fmt(v, d) { return (v === null || v === undefined) ? "n/a" : Number(v).toFixed(d); }

  function cut(tr, c) {
    if (!st.reveal || !tr.x || tr.meta === "level" || tr.meta === "band") return tr;  // under the curtain
    var keep = [], i, out = {}, k;
    for (i = 0; i < tr.x.length; i++) if (tr.x[i] === null || tr.x[i] <= c) keep.push(i);
    if (keep.length === tr.x.length) return tr;
    for (k in tr) out[k] = tr[k];
    KEYS.forEach(function (key) {
      if (Array.isArray(tr[key])) out[key] = keep.map(function (j) { return tr[key][j]; });
    });
    return out;
  }

  function shapes(c) {
    var out = [];
    TR.forEach(function (t, k) {
      if (st.reveal && t.entry > c) return;
      var x1 = st.reveal ? Math.min(t.exit, c) : t.exit, w = k === st.trade ? 2 : 1;
      out.push({type: "rect", layer: "below", xref: "x", yref: "y", x0: t.entry - 0.5, x1: x1 + 0.5,
                y0: t.entry_price, y1: t.target, fillcolor: "rgba(26,127,55,0.15)",
                line: {width: w, color: "rgba(26,127,55,0.85)"}});
      out.push({type: "rect", layer: "below", xref: "x", yref: "y", x0: t.entry - 0.5, x1: x1 + 0.5,
                y0: t.entry_price, y1: t.stop, fillcolor: "rgba(207,34,46,0.13)",
                line: {width: w, color: "rgba(207,34,46,0.85)"}});
    });
    if (st.reveal && N > 0) out.push({type: "rect", layer: "above", xref: "x", yref: "paper", x0: c + 0.5,
                                      x1: N + 1e4, y0: 0, y1: 1, fillcolor: "#f6f8fa", line: {width: 0}});
    if (N > 0) out.push({type: "line", xref: "x", yref: "paper", x0: c + 0.5, x1: c + 0.5, y0: 0, y1: 1,
                         line: {color: "#0969da", width: 1.5, dash: "dot"}});
    return out;
  }

  function yRange(x0, x1) {
    var lo = Infinity, hi = -Infinity, i, a = Math.max(0, Math.ceil(x0)), b = Math.min(N - 1, Math.floor(x1));
    if (st.reveal) b = Math.min(b, st.cursor);
    for (i = a; i <= b; i++) { lo = Math.min(lo, CANDLE.low[i]); hi = Math.max(hi, CANDLE.high[i]); }
    TR.forEach(function (t) {
      if (t.exit >= x0 && t.entry <= x1 && (!st.reveal || t.entry <= st.cursor)) {
        lo = Math.min(lo, t.stop, t.target); hi = Math.max(hi, t.stop, t.target);
      }
    });
    if (!isFinite(lo)) return null;
    var near = Math.max(hi - lo, META.tick * 8) * 0.6, lo0 = lo - near, hi0 = hi + near;
    FIG.data.forEach(function (tr) {
      if (tr.meta !== "level" && tr.meta !== "event") return;
      for (var j = 0; j < tr.x.length; j++) {
        var x = tr.x[j], y = tr.y[j];
        if (x === null || y === null || x < x0 || x > x1 || (st.reveal && x > st.cursor)) continue;
        if (y >= lo0 && y <= hi0) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
      }
    });
    var pad = Math.max((hi - lo) * 0.08, META.tick * 4);
    return [lo - pad, hi + pad];
  }

  function ticks(x0, x1) {
    var span = x1 - x0, step = STEPS[STEPS.length - 1], vals = [], text = [], i, prev = null;
    for (i = 0; i < STEPS.length; i++) if (span / STEPS[i] <= 9) { step = STEPS[i]; break; }
    for (i = Math.max(0, Math.ceil(x0 / step) * step); i <= Math.min(N - 1, x1); i += step) {
      var day = TIMES[i].slice(0, 10);
      vals.push(i); text.push(day !== prev ? TIMES[i].slice(5) : TIMES[i].slice(11)); prev = day;
    }
    return {vals: vals, text: text};
  }

  function focus(x0, x1) {
    if (x0 < -0.5) { x0 = -0.5; x1 = Math.max(x1, x0 + 40); }  // no empty space before the first bar
    lay.xaxis.range = [x0, x1]; lay.xaxis.autorange = false;
    var yr = yRange(x0, x1);
    if (yr) { lay.yaxis.range = yr; lay.yaxis.autorange = false; }
  }

  function tradeText() {
    if (st.trade < 0 || !TR.length) return TR.length ? TR.length + " trades: press next trade (PageDown)" : "no trade in these bars";
    var t = TR[st.trade], side = t.dir > 0 ? "LONG" : "SHORT", shown = !st.reveal || t.exit <= st.cursor;
    var s = "trade " + (st.trade + 1) + "/" + TR.length + " \u00b7 " + side + " \u00b7 " + t.call + " call P=" +
      fmt(t.proba, 2) + " \u00b7 signal " + TIMES[t.signal] + " \u00b7 entry " + fmt(t.entry_price, 2) + " stop " +
      fmt(t.stop, 2) + " target " + fmt(t.target, 2);
    if (st.reveal && t.entry > st.cursor) return s + " \u00b7 not filled yet";
    return s + (shown ? " \u00b7 exit " + fmt(t.exit_price, 2) + " " + t.reason + " at " + TIMES[t.exit] +
      " \u00b7 PnL " + fmt(t.pnl, 2) + " (" + fmt(t.r, 2) + " R)" : " \u00b7 open at the cursor");
  }

  function render() {
    var c = st.cursor, r = lay.xaxis.range || [-0.5, N - 0.5], tk = ticks(r[0], r[1]);
    lay.shapes = shapes(c);
    lay.xaxis.tickmode = "array"; lay.xaxis.tickvals = tk.vals; lay.xaxis.ticktext = tk.text;
    lay.datarevision = ++st.rev;
    st.busy = true;
    Plotly.react(gd, FIG.data.map(function (tr) { return cut(tr, c); }), lay, CONFIG).then(function () {
      st.busy = false; lay = gd.layout;
    });
    $("pb-slider").value = c;
    $("pb-where").textContent = N ? "bar " + (c + 1) + "/" + N + " \u00b7 " + TIMES[c] + " UTC \u00b7 data bar " +
      (META.first_bar + c) : "no bars";
    $("pb-trade").textContent = tradeText();
  }

  function lastTradeAt(c) {
    var k = -1;
    TR.forEach(function (t, i) { if (t.signal <= c) k = i; });
    return k;
  }

  function setCursor(c) {
    if (!N) return;
    st.cursor = Math.max(0, Math.min(N - 1, c));
    var r = lay.xaxis.range || [-0.5, N - 0.5], w = r[1] - r[0];
    if (st.cursor > r[1] - 1 || st.cursor < r[0]) { var x1 = st.cursor + w * 0.25; focus(x1 - w, x1); }
    else focus(r[0], r[1]);
    st.trade = lastTradeAt(st.cursor);
    render();
  }

  function gotoTrade(k) {
    if (!TR.length) return;
    st.trade = Math.max(0, Math.min(TR.length - 1, k));
    var t = TR[st.trade], w = Math.max(90, (t.exit - t.signal) * 3 + 30);
    st.cursor = Math.min(N - 1, t.exit + 3);
    focus(st.cursor + 0.2 * w - w, st.cursor + 0.2 * w);  // the trade and its lead-in, the cursor near the right
    render();
  }

  function play() {
    if (st.timer) { clearInterval(st.timer); st.timer = null; $("pb-play").textContent = "\u25b6 play"; return; }
    $("pb-play").textContent = "\u275a\u275a pause";
    st.timer = setInterval(function () {
      if (st.cursor >= N - 1) { play(); return; }
      setCursor(st.cursor + 1);
    }, 180);
  }

  $("pb-slider").max = Math.max(0, N - 1);
  $("pb-slider").addEventListener("input", function (e) { setCursor(parseInt(e.target.value, 10)); });
  $("pb-prev").onclick = function () { setCursor(st.cursor - 1); };
  $("pb-next").onclick = function () { setCursor(st.cursor + 1); };
  $("pb-prev-trade").onclick = function () { gotoTrade(st.trade - 1); };
  $("pb-next-trade").onclick = function () { gotoTrade(st.trade + 1); };
  $("pb-play").onclick = play;
  $("pb-reveal").onchange = function (e) { st.reveal = e.target.checked; setCursor(st.cursor); };
  document.querySelectorAll("tr[data-trade]").forEach(function (row) {
    row.onclick = function () { gotoTrade(parseInt(row.getAttribute("data-trade"), 10)); window.scrollTo(0, 0); };
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
    var done = true;
    if (e.key === "ArrowRight") setCursor(st.cursor + (e.shiftKey ? 10 : 1));
    else if (e.key === "ArrowLeft") setCursor(st.cursor - (e.shiftKey ? 10 : 1));
    else if (e.key === "PageDown") gotoTrade(st.trade + 1);
    else if (e.key === "PageUp") gotoTrade(st.trade - 1);
    else if (e.key === " ") play();
    else done = false;
    if (done) e.preventDefault();
  });

  Plotly.newPlot(gd, FIG.data, lay, CONFIG).then(function () {
    lay = gd.layout;
    gd.on("plotly_relayout", function (ev) {
      if (st.busy || !(ev["xaxis.range[0]"] !== undefined || ev["xaxis.range"] || ev["xaxis.autorange"])) return;
      var r = gd.layout.xaxis.range, tk = ticks(r[0], r[1]), upd = {"xaxis.tickvals": tk.vals, "xaxis.ticktext": tk.text};
      var yr = ev["yaxis.range[0]"] === undefined ? yRange(r[0], r[1]) : null;
      if (yr) upd["yaxis.range"] = yr;
      st.busy = true;
      Plotly.relayout(gd, upd).then(function () { st.busy = false; });
    });
    if (TR.length) gotoTrade(0);
    else if (N) { focus(Math.max(-0.5, N - 300.5), N - 0.5); setCursor(N - 1); }
    else render();
  });
})();
"""


def _clean(values: Any, decimals: int) -> list[float | None]:
    """Numbers as a JSON list: rounded to ``decimals``, NaN/inf as null."""
    arr = np.asarray(values, np.float64)
    return [None if not math.isfinite(v) else round(float(v), decimals) for v in arr]


def _runs(finite: np.ndarray) -> list[tuple[int, int]]:
    """``(a, b)`` inclusive index ranges of the True runs of ``finite``."""
    edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _keep(values: np.ndarray, a: int, b: int) -> np.ndarray:
    """Indices of run ``[a, b]`` where ``values`` changes (both sides of each change) and its ends."""
    v = values[a:b + 1]
    change = np.zeros(v.shape[0], bool)
    change[[0, -1]] = True
    step = v[1:] != v[:-1]
    change[1:] |= step
    change[:-1] |= step
    return a + np.flatnonzero(change)


def _band(level: LevelTrack, half: np.ndarray, compress: bool) -> tuple[list[Any], list[Any]]:
    """Polygon ``(x, y)`` of ``level +/- half`` per defined run (null between runs), for a ``toself`` fill."""
    xs: list[Any] = []
    ys: list[Any] = []
    for a, b in _runs(np.isfinite(level.values)):
        idx = _keep(level.values, a, b) if compress else np.arange(a, b + 1)
        up = level.values[idx] + half[idx]
        down = level.values[idx] - half[idx]
        xs += [int(i) for i in idx] + [int(i) for i in idx[::-1]] + [None]
        ys += _clean(up, 4) + _clean(down[::-1], 4) + [None]
    return xs, ys


def _line(level: LevelTrack) -> tuple[list[Any], list[Any]]:
    """The level's line ``(x, y)``: change points of each defined run, null between runs."""
    xs: list[Any] = []
    ys: list[Any] = []
    for a, b in _runs(np.isfinite(level.values)):
        idx = _keep(level.values, a, b)
        xs += [int(i) for i in idx] + [None]
        ys += _clean(level.values[idx], 4) + [None]
    return xs, ys


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _level_traces(levels: list[LevelTrack]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lv in levels:
        color = TYPE_COLORS.get(lv.type, "#57606a")
        group = f"level {lv.name}"
        mx, my = _band(lv, lv.monitor, compress=False)
        tx, ty = _band(lv, np.full(lv.values.shape[0], lv.touch), compress=True)
        lx, ly = _line(lv)
        common = {"type": "scatter", "mode": "lines", "meta": "band", "legendgroup": group, "showlegend": False,
                  "hoverinfo": "skip", "line": {"width": 0}}
        out.append({**common, "name": f"{lv.name} monitor band", "x": mx, "y": my, "fill": "toself",
                    "fillcolor": _rgba(color, 0.05)})
        out.append({**common, "name": f"{lv.name} touch band (+/- {lv.touch:g})", "x": tx, "y": ty, "fill": "toself",
                    "fillcolor": _rgba(color, 0.16)})
        out.append({"type": "scatter", "mode": "lines", "name": lv.name, "legendgroup": group, "x": lx, "y": ly,
                    "meta": "level", "line": {"color": color, "width": 1.3}, "hovertemplate": f"{lv.name} ({lv.type}) %{{y:.2f}}"
                    "<extra></extra>"})
    return out


def _event_traces(data: PlaybackData) -> list[dict[str, Any]]:
    ev = data.events
    if ev.empty:
        return []
    out = []
    has_p = all(c in ev.columns for c in ("p_break", "p_bounce", "p_chop"))
    label = ev["label"].to_numpy(np.int64)
    for code, (name, symbol, color) in EVENT_STYLE.items():
        rows = ev[label == code]
        if rows.empty:
            continue
        text = []
        for r in _rows(rows):
            side = "from above (support test)" if int(r.side) > 0 else "from below (resistance test)"
            line = f"{name} event: touch of {r.level_name} ({r.level_type}) at {float(r.level_price):.2f}, {side}"
            if has_p:
                line += (f"<br>model P(BREAK)={float(r.p_break):.2f} P(BOUNCE)={float(r.p_bounce):.2f} "
                         f"P(CHOP)={float(r.p_chop):.2f}")
            text.append(line)
        out.append({"type": "scatter", "mode": "markers", "name": f"event {name}", "meta": "event",
                    "x": [int(b) - data.first_bar for b in rows["bar"]], "y": _clean(rows["level_price"], 4),
                    "marker": {"symbol": symbol, "color": color, "size": 9, "line": {"width": 2, "color": color}},
                    "hovertext": text, "hoverinfo": "text"})
    return out


def _call_traces(data: PlaybackData) -> list[dict[str, Any]]:
    calls = data.calls
    if calls.empty or data.bars.empty:
        return []
    out = []
    close = data.bars["close"].to_numpy(np.float64)
    for code, color in ((0, "#bf3989"), (1, "#0598bc")):
        rows = calls[calls["call"].to_numpy(np.int64) == code]
        if rows.empty:
            continue
        pos = rows["signal_bar"].to_numpy(np.int64) - data.first_bar
        text = [f"{CLASS_NAMES[code]} call P={float(p):.2f} -> {'LONG' if int(d) > 0 else 'SHORT'} order"
                + (f" (level {float(lv):.2f})" if math.isfinite(float(lv)) else "")
                for p, d, lv in zip(rows["proba"], rows["direction"], rows["level_price"], strict=True)]
        out.append({"type": "scatter", "mode": "markers", "name": f"{CLASS_NAMES[code]} call (P)",
                    "x": [int(p) for p in pos], "y": _clean(close[pos], 4),
                    "marker": {"symbol": "star", "color": color, "size": 11, "line": {"width": 1, "color": "#fff"}},
                    "hovertext": text, "hoverinfo": "text"})
    return out


def _trade_text(k: int, t: Any) -> str:
    side = "LONG" if int(t.direction) > 0 else "SHORT"
    return (f"trade {k + 1}: {side} {CLASS_NAMES[int(t.call)]} call P={float(t.proba):.2f}<br>entry "
            f"{float(t.entry_price):.2f} stop {float(t.stop_price):.2f} target {float(t.target_price):.2f}<br>exit "
            f"{float(t.exit_price):.2f} {t.exit_reason_name}: PnL {float(t.pnl):,.2f} ({float(t.r_multiple):.2f} R)")


def _trade_traces(data: PlaybackData) -> list[dict[str, Any]]:
    tr = data.trades
    if tr.empty:
        return []
    f = data.first_bar
    rows = _rows(tr)
    text = [_trade_text(k, t) for k, t in enumerate(rows)]
    out = []
    for name, sign, symbol, color in (("entry long", 1, "triangle-up", "#0969da"),
                                      ("entry short", -1, "triangle-down", "#bc4c00")):
        ks = [k for k, t in enumerate(rows) if int(t.direction) == sign]
        if ks:
            out.append({"type": "scatter", "mode": "markers", "name": name,
                        "x": [int(rows[k].entry_bar) - f for k in ks], "y": [float(rows[k].entry_price) for k in ks],
                        "marker": {"symbol": symbol, "color": color, "size": 12, "line": {"width": 1, "color": "#fff"}},
                        "hovertext": [text[k] for k in ks], "hoverinfo": "text"})
    for name, (reasons, symbol, color) in EXIT_STYLE.items():
        named = {r for group in EXIT_STYLE.values() for r in (group[0] or ())}
        ks = [k for k, t in enumerate(rows) if (str(t.exit_reason_name) in reasons if reasons is not None
                                                 else str(t.exit_reason_name) not in named)]
        if ks:
            out.append({"type": "scatter", "mode": "markers", "name": f"exit {name}",
                        "x": [int(rows[k].exit_bar) - f for k in ks], "y": [float(rows[k].exit_price) for k in ks],
                        "marker": {"symbol": symbol, "color": color, "size": 10, "line": {"width": 2, "color": color}},
                        "hovertext": [text[k] for k in ks], "hoverinfo": "text"})
    for name, win, color in (("trade path (win)", True, "#1a7f37"), ("trade path (loss)", False, "#cf222e")):
        ks = [k for k, t in enumerate(rows) if (float(t.pnl) > 0) == win]
        xs: list[Any] = []
        ys: list[Any] = []
        for k in ks:
            t = rows[k]
            xs += [int(t.entry_bar) - f, int(t.exit_bar) - f, None]
            ys += [float(t.entry_price), float(t.exit_price), None]
        if ks:
            out.append({"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": ys, "hoverinfo": "skip",
                        "line": {"color": color, "width": 1.5, "dash": "dash"}})
    return out


def _rows(frame: pd.DataFrame) -> list[Any]:
    """The rows of ``frame`` as named tuples (fields read by name)."""
    return list(frame.itertuples(index=False))


def _times(bars: pd.DataFrame) -> list[str]:
    """``YYYY-MM-DD HH:MM`` (UTC) of each bar."""
    if bars.empty:
        return []
    return list(pd.DatetimeIndex(pd.to_datetime(bars["timestamp"], utc=True)).strftime("%Y-%m-%d %H:%M"))


def figure_and_meta(data: PlaybackData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plotly figure (``data``, ``layout``; trace 0 the candles) and the player's data of ``data``."""
    b, n, times = data.bars, data.n_bars, _times(data.bars)
    candle = {"type": "candlestick", "name": "1-min bars", "x": list(range(n)),
              "open": _clean(b["open"], 4), "high": _clean(b["high"], 4), "low": _clean(b["low"], 4),
              "close": _clean(b["close"], 4), "text": [f"{t} UTC" for t in times], "hoverinfo": "x+y+text",
              "increasing": {"line": {"color": "#57606a", "width": 1}, "fillcolor": "#ffffff"},
              "decreasing": {"line": {"color": "#24292f", "width": 1}, "fillcolor": "#24292f"},
              "whiskerwidth": 0}
    traces = [candle, *_level_traces(data.levels), *_event_traces(data), *_call_traces(data), *_trade_traces(data)]
    layout = {"height": CHART_HEIGHT, "margin": {"l": 70, "r": 10, "t": 10, "b": 40},
              "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "hovermode": "closest", "dragmode": "pan",
              "xaxis": {"rangeslider": {"visible": False}, "gridcolor": "#eaeef2", "zeroline": False,
                        "range": [-0.5, max(n, 1) - 0.5], "title": {"text": "time (UTC)", "font": {"size": 11}}},
              "yaxis": {"gridcolor": "#eaeef2", "zeroline": False, "tickformat": ".2f",
                        "title": {"text": "price (points)", "font": {"size": 11}}},
              "legend": {"font": {"size": 10}, "x": 1.01, "y": 0.94, "xanchor": "left", "yanchor": "top",
                         "tracegroupgap": 2, "itemwidth": 30},
              "font": {"family": "-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"}}
    trades = [{"signal": int(t.signal_bar) - data.first_bar, "entry": int(t.entry_bar) - data.first_bar,
               "exit": int(t.exit_bar) - data.first_bar, "dir": int(t.direction), "call": CLASS_NAMES[int(t.call)],
               "proba": _clean([t.proba], 4)[0], "entry_price": float(t.entry_price), "stop": float(t.stop_price),
               "target": float(t.target_price), "exit_price": float(t.exit_price), "reason": str(t.exit_reason_name),
               "pnl": _clean([t.pnl], 2)[0], "r": _clean([t.r_multiple], 3)[0]}
              for t in _rows(data.trades)]
    meta = {"n_bars": n, "first_bar": int(data.first_bar), "tick": float(data.tick_size), "times": times,
            "trades": trades, "n_events": len(data.events), "n_calls": len(data.calls),
            "levels": [lv.name for lv in data.levels]}
    return {"data": traces, "layout": layout}, meta


def _json(obj: Any) -> str:
    """``obj`` as JSON safe inside a ``<script>`` element (no ``</``), NaN refused."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _trades_table(data: PlaybackData) -> str:
    if data.trades.empty:
        return '<p class="nodata">no trade in these bars</p>'
    head = "".join(f"<th>{h}</th>" for h in ("#", "signal (UTC)", "side", "call", "P", "entry", "stop", "target",
                                             "exit", "exit reason", "bars held", "PnL", "R"))
    times = _times(data.bars)
    rows = []
    for k, t in enumerate(_rows(data.trades)):
        pnl = float(t.pnl)
        cells = (k + 1, times[int(t.signal_bar) - data.first_bar], "LONG" if int(t.direction) > 0 else "SHORT",
                 CLASS_NAMES[int(t.call)], f"{float(t.proba):.2f}", f"{float(t.entry_price):.2f}",
                 f"{float(t.stop_price):.2f}", f"{float(t.target_price):.2f}", f"{float(t.exit_price):.2f}",
                 t.exit_reason_name, int(t.exit_bar) - int(t.entry_bar) + 1, f"{pnl:,.2f}", f"{float(t.r_multiple):.2f}")
        cls = "win" if pnl > 0 else "loss"
        rows.append(f'<tr data-trade="{k}" class="{cls}">' + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            '<p class="meta">click a row to jump to the trade; PnL in currency net of costs, R = multiples of the '
            "initial risk</p>")


def render_playback(data: PlaybackData) -> str:
    """The playback page of ``data`` (module docstring) as one HTML string (~4.9 MB: plotly.js inlined)."""
    from plotly.offline import get_plotlyjs

    figure, meta = figure_and_meta(data)
    notes = "".join(f'<div class="meta">{html.escape(n)}</div>' for n in data.notes)
    counts = (f"{data.n_bars:,} bars, {len(data.levels)} levels, {len(data.events):,} events, {len(data.calls):,} "
              f"calls, {len(data.trades):,} trades")
    controls = ('<div class="controls"><button id="pb-prev-trade" title="PageUp">\u25c0\u25c0 trade</button>'
                '<button id="pb-prev" title="\u2190 (shift: 10 bars)">\u25c0 bar</button>'
                '<button id="pb-play" title="space">\u25b6 play</button>'
                '<button id="pb-next" title="\u2192 (shift: 10 bars)">bar \u25b6</button>'
                '<button id="pb-next-trade" title="PageDown">trade \u25b6\u25b6</button>'
                f'<input type="range" id="pb-slider" min="0" max="{max(data.n_bars - 1, 0)}" value="0">'
                '<label><input type="checkbox" id="pb-reveal" checked> reveal up to the cursor</label>'
                '<span id="pb-where"></span></div><div id="pb-trade"></div>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(data.title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{html.escape(data.title)}</h1>{notes}<div class=\"meta\">{counts}; prices in points; boxes: "
            "take-profit (green) and stop (red) from entry to exit</div>" + controls
            + f'<div class="chart" id="playback-chart" style="height:{CHART_HEIGHT}px"></div>'
            + _trades_table(data) + "</main>"
            + f'<script type="text/javascript">{get_plotlyjs()}</script>'
            + f'<script type="application/json" id="playback-figure">{_json(figure)}</script>'
            + f'<script type="application/json" id="playback-data">{_json(meta)}</script>'
            + f"<script>{PLAYER_JS}</script></body></html>\n")


def write_playback(data: PlaybackData, path: Path) -> Path:
    """Write the playback page of ``data`` to ``path`` (folders made); return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_playback(data), encoding="utf-8")
    return path
