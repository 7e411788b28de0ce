"""The promotion's decision report (opt.promote.decision_report): one offline HTML page, checked as text and
in headless Chromium (the plotly charts drawn, a screenshot that is not blank, saved in
``/tmp/opt-report-screenshots/``; skipped when Chromium is not installed)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opt.promote.decision_report import SECTIONS, DecisionReport, fmt_value, outcome, write_decision_report
from opt.promote.gates import Gate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
SHOTS = Path("/tmp/opt-report-screenshots")
EVIL = "<script>alert(1)</script>"


def _trades(n: int = 60, seed: int = 3) -> pd.DataFrame:
    """``n`` test trades over three months (Jan-Mar 2024), a slight edge."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-01-02", "2024-03-28", tz="UTC")
    stamps = (pd.DatetimeIndex(rng.choice(days, n)) + pd.to_timedelta(rng.integers(14 * 60, 20 * 60, n), "min")).sort_values()
    r = rng.choice([-1.0, 1.6], n, p=[0.55, 0.45])
    direction = rng.choice([-1, 1], n)
    entry = 4800 + np.cumsum(rng.normal(0, 5, n))
    return pd.DataFrame({
        "timestamp": stamps, "call": rng.choice(["BREAK", "BOUNCE"], n), "direction": direction,
        "proba": rng.uniform(0.55, 0.95, n).round(3), "entry_price": (entry * 4).round() / 4,
        "exit_price": (entry * 4).round() / 4 + direction * r * 6,
        "pnl": r * 300 - 4.5, "r_multiple": r, "exit_reason_name": np.where(r > 0, "target", "stop"),
        "exit_bar": np.arange(n) * 40 + rng.integers(1, 30, n)})


def _report() -> DecisionReport:
    trades = _trades()
    daily = trades.groupby(trades["timestamp"].dt.date)["pnl"].sum().to_numpy()
    days = np.arange(len(daily))
    rng = np.random.default_rng(5)
    paths = np.cumsum(rng.choice(daily, (500, len(daily))), axis=1)
    bands = pd.DataFrame({"day_index": days, "p5": np.percentile(paths, 5, axis=0),
                          "p50": np.percentile(paths, 50, axis=0), "p95": np.percentile(paths, 95, axis=0)})
    nan = float("nan")
    gates = [Gate("min_trades", "n_trades", ">=", 20.0, 60.0, True),
             Gate("max_pbo", "pbo", "<=", 0.5, 0.625, False),
             Gate("min_deflated_sharpe", "deflated_sharpe", ">=", 0.95, nan, False,
                  "not computable: 14 daily observations < promote.dsr.min_days=20")]
    equity = np.concatenate([[0.0], trades["pnl"].cumsum()])
    net, max_dd = float(equity[-1]), float((equity - np.maximum.accumulate(equity)).min())
    metrics = {"net_pnl": net, "n_trades": 60.0, "sharpe": 1.234, "max_drawdown": max_dd,
               "win_rate": 0.45, "expectancy_r": 0.17, "precision_at_80": 0.5714, "deflated_sharpe": nan, "pbo": 0.625}
    per_fold = pd.DataFrame({"fold": range(4), "n_trades": [31, 28, 40, 35], "net_pnl": [1200.0, -450.5, 3100.0, 80.0],
                             "sharpe": [0.9, -0.3, 1.8, 0.05], "win_rate": [0.48, 0.39, 0.52, 0.44]})
    regimes = pd.DataFrame({"part": ["walk_forward", "walk_forward", "test", "test"],
                            "kind": ["volatility"] * 4, "slice": ["low", "high", "low", "high"],
                            "n_trades": [70, 64, 31, 29], "win_rate": [0.44, 0.47, 0.42, 0.48],
                            "expectancy_r": [0.05, 0.2, 0.02, 0.31], "net_pnl": [900.0, 3030.0, 400.0, 5300.0],
                            "share_of_net": [0.23, 0.77, 0.07, 0.93]})
    cost = pd.DataFrame({"case": ["base", "stressed"], "commission": [2.25, 4.5], "slippage_ticks": [1.0, 2.0],
                         "n_trades": [60, 60], "net_pnl": [net, net - 1350.0], "sharpe": [1.234, 0.941],
                         "max_drawdown": [max_dd, max_dd - 464.5], "expectancy_r": [0.17, 0.12]})
    mc = {"mc_net_pnl_p5": -1850.0, "mc_net_pnl_p50": 5600.0, "mc_net_pnl_p95": 13200.0,
          "mc_max_drawdown_p5": 1400.0, "mc_max_drawdown_p50": 2900.0, "mc_max_drawdown_p95": 6100.0,
          "mc_sharpe_p5": -0.4, "mc_sharpe_p50": 1.2, "mc_sharpe_p95": 2.7, "mc_risk_of_ruin": 0.012,
          "mc_r_total_p50": 10.2, "mc_r_max_drawdown_p50": 6.0, "mc_r_max_drawdown_p95": 11.0,
          "mc_r_risk_of_ruin": 0.004, "mc_paths": 500.0, "mc_block_days": 5.0}
    overfitting = {"deflated_sharpe": nan, "psr": 0.81, "n_trials": 112.0, "var_trial_sharpe": 0.0031,
                   "dsr_days": 14.0, "test_deflated_sharpe": 0.42, "pbo": 0.625, "pbo_trials": 16.0,
                   "pbo_splits": 8.0, "pbo_days": 180.0, "plateau_score": 0.75}
    ledger = [{"read": 1, "time": "2024-04-02T10:00:00+00:00", "trial": 9, "run_id": "a1b2c3", "net_pnl": 2100.0,
               "sharpe": 0.7, "passed": False, "forced": False, "registered": False},
              {"read": 2, "time": "2024-04-05T16:30:00+00:00", "trial": 12, "run_id": "d4e5f6", "net_pnl": net,
               "sharpe": 1.234, "passed": False, "forced": False, "registered": False}]
    sensitivity = pd.DataFrame({"parameter": ["bracket.stop_atr", "bracket.stop_atr", "bracket.tp_offset_atr"],
                                "step": [-1, 1, 1], "value": [0.9, 1.1, 2.2], "net_pnl": [5100.0, 6020.0, 2400.0]})
    return DecisionReport(
        title="opt-ES-csv: promote of stage-2 trial 12", created="2024-04-05T16:31:02+00:00",
        verdict="refused: 2 gate(s) failed",
        lineage={"opt.study": "opt-ES-csv", "opt.stage2_study": "opt-ES-csv-stage2", "opt.stage2_trial": "12",
                 "opt.stage2_run": "d4e5f6", "opt.config_hash": "9f8e7d6c", "opt.data_fingerprint": "sha256:0a1b2c",
                 "opt.git_commit": "5ce4694", "opt.note": EVIL},
        gates=gates, metrics=metrics, per_fold=per_fold, regimes=regimes,
        regime_flags=["test: volatility=high carries 93% of net PnL"], mc_metrics=mc, mc_bands=bands,
        cost_stress=cost, overfitting=overfitting,
        not_computable={"deflated_sharpe": "14 daily observations < promote.dsr.min_days=20"},
        ledger=ledger, replay={"bars": 12000, "calls": 310, "signals_live": 60, "signals_batch": 60,
                               "differences": 0, "first_difference": ""},
        trades=trades, sensitivity=sensitivity)


