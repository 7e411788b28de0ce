"""The decision report of one promotion: one self-contained HTML file read before betting on a model.

:func:`write_decision_report` writes a :class:`DecisionReport` as one page whose sections (each a
``<section id=...>`` with an ``<h2>``, ids in :data:`SECTIONS`) follow the questions in the order a
quant asks them: the verdict (a PASS / FAIL / FORCED badge and the key test metrics), where the model
comes from (lineage), which gates held, the walk-forward per fold, the test part's equity and drawdown
against dates, the Monte Carlo spread, the cost stress, the regimes that carry the PnL, the overfitting
guards (DSR with its N, PSR, PBO with K and S, plateau score, bracket sensitivity), how often the test
part was read (holdout ledger), the live-vs-batch parity replay and every test trade.

The page opens offline: plotly.js is inlined once, with the first chart, and nothing is loaded from the
network. Every string of the report is HTML-escaped; an empty input renders ``no data: <why>``, NaN
renders ``n/a``. Units: currency amounts are net of commission and slippage in the instrument's
currency; R is a multiple of the trade's initial risk (the stop distance).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opt.promote.gates import Gate

__all__ = ["SECTIONS", "DecisionReport", "fmt_value", "outcome", "render_decision_report",
           "write_decision_report"]

#: (id, heading) of the page's sections, in page order
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Verdict"), ("lineage", "Lineage"), ("gates", "Gates"), ("per-fold", "Walk-forward per fold"),
    ("equity", "Test part: equity and drawdown"), ("monte-carlo", "Monte Carlo"), ("cost-stress", "Cost stress"),
    ("regimes", "Regimes"), ("overfitting", "Overfitting"), ("ledger", "Holdout ledger"),
    ("replay", "Parity replay"), ("trades", "Test trades"))

#: the test metrics shown as tiles under the verdict, with their labels (those present are shown)
KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("net_pnl", "net PnL"), ("n_trades", "trades"), ("sharpe", "Sharpe"), ("max_drawdown", "max drawdown"),
    ("win_rate", "win rate"), ("expectancy_r", "expectancy"), ("precision_at_80", "precision @0.8"),
    ("deflated_sharpe", "DSR"), ("pbo", "PBO"))

#: what each Monte Carlo metric means (its row in the table; other mc_* metrics follow without one)
MC_NOTES: dict[str, str] = {
    "mc_net_pnl_p5": "block bootstrap: net PnL of a resampled test path, 5th percentile (currency)",
    "mc_net_pnl_p50": "block bootstrap: net PnL, median path (currency)",
    "mc_net_pnl_p95": "block bootstrap: net PnL, 95th percentile (currency)",
    "mc_max_drawdown_p5": "block bootstrap: max drawdown of a path (peak to trough), 5th percentile: a mild "
                          "path (currency)",
    "mc_max_drawdown_p50": "block bootstrap: max drawdown, median path (currency)",
    "mc_max_drawdown_p95": "block bootstrap: max drawdown, 95th percentile: a bad path (currency)",
    "mc_sharpe_p5": "block bootstrap: Sharpe ratio of a path, 5th percentile",
    "mc_sharpe_p50": "block bootstrap: Sharpe ratio, median path",
    "mc_sharpe_p95": "block bootstrap: Sharpe ratio, 95th percentile",
    "mc_risk_of_ruin": "block bootstrap: share of paths whose max drawdown reaches the ruin drawdown",
    "mc_r_total_p50": "R reshuffle: total R of the test trades (the order does not change it)",
    "mc_r_max_drawdown_p50": "R reshuffle: max drawdown in R, median order of the trades",
    "mc_r_max_drawdown_p95": "R reshuffle: max drawdown in R, 95th percentile (a bad order)",
    "mc_r_risk_of_ruin": "R reshuffle: share of trade orders whose drawdown reaches the ruin drawdown",
    "mc_paths": "paths (bootstrap) and orders (reshuffle) drawn",
    "mc_block_days": "bootstrap block length, trading days (keeps runs of good and bad days together)",
}

#: what each overfitting metric means (other metrics of ``overfitting`` follow without one)
OVERFITTING_NOTES: dict[str, str] = {
    "deflated_sharpe": "deflated Sharpe ratio of the walk-forward daily PnL: P(true Sharpe > the best of N "
                       "luck-only trials); near 1 = skill beyond the search, 0.5 = what N tries give by luck",
    "psr": "probabilistic Sharpe ratio: P(true Sharpe > 0), walk-forward daily PnL, no deflation for the trials",
    "test_deflated_sharpe": "deflated Sharpe ratio of the test part's daily PnL (few days: wide uncertainty)",
    "n_trials": "N: trials the studies ran (the deflation's number of tries)",
    "var_trial_sharpe": "variance of the stage-2 trials' Sharpe ratios (per day)",
    "dsr_days": "daily observations behind DSR and PSR",
    "pbo": "probability of backtest overfitting (CSCV): how often the in-sample best trial ranks below the "
           "median out of sample; near 0 = robust choice, >= 0.5 = the choice is noise",
    "pbo_trials": "K: trials in the CSCV matrix (best stage-2 trials)",
    "pbo_splits": "S: CSCV blocks the days are cut into",
    "pbo_days": "walk-forward days in the CSCV matrix",
    "plateau_score": "share of one-step bracket moves that keep the test net PnL (1 = a flat plateau, "
                     "near 0 = a spike: fragile values)",
}

_COUNT_NAMES = {"read", "trial", "fold", "exit_bar", "bars", "calls", "signals_live", "signals_batch",
                "differences", "day_index", "n_trials", "mc_paths", "mc_block_days", "pbo_trials", "pbo_splits"}
_COUNT_ENDS = ("_days", "_trades", "_paths", "_bars", "_calls", "_splits", "_events", "_trials")

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;
 background:#f6f8fa;font-size:14px;line-height:1.4}
main{max-width:1340px;margin:0 auto;padding:10px 20px 40px}
header h1{font-size:20px;margin:0}header .meta{color:#57606a;font-size:12px}
nav{font-size:12px;margin:4px 0 8px}nav a{color:#0969da;margin-right:10px;text-decoration:none}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 14px 10px;margin:8px 0}
h2{font-size:16px;margin:2px 0 6px}h3{font-size:14px;margin:10px 0 4px}
.verdict{display:flex;align-items:center;gap:16px;flex-wrap:wrap}
.badge{font-size:30px;font-weight:700;color:#fff;padding:4px 18px;border-radius:6px;letter-spacing:1px}
.PASS{background:#1a7f37}.FAIL{background:#cf222e}.FORCED{background:#bc4c00}
.vtext{font-size:16px;font-weight:600}.sub{color:#57606a;font-size:12px}
.tiles{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:3px 10px;min-width:92px;background:#f6f8fa}
.tile .v{font-size:17px;font-weight:600}.tile .k{font-size:11px;color:#57606a}
dl.lineage{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:0 18px;margin:0;font-size:12px}
dl.lineage div{display:flex;gap:6px;min-width:0}dl.lineage dt{color:#57606a;white-space:nowrap}
dl.lineage dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:12.5px;margin:2px 0}
th,td{border-bottom:1px solid #d8dee4;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#ffebe9}tr.diff td{font-weight:600;border-top:2px solid #8c959f}
.ok{color:#1a7f37;font-weight:700}.bad{color:#cf222e;font-weight:700}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:4px 10px;margin:4px 0}
.nodata{color:#57606a;font-style:italic}
.scroll{max-height:460px;overflow:auto;border:1px solid #d8dee4}
.note{color:#57606a;font-size:12px;margin:2px 0}
"""


