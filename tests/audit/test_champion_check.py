"""The champion in the look-ahead check (opt.audit._champion): its probabilities and signals up to the cut."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.audit import audit_params, compare_signals, run_audit
from opt.audit._champion import Champion, champion_outputs, compare_champion
from opt.models import ModelData
from opt.promote.command import POLICY_SECTIONS
from opt.promote.policy import SignalPolicy

from tests.helpers.config import compose_config
from tests.helpers.dataset import synthetic
from tests.helpers.tiny_study import COMMON, config, run_cli, tiny_study


class _FromFeatures:
    """Causal: P(BREAK) from the event's first feature (the bars up to the touch)."""

    def fit(self, *args: Any, **kwargs: Any) -> _FromFeatures:
        return self

    def predict_proba(self, data: ModelData) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-np.asarray(data.features[:, 0], dtype=np.float64)))
        return np.column_stack([0.9 * p, 0.9 * (1.0 - p), np.full(p.shape, 0.1)])


class _Peeking(_FromFeatures):
    """PLANTED LOOK-AHEAD: P(BREAK) 0.9 when the NEXT bar closes higher than the touch bar."""

    def predict_proba(self, data: ModelData) -> np.ndarray:
        close, u = data.ohlcv[:, 3], data.bar_index
        up = (close[np.minimum(u + 1, close.shape[0] - 1)] > close[u]).astype(np.float64)
        return np.column_stack([0.05 + 0.85 * up, 0.9 - 0.85 * up, np.full(up.shape, 0.05)])


CFG = compose_config(["bracket.confidence=0.5", "audit.n_cuts=3", "audit.offsets=[1]"])


def _policy(model: Any) -> SignalPolicy:
    sections = OmegaConf.to_container(OmegaConf.masked_copy(CFG, list(POLICY_SECTIONS)), resolve=True)
    assert isinstance(sections, dict)
    return SignalPolicy(cfg={**{str(k): v for k, v in sections.items()}, "data": {"tz": None}}, model=model)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic(n_days=9)


def test_a_causal_champion_gives_the_same_probabilities_and_signals_up_to_the_cut(bars) -> None:
    result = run_audit(CFG, bars, audit_params(CFG), champion=Champion("models:/causal@champion", "1",
                                                                        _policy(_FromFeatures())))
    assert result.champion == {"uri": "models:/causal@champion", "version": "1"}
    assert result.differences == [] and len(result.cuts) == 3
    full = champion_outputs(_policy(_FromFeatures()), bars)
    assert len(full.signals) > 10  # the comparison covers real signals


def test_a_peeking_champion_is_caught_at_the_cut(bars) -> None:
    peeking = _policy(_Peeking())
    result = run_audit(CFG, bars, audit_params(CFG), champion=Champion("models:/peek@champion", "2", peeking))
    found = {(d.kind, d.column) for d in result.differences}
    assert found and all(kind == "champion" for kind, _ in found)  # the data and the features are clean
    assert ("champion", "p_break") in found and any(c.startswith("signal") for _, c in found)
    assert {d.bar for d in result.differences if d.column == "p_break"} <= set(result.cuts)  # at the cut itself
    assert "look-ahead in champion" in result.failure()


def test_compare_champion_directly(bars) -> None:
    policy = _policy(_Peeking())
    full = champion_outputs(policy, bars)
    close = bars["close"].to_numpy()
    ups = [b for b in full.events["bar"] if 7_000 < b < len(bars) - 1 and close[b + 1] > close[b]]
    t = int(ups[0])
    cut = champion_outputs(policy, bars.iloc[: t + 1].reset_index(drop=True))
    raw = compare_champion(full, cut, t, tolerance=0.0)
    assert ("champion", "p_break") in {r[:2] for r in raw}
    assert all(r[2] == t for r in raw)  # nothing before the cut changes
    assert compare_champion(full, full, t, tolerance=0.0) == []


def test_compare_signals_matches_on_bar_and_direction() -> None:
    full = pd.DataFrame({"bar": [10, 20, 30, 40], "direction": [1, -1, 1, 1], "call": ["BREAK"] * 4,
                         "probability": [0.7, 0.8, 0.9, 0.6], "entry": [1.0, 2.0, 3.0, 4.0]})
    same = full.copy()
    assert compare_signals(full, same, 35, tolerance=0.0) == []
    other = full.copy()
    other.loc[1, "probability"] = 0.8 + 1e-12   # within a tolerance of 1e-9
    other.loc[2, "call"] = "BOUNCE"
    other.loc[3, "entry"] = 99.0                # after the cut: not compared
    assert compare_signals(full, other, 35, tolerance=1e-9) == [("champion", "signal.call", 30, "BREAK", "BOUNCE")]
    assert ("champion", "signal.probability", 20, 0.8, 0.8 + 1e-12) in compare_signals(full, other, 35, tolerance=0)
    missing = full.drop(index=1)
    assert compare_signals(full, missing, 35, tolerance=0.0) == [("champion", "signal", 20, "present", "absent")]


@pytest.mark.slow
def test_audit_checks_the_registered_champion_of_a_tiny_study(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``audit.champion=true`` on a promoted tiny study (synthetic bars): its signals pass the check."""
    from opt.promote.command import promote_command

    study = tiny_study(tmp_path_factory)
    with contextlib.chdir(study):
        assert promote_command(config("promote.force=true", "promote.replay.enabled=false")) == 0
    run = run_cli(["audit", *COMMON, "audit.champion=true", "audit.n_cuts=4"], study)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((Path(study) / "experiments" / "tiny" / "audit.json").read_text())
    assert report["champion"]["uri"] == "models:/opt-MES-tiny@champion" and report["passed"]
    assert "champion: models:/opt-MES-tiny@champion" in run.stdout