def _empty_report() -> DecisionReport:
    nan = float("nan")
    return DecisionReport(
        title="opt-ES-csv: promote of stage-2 trial 0", created="2024-04-05T16:31:02+00:00",
        verdict="refused: 1 gate(s) failed", lineage={}, gates=[Gate("min_trades", "n_trades", ">=", 20.0, 0.0, False)],
        metrics={"net_pnl": 0.0, "n_trades": 0.0, "sharpe": nan}, per_fold=pd.DataFrame(), regimes=pd.DataFrame(),
        regime_flags=[], mc_metrics={}, mc_bands=pd.DataFrame(), cost_stress=pd.DataFrame(), overfitting={},
        not_computable={"sharpe": "no trades"}, ledger=[{"read": 1, "time": "2024-04-05T16:31:02+00:00",
                                                         "trial": 0, "run_id": "x", "net_pnl": 0.0, "sharpe": nan,
                                                         "passed": False, "forced": False, "registered": False}],
        replay=None, trades=pd.DataFrame(), sensitivity=pd.DataFrame())


def _section(page: str, sid: str) -> str:
    found = re.search(rf'<section id="{sid}">(.*?)</section>', page, flags=re.S)
    assert found, f"section {sid} missing"
    return found.group(1)


def test_page_has_every_section_in_order_and_the_gates(tmp_path: Path) -> None:
    page = write_decision_report(_report(), tmp_path / "report" / "decision_report.html").read_text()
    at = [page.find(f'<section id="{sid}"><h2>') for sid, _ in SECTIONS]
    assert all(i >= 0 for i in at) and at == sorted(at), dict(zip([s for s, _ in SECTIONS], at, strict=True))
    assert '<span class="badge FAIL">FAIL</span>' in _section(page, "summary")
    gates = _section(page, "gates")
    assert gates.count('<tr class="fail">') == 2 and gates.count(">PASS<") == 1
    assert "max_pbo" in gates and "0.625" in gates and "0.5" in gates
    assert "not computable: 14 daily observations &lt; promote.dsr.min_days=20" in gates
    assert re.search(r"<td>min_deflated_sharpe</td><td>deflated_sharpe</td><td>n/a</td>", gates)
    warning = "the test part has been looked at 2 times: it is no longer an untouched holdout"
    assert warning in _section(page, "ledger")
    assert "DSR = <b>n/a</b> with N = <b>112</b> trials" in _section(page, "overfitting")
    assert "K = 16 trials and S = 8 splits" in _section(page, "overfitting")
    assert "difference (stressed - base)" in _section(page, "cost-stress") and "-1,350" in page
    assert "volatility=high carries 93% of net PnL" in _section(page, "regimes")
    assert "live replay equals the batch backtest" in _section(page, "replay")
    assert _section(page, "trades").count("<tr>") == 61  # header + 60 trades
    assert "2024-01-" in _section(page, "trades") and "no data" not in page
    assert f"{_report().metrics['net_pnl']:,.0f}" in _section(page, "summary")  # thousands separated, no cents
    assert re.search(r"<td class=\"num\">4,8\d\d\.\d\d</td>", _section(page, "trades"))  # prices with decimals
    # escaping: the lineage value shows as text, never as a script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(page, "lineage") and EVIL not in page
    # offline: plotly.js inlined once, no script or stylesheet from the network
    assert page.count("Plotly.newPlot(") == 2 and page.count("* plotly.js v") == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?://", page, flags=re.I)
    assert not re.search(r"@import\s+url\([\"']?https?://", page, flags=re.I)