@dataclass
class DecisionReport:
    """Everything one promotion decided on; see the module docstring for the page.

    Attributes:
        title: the page title (``opt-ES-csv: promote of stage-2 trial 12``).
        created: when the report was made, ISO 8601 UTC.
        verdict: what happened (``registered opt-ES-csv version 3 as @champion``, ``refused: 2 gate(s)
            failed``, ``forced: registered despite ...``); :func:`outcome` reads the badge from it.
        lineage: study names, run ids, trial numbers, config hash, data fingerprint, git commit, model
            name/version, by name.
        gates: the checked gates (value NaN = not computable, ``reason`` says why).
        metrics: the promote metrics of the test part by name (currency: ``net_pnl``, ``max_drawdown``;
            R: ``expectancy_r``; ratios: ``sharpe``, ``win_rate``, ``precision_at_80``, ...).
        per_fold: the walk-forward per-fold table of the promoted trial (``fold``, ``n_trades``,
            ``net_pnl``, ...); may be empty.
        regimes: ``part`` (walk_forward / test), ``kind``, ``slice``, ``n_trades``, ``win_rate``,
            ``expectancy_r`` (R), ``net_pnl`` (currency), ``share_of_net`` (of the part's net PnL, 0..1).
        regime_flags: warnings on regimes (``test: volatility=high carries 93% of net PnL``).
        mc_metrics: the Monte Carlo metrics of the test part (:data:`MC_NOTES`).
        mc_bands: ``day_index`` (trading day of the test part, 0-based) and ``p5``, ``p50``, ``p95``:
            percentiles of the block bootstrap's cumulative equity, currency.
        cost_stress: one row per case (``base``, ``stressed``): ``commission`` (currency per contract per
            side), ``slippage_ticks``, ``n_trades``, ``net_pnl`` and ``max_drawdown`` (currency), ``sharpe``,
            ``expectancy_r`` (R).
        overfitting: DSR, PSR, PBO and plateau metrics (:data:`OVERFITTING_NOTES`).
        not_computable: why a metric is NaN, by metric name.
        ledger: the holdout ledger, oldest first: ``read`` (1-based), ``time``, ``trial``, ``run_id``,
            ``net_pnl`` (currency), ``sharpe``, ``passed``, ``forced``, ``registered``.
        replay: the parity replay (``bars``, ``calls``, ``signals_live``, ``signals_batch``,
            ``differences`` 0/1, ``first_difference`` text or ""); None when the replay was off.
        trades: the test-part trades: ``timestamp`` (UTC signal time), ``call``, ``direction``, ``proba``,
            ``entry_price``, ``exit_price``, ``pnl`` (currency), ``r_multiple`` (R), ``exit_reason_name``,
            ``exit_bar`` (the order of the exits).
        sensitivity: the bracket sensitivity table (any columns); may be empty.
    """

    title: str
    created: str
    verdict: str
    lineage: dict[str, str]
    gates: list[Gate]
    metrics: dict[str, float]
    per_fold: pd.DataFrame
    regimes: pd.DataFrame
    regime_flags: list[str]
    mc_metrics: dict[str, float]
    mc_bands: pd.DataFrame
    cost_stress: pd.DataFrame
    overfitting: dict[str, float]
    not_computable: dict[str, str]
    ledger: list[dict[str, Any]]
    replay: dict[str, Any] | None
    trades: pd.DataFrame
    sensitivity: pd.DataFrame


