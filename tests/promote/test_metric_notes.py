"""The promote report explains plateau_score where it prints it."""

from __future__ import annotations

import pandas as pd
import pytest

from opt.promote.command import _print_report
from opt.promote.gates import check_gates, metric_notes


def test_plateau_score_is_explained_under_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = {"net_pnl": 900.0, "plateau_score": 0.25, "n_trades": 30.0}
    gates = check_gates({"min_plateau_score": 0.5}, metrics)
    _print_report(metrics, gates, pd.DataFrame())
    out = capsys.readouterr().out
    assert "plateau_score: share of the one-step moves of each bracket parameter" in out
    assert "promote.sensitivity.keep_share x |base|" in out
    assert "FAIL  min_plateau_score: plateau_score=0.25 < 0.5" in out
    assert metric_notes({"net_pnl": 1.0}) == []