def test_an_empty_report_says_no_data(tmp_path: Path) -> None:
    page = write_decision_report(_empty_report(), tmp_path / "empty.html").read_text()
    for sid in ("lineage", "per-fold", "equity", "monte-carlo", "cost-stress", "regimes", "overfitting", "replay",
                "trades"):
        assert '<p class="nodata">no data: ' in _section(page, sid), sid
    assert "parity replay was off" in _section(page, "replay")
    assert "looked at" not in page and "<tr>" in _section(page, "ledger")
    assert "Plotly" not in page and len(page) < 50_000  # no chart, no plotly.js
    assert "n/a" in _section(page, "summary")


@pytest.mark.parametrize(("verdict", "failed", "badge"), [
    ("registered opt-ES-csv version 3 as @champion", False, "PASS"),
    ("refused: 2 gate(s) failed", True, "FAIL"),
    ("forced: registered despite failed gate(s): max_pbo", True, "FORCED"),
])
def test_badge(verdict: str, failed: bool, badge: str) -> None:
    report = _empty_report()
    report.verdict = verdict
    report.gates = [Gate("max_pbo", "pbo", "<=", 0.5, 0.7 if failed else 0.2, not failed)]
    assert outcome(report) == badge


def test_numbers_read_well() -> None:
    assert fmt_value("net_pnl", 12345.678) == "12,346" and fmt_value("net_pnl", -12.3) == "-12.30"
    assert fmt_value("n_trades", 60.0) == "60" and fmt_value("mc_paths", 10000.0) == "10,000"
    assert fmt_value("sharpe", 1.23456) == "1.235" and fmt_value("psr", 0.012345) == "0.0123"
    assert fmt_value("expectancy_r", 0.17, suffix=True) == "0.17 R" and fmt_value("share_of_net", 0.93) == "93%"
    assert fmt_value("sharpe", math.nan) == "n/a" and fmt_value("x", None) == "n/a"
    assert fmt_value("mc_r_risk_of_ruin", 0.004) == "0.004" and fmt_value("passed", True) == "yes"


def _chromium(*args: str, url: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--window-size=1400,900", "--virtual-time-budget=8000",
                           *args, url], capture_output=True, text=True, timeout=180)


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium not found on PATH: install it (e.g. apt-get install -y chromium) to render the report")
    path = write_decision_report(_report(), tmp_path / "decision_report.html")
    url = path.resolve().as_uri()
    dom = _chromium("--dump-dom", url=url, profile=tmp_path / "profile-dom").stdout
    assert '<section id="gates">' in dom
    assert '<svg class="main-svg"' not in path.read_text()  # so the next line counts what plotly.js drew
    assert dom.count('class="plot-container plotly"') == 2, "the equity and Monte Carlo charts were not drawn"
    assert dom.count('<svg class="main-svg"') >= 2
    png = tmp_path / "decision_report.png"
    result = _chromium(f"--screenshot={png}", url=url, profile=tmp_path / "profile-shot")
    assert png.is_file(), result.stderr[-2000:]
    import matplotlib.image

    pixels = np.asarray(matplotlib.image.imread(str(png)), dtype=np.float64)[..., :3].mean(axis=2)
    assert pixels.std() > 0.05 and len(np.unique(pixels.round(3))) > 50, "the screenshot looks blank"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, SHOTS / "decision_report.png")