def outcome(report: DecisionReport) -> str:
    """The badge: ``FORCED`` when a gate failed and the verdict says the model was registered anyway
    (it starts with ``forced`` or says ``registered`` without starting with ``refused``), ``FAIL`` when a
    gate failed otherwise or the verdict starts with ``refused``, else ``PASS``."""
    verdict = report.verdict.strip().lower()
    refused = verdict.startswith("refused")
    if any(not g.passed for g in report.gates):
        return "FORCED" if verdict.startswith("forced") or ("registered" in verdict and not refused) else "FAIL"
    return "FAIL" if refused else "PASS"


# -- numbers ----------------------------------------------------------------------------------------

def _unit(name: str) -> str:
    """How a column or metric named ``name`` is shown: count, pct, ratio, r, price, money or num."""
    n = name.lower()
    if n in _COUNT_NAMES or n.startswith("n_") or n.endswith(_COUNT_ENDS):
        return "count"
    if "share" in n:
        return "pct"
    if "risk_of_ruin" in n:
        return "ratio"
    if n == "r_multiple" or n.endswith("_r") or "_r_" in n or n.startswith("r_"):
        return "r"
    if "price" in n:
        return "price"
    if any(k in n for k in ("pnl", "drawdown", "commission", "equity")) or n in ("p5", "p50", "p95"):
        return "money"
    return "num"


