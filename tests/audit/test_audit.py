"""``python -m opt audit`` on the real ES file: passes with the defaults, catches a planted look-ahead feature
by name and time, lets a causal custom feature through, and refuses a missing champion when one is required."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opt.audit import AUDIT_FAILED_EXIT_CODE
from opt.errors import USER_ERROR_EXIT_CODE

from tests.helpers.config import ES_CSV, REPO

pytestmark = pytest.mark.slow  # the real CLI in a subprocess, about 8 s per run on the ES file

ES = ["data=csv", f"data.path={ES_CSV}", "instrument=es"]
REPORT = Path("experiments") / "opt-ES-csv" / "audit.json"
PLANTED = "features.custom=[{_target_: tests.helpers.planted_features.future_close}]"
TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"


@pytest.fixture
def es_file() -> Path:
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV} (../shared/data/ES_1min.csv beside the repo)")
    return ES_CSV


def audit(args: list[str], cwd: Path, *, repo_on_path: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m opt audit ARGS`` in ``cwd``; ``repo_on_path`` makes ``tests.helpers`` importable."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    if repo_on_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "opt", "audit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_defaults_pass_on_es_and_the_report_has_the_warmup_table(es_file: Path, tmp_path: Path) -> None:
    run = audit(ES, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "audit passed" in run.stdout and "no difference" in run.stdout
    report = json.loads((tmp_path / REPORT).read_text())
    assert report["passed"] and report["lookahead"]["differences"] == []
    assert len(report["lookahead"]["cuts"]) == 20 and report["champion"] is None
    rows = {r["state"]: r for r in report["warmup"]["rows"]}
    assert {"onh", "pdh", "sma_200", "vwap_session", "vwap_weekly", "atr_1m", "atr_15m", "events", "labels",
            "velocity_60", "dist_level_atr"} <= set(rows)
    assert all(r["covered"] for r in rows.values())
    # what the default events.warmup_bars (one Globex week) is for: the weekly VWAP and what reads it
    warmup = report["events.warmup_bars"]
    assert warmup == 6900
    assert 0 < rows["atr_1m"]["bars"] < rows["atr_15m"]["bars"] < rows["vwap_weekly"]["bars"] <= warmup
    assert max(r["bars"] for r in rows.values()) > 5000
    assert rows["sma_200"]["bars"] == 0  # unknown (NaN) until 200 completed bars, then exact


def test_a_planted_lookahead_feature_fails_naming_the_column_and_time(es_file: Path, tmp_path: Path) -> None:
    run = audit([*ES, PLANTED, "audit.n_cuts=4"], tmp_path, repo_on_path=True)
    assert run.returncode == AUDIT_FAILED_EXIT_CODE, run.stdout[-3000:] + run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"opt: audit failed: look-ahead in feature custom_future_close at {TIME} \(4 cut\(s\)\)",
                        last), last
    assert re.search(rf"look-ahead: feature custom_future_close at {TIME} changes when bars after {TIME} are "
                     r"removed \(cut 1\)", run.stdout)
    report = json.loads((tmp_path / REPORT).read_text())
    assert not report["passed"]
    assert [c["column"] for c in report["lookahead"]["columns"]] == ["custom_future_close"]
    diffs = report["lookahead"]["differences"]
    assert {d["variant"] for d in diffs} == {"removed", "replaced"} and {d["cut"] for d in diffs} == {1, 2, 3, 4}
    # close shifted by -5 bars: the first row that changes is 5 bars before the cut (1-minute bars)
    assert all(0 <= d["cut_bar"] - d["bar"] <= 5 for d in diffs)


def test_a_causal_custom_feature_from_the_working_directory_passes(es_file: Path, tmp_path: Path) -> None:
    (tmp_path / "my_features.py").write_text(
        "def gap(bars, lag=5):\n"
        "    return (bars['close'] - bars['close'].shift(lag)).to_frame('gap')\n")
    run = audit([*ES, "features.custom=[{_target_: my_features.gap, lag: 5}]", "audit.n_cuts=4"], tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = {r["state"]: r for r in json.loads((tmp_path / REPORT).read_text())["warmup"]["rows"]}
    assert rows["custom_gap"]["kind"] == "feature" and rows["custom_gap"]["covered"]


def test_a_custom_feature_that_cannot_be_imported_is_a_config_error(es_file: Path, tmp_path: Path) -> None:
    run = audit([*ES, "features.custom=[{_target_: nowhere.gap}]"], tmp_path)
    assert run.returncode == USER_ERROR_EXIT_CODE
    assert run.stderr.strip().splitlines()[-1].startswith("opt: error: features.custom[0]: cannot import _target_ "
                                                          "'nowhere.gap'")


def test_a_required_champion_that_is_not_registered_is_a_user_error(tmp_path: Path) -> None:
    run = audit(["data.synthetic.n_days=8", "audit.champion=true"], tmp_path)
    assert run.returncode == USER_ERROR_EXIT_CODE, run.stderr[-3000:]
    assert "audit.champion=true: no MLflow store" in run.stderr
    assert "Traceback" not in run.stderr