def _num(v: float) -> str:
    """2-4 significant digits; thousands separated from 1,000 on."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}" if abs(v) >= 1 else f"{v:.3g}"


def fmt_value(name: str, value: Any, *, suffix: bool = False, cents: bool | None = None) -> str:
    """``value`` of the metric or column ``name`` as text: ``n/a`` for None/NaN, currency with thousands
    separators (with cents when ``cents``; None: below 1,000 only), prices with 2 decimals, counts as
    integers, shares as percent, other numbers with 2-4 significant digits, timestamps as
    ``YYYY-MM-DD HH:MM`` (UTC), booleans as yes/no; ``suffix`` appends `` R`` to R multiples."""
    if value is None or value is pd.NaT:
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        stamp = value.tz_convert("UTC") if value.tzinfo is not None else value
        return stamp.strftime("%Y-%m-%d %H:%M")
    if not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    unit = _unit(name)
    if unit == "count" and v == round(v):
        return f"{int(v):,}"
    if unit == "pct":
        return f"{100 * v:.0f}%" if abs(v) >= 0.1 else f"{100 * v:.1f}%"
    if unit == "price":
        return f"{v:,.2f}"
    if unit == "money":
        return f"{v:,.2f}" if (abs(v) < 1000 if cents is None else cents) else f"{v:,.0f}"
    return _num(v) + (" R" if suffix and unit == "r" else "")


# -- html pieces ------------------------------------------------------------------------------------

def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _nodata(why: str) -> str:
    return f'<p class="nodata">no data: {_e(why)}</p>'


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def _table(df: pd.DataFrame, *, row_classes: list[str] | None = None, raw: set[str] | None = None) -> str:
    """``df`` as an HTML table: every cell formatted by :func:`fmt_value` and escaped, numbers right-aligned
    (a currency column without cents when any of its amounts reaches 1,000); the columns in ``raw`` hold
    ready HTML."""
    cents = {str(c): not (pd.to_numeric(df[c], errors="coerce").abs() >= 1000).any() for c in df.columns
             if _unit(str(c)) == "money"}
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    rows = []
    for i, record in enumerate(df.itertuples(index=False, name=None)):
        cells = []
        for col, v in zip(df.columns, record, strict=True):
            text = str(v) if raw and col in raw else _e(fmt_value(str(col), v, cents=cents.get(str(col))))
            cells.append(f'<td class="num">{text}</td>' if _is_number(v) else f"<td>{text}</td>")
        cls = row_classes[i] if row_classes and row_classes[i] else ""
        rows.append((f'<tr class="{cls}">' if cls else "<tr>") + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _kv_table(values: dict[str, float], notes: dict[str, str], reasons: dict[str, str]) -> str:
    """A metric / value / meaning table: the metrics of ``notes`` first (in its order), then the others."""
    names = [k for k in notes if k in values] + sorted(k for k in values if k not in notes)
    rows = []
    for k in names:
        note = notes.get(k, "")
        if k in reasons and (values[k] is None or (_is_number(values[k]) and math.isnan(float(values[k])))):
            note = f"{note} (not computable: {reasons[k]})" if note else f"not computable: {reasons[k]}"
        rows.append(f'<tr><td>{_e(k)}</td><td class="num">{_e(fmt_value(k, values[k], suffix=True))}</td>'
                    f'<td class="note">{_e(note)}</td></tr>')
    return ("<table><thead><tr><th>metric</th><th>value</th><th>meaning</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


class _Charts:
    """Turns plotly figures into HTML, plotly.js inlined with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: Any, height: int) -> str:
        fig.update_layout(height=height, template="plotly_white", margin={"l": 70, "r": 20, "t": 40, "b": 40})
        out = fig.to_html(full_html=False, include_plotlyjs=self.count == 0, include_mathjax=False,
                          default_height=f"{height}px", config={"displaylogo": False, "responsive": True})
        self.count += 1
        return str(out)


# -- sections ---------------------------------------------------------------------------------------

def _summary(r: DecisionReport) -> str:
    badge = outcome(r)
    failed = [g.name for g in r.gates if not g.passed]
    gate_line = (f"{len(r.gates) - len(failed)} of {len(r.gates)} gates passed"
                 + (f"; failed: {', '.join(failed)}" if failed else "")) if r.gates else "no gates configured"
    tiles = "".join(f'<div class="tile"><div class="v">{_e(fmt_value(k, r.metrics[k], suffix=True))}</div>'
                    f'<div class="k">{_e(label)}</div></div>' for k, label in KEY_METRICS if k in r.metrics)
    warn = (f'<p class="warn">{_e(_ledger_warning(len(r.ledger)))}</p>' if len(r.ledger) > 1 else "")
    return (f'<div class="verdict"><span class="badge {badge}">{badge}</span><div>'
            f'<div class="vtext">{_e(r.verdict)}</div><div class="sub">{_e(gate_line)}</div></div></div>'
            + (f'<div class="tiles">{tiles}</div>' if tiles else _nodata("no test metrics")) + warn)


def _lineage(r: DecisionReport) -> str:
    if not r.lineage:
        return _nodata("no lineage recorded")
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v) if str(v) else '-'}</dd></div>" for k, v in r.lineage.items())
    return f'<dl class="lineage">{items}</dl>'


def _gates(r: DecisionReport) -> str:
    if not r.gates:
        return _nodata("no gates were configured (promote.gates all null)")
    rows = pd.DataFrame({
        "gate": [g.name for g in r.gates], "metric": [g.metric for g in r.gates],
        "value": [fmt_value(g.metric, g.value) for g in r.gates], "op": [g.op for g in r.gates],
        "threshold": [fmt_value(g.metric, g.threshold) for g in r.gates],
        "result": ['<span class="ok">PASS</span>' if g.passed else '<span class="bad">FAIL</span>' for g in r.gates],
        "reason": [g.reason for g in r.gates]})
    return _table(rows, row_classes=["" if g.passed else "fail" for g in r.gates], raw={"result"})


def _per_fold(r: DecisionReport) -> str:
    if r.per_fold.empty:
        return _nodata("no walk-forward per-fold table for this trial")
    return _table(r.per_fold)


def _ordered_trades(trades: pd.DataFrame) -> pd.DataFrame:
    key = "exit_bar" if "exit_bar" in trades else "timestamp" if "timestamp" in trades else None
    return trades.sort_values(key, kind="stable") if key else trades


def _equity(r: DecisionReport, charts: _Charts) -> str:
    if r.trades.empty or "pnl" not in r.trades:
        return _nodata("no trades on the test part" if r.trades.empty else "the trades have no pnl column")
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ordered = _ordered_trades(r.trades)
    pnl = ordered["pnl"].to_numpy(float)
    equity = np.concatenate([[0.0], np.cumsum(pnl)])
    drawdown = equity - np.maximum.accumulate(equity)
    stamps = pd.to_datetime(ordered["timestamp"], utc=True, errors="coerce") if "timestamp" in ordered else None
    if stamps is not None and not stamps.isna().any():
        x: list[Any] = [stamps.iloc[0], *stamps]  # equity starts at 0 on the first trade's date
        x_title = "date (UTC, trade signal time; trades in exit order)"
    else:
        x, x_title = list(range(len(equity))), "trade (exit order)"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    fig.add_trace(go.Scatter(x=x, y=equity, mode="lines", line={"shape": "hv", "color": "#1f77b4"},
                             name="equity"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=drawdown, mode="lines", fill="tozeroy", line={"shape": "hv", "color": "#d62728"},
                             name="drawdown"), row=2, col=1)
    fig.update_layout(title=f"test part: {len(pnl):,} trades, net {fmt_value('pnl', equity[-1])}, "
                            f"max drawdown {fmt_value('pnl', drawdown.min())}", showlegend=False)
    fig.update_yaxes(title_text="equity (currency)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", row=2, col=1)
    fig.add_hline(y=0.0, line={"color": "#8c959f", "width": 1}, row=1, col=1)
    fig.update_xaxes(title_text=x_title, row=2, col=1)
    return charts.html(fig, 420)


def _monte_carlo(r: DecisionReport, charts: _Charts) -> str:
    m = r.mc_metrics
    intro = ('<p class="note">Block bootstrap: the test part\'s daily PnL resampled in blocks of '
             f'{_e(fmt_value("mc_block_days", m.get("mc_block_days")))} trading days into '
             f'{_e(fmt_value("mc_paths", m.get("mc_paths")))} paths of the same length. R reshuffle: the '
             'test trades\' R multiples drawn in random orders. A wide band or a p5 below zero says the test '
             'result could be luck of the order of days.</p>')
    bands = r.mc_bands
    if bands.empty or not {"day_index", "p5", "p50", "p95"} <= set(bands.columns):
        chart = _nodata("no Monte Carlo bands (no test days, or the simulation was off)")
    else:
        import plotly.graph_objects as go

        x = bands["day_index"].to_numpy()
        fig = go.Figure([
            go.Scatter(x=x, y=bands["p95"], mode="lines", line={"color": "#6baed6", "width": 1}, name="p95"),
            go.Scatter(x=x, y=bands["p50"], mode="lines", line={"color": "#08519c", "width": 2}, name="p50 (median)"),
            go.Scatter(x=x, y=bands["p5"], mode="lines", line={"color": "#6baed6", "width": 1}, name="p5"),
            go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([bands["p95"].to_numpy(float), bands["p5"].to_numpy(float)[::-1]]),
                       fill="toself", fillcolor="rgba(107,174,214,0.25)", line={"width": 0}, hoverinfo="skip",
                       name="p5-p95 band")])
        fig.update_layout(title="block bootstrap: cumulative equity percentiles p5 / p50 / p95",
                          xaxis_title="trading day of the test part", yaxis_title="equity (currency)")
        chart = charts.html(fig, 340)
    table = _kv_table(m, MC_NOTES, r.not_computable) if m else _nodata("no Monte Carlo metrics")
    return (intro if m else "") + chart + table


def _cost_stress(r: DecisionReport) -> str:
    df = r.cost_stress
    if df.empty:
        return _nodata("no cost stress run")
    rows, classes = df.reset_index(drop=True), [""] * len(df)
    if "case" in df and (df["case"] == "base").any() and len(df) > 1:
        base = df[df["case"] == "base"].iloc[0]
        numeric = [c for c in df.columns if c != "case" and pd.api.types.is_numeric_dtype(df[c])]
        diffs = []
        for _, row in df[df["case"] != "base"].iterrows():
            d: dict[str, Any] = {c: "" for c in df.columns}
            d.update({c: float(row[c]) - float(base[c]) for c in numeric})
            d["case"] = f"difference ({row['case']} - base)"
            diffs.append(d)
        rows = pd.concat([rows, pd.DataFrame(diffs, columns=df.columns)], ignore_index=True)
        classes += ["diff"] * len(diffs)
    note = ('<p class="note">commission: currency per contract per side; slippage in ticks per side; PnL and '
            'drawdown in currency; expectancy in R.</p>')
    return note + _table(rows, row_classes=classes)


def _regimes(r: DecisionReport) -> str:
    flags = "".join(f'<p class="warn">{_e(f)}</p>' for f in r.regime_flags)
    if r.regimes.empty:
        return _nodata("no regime table") + flags
    return _table(r.regimes) + (flags or '<p class="note">no regime flags: no slice carries most of the net PnL.</p>')


def _overfitting(r: DecisionReport) -> str:
    o = r.overfitting
    if not o:
        body = _nodata("no overfitting metrics")
    else:
        n = fmt_value("n_trials", o.get("n_trials"))
        head = (f'<p>DSR = <b>{_e(fmt_value("deflated_sharpe", o.get("deflated_sharpe")))}</b> with N = '
                f'<b>{_e(n)}</b> trials; PSR = <b>{_e(fmt_value("psr", o.get("psr")))}</b>; PBO = '
                f'<b>{_e(fmt_value("pbo", o.get("pbo")))}</b> over K = {_e(fmt_value("pbo_trials", o.get("pbo_trials")))}'
                f' trials and S = {_e(fmt_value("pbo_splits", o.get("pbo_splits")))} splits; plateau score = '
                f'<b>{_e(fmt_value("plateau_score", o.get("plateau_score")))}</b>.</p>')
        body = head + _kv_table(o, OVERFITTING_NOTES, r.not_computable)
    why = "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in r.not_computable.items())
    body += f"<h3>Not computable</h3><ul>{why}</ul>" if why else ""
    sens = _nodata("no bracket sensitivity table") if r.sensitivity.empty else _table(r.sensitivity)
    return body + "<h3>Bracket sensitivity (test net PnL after one-step moves)</h3>" + sens


def _ledger_warning(n: int) -> str:
    return f"the test part has been looked at {n} times: it is no longer an untouched holdout"


def _ledger(r: DecisionReport) -> str:
    if not r.ledger:
        return _nodata("no holdout ledger")
    warn = f'<p class="warn">{_e(_ledger_warning(len(r.ledger)))}</p>' if len(r.ledger) > 1 else ""
    return warn + _table(pd.DataFrame(r.ledger))


def _replay(r: DecisionReport) -> str:
    p = r.replay
    if p is None:
        return _nodata("the parity replay was off (promote.replay.enabled=false)")
    counts = (f"{fmt_value('bars', p.get('bars'))} bars, {fmt_value('calls', p.get('calls'))} live calls, "
              f"signals live {fmt_value('signals_live', p.get('signals_live'))} / batch "
              f"{fmt_value('signals_batch', p.get('signals_batch'))}")
    if not p.get("differences"):
        return f'<p><span class="ok">PASS</span> live replay equals the batch backtest: {_e(counts)}.</p>'
    first = p.get("first_difference") or "not recorded"
    return (f'<p><span class="bad">FAIL</span> live replay differs from the batch backtest: {_e(counts)}.</p>'
            f'<p class="warn">first difference: {_e(first)}</p>')


def _trades(r: DecisionReport) -> str:
    if r.trades.empty:
        return _nodata("no trades on the test part")
    df = _ordered_trades(r.trades).reset_index(drop=True)
    if "timestamp" in df:
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, errors="coerce")
    return f'<p class="note">{len(df):,} trades in exit order.</p><div class="scroll">{_table(df)}</div>'


def render_decision_report(report: DecisionReport) -> str:
    """The report's HTML page (module docstring) as one string."""
    charts = _Charts()
    bodies = {"summary": _summary(report), "lineage": _lineage(report), "gates": _gates(report),
              "per-fold": _per_fold(report), "equity": _equity(report, charts),
              "monte-carlo": _monte_carlo(report, charts), "cost-stress": _cost_stress(report),
              "regimes": _regimes(report), "overfitting": _overfitting(report), "ledger": _ledger(report),
              "replay": _replay(report), "trades": _trades(report)}
    nav = "".join(f'<a href="#{sid}">{_e(head)}</a>' for sid, head in SECTIONS)
    sections = "\n".join(f'<section id="{sid}"><h2>{_e(head)}</h2>{bodies[sid]}</section>' for sid, head in SECTIONS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body><main>"
            f'<header><h1>{_e(report.title)}</h1><div class="meta">decision report, created {_e(report.created)}; '
            "currency amounts net of costs; R = multiples of the initial risk</div></header>"
            f"<nav>{nav}</nav>\n{sections}\n</main></body></html>\n")


def write_decision_report(report: DecisionReport, path: Path) -> Path:
    """Write ``report`` as one self-contained HTML file at ``path`` (folders made); return ``path``.

    The file needs no network (plotly.js inlined once when there is a chart: ~4.9 MB; without charts a
    few tens of kB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_decision_report(report), encoding="utf-8")
    return path
