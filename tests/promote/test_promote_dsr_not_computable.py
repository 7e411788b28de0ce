"""Issue #9 C: a deflated Sharpe ratio that cannot deflate (trial-Sharpe variance 0 or unknown) or rests on too
few days is 'not computable': NaN with a reason, and a failed gate that names the reason; never the PSR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from opt.promote.gates import check_gates
from opt.promote.guards import dsr

from tests.helpers.config import REPO

GATE = {"min_deflated_sharpe": 0.95}
# 60 days of a strong per-day Sharpe ratio (~1): its PSR is ~1, so a DSR that fell back to it would pass 0.95
STRONG = np.random.default_rng(11).normal(1.0, 1.0, 60)


@pytest.mark.parametrize(("sharpes", "why"), [
    (np.array([1.3]), "variance unknown"),  # one complete stage-2 trial
    (np.array([]), "variance unknown"),  # none
    (np.array([0.8, 0.8, 0.8]), "variance is 0"),  # all equal
])
def test_zero_or_unknown_trial_sharpe_variance_is_not_computable(sharpes: np.ndarray, why: str) -> None:
    out = dsr(STRONG, n_trials=12, trial_sharpes=sharpes, min_days=20)
    assert math.isnan(out.values["deflated_sharpe"]) and math.isnan(out.values["sr0"])
    assert out.values["psr"] > 0.95  # the PSR itself is computable (60 days), just not a DSR
    assert why in out.reasons["deflated_sharpe"] and "psr" not in out.reasons
    (gate,) = check_gates(GATE, out.values, reasons=out.reasons)
    assert not gate.passed
    assert gate.reason == f"not computable: {out.reasons['deflated_sharpe']}"
    assert gate.describe().startswith("min_deflated_sharpe: deflated_sharpe=not computable: ")
    assert why in gate.describe()


def test_two_days_are_not_computable_for_dsr_and_psr() -> None:
    out = dsr(np.array([10.0, 11.0]), n_trials=12, trial_sharpes=np.array([0.5, 1.0, 2.0]), min_days=20)
    assert math.isnan(out.values["deflated_sharpe"]) and math.isnan(out.values["psr"])
    assert out.values["n_obs"] == 2.0
    for key in ("deflated_sharpe", "psr"):
        assert "2 daily observations" in out.reasons[key] and "promote.dsr.min_days=20" in out.reasons[key]
    gates = check_gates({"min_deflated_sharpe": 0.95, "min_psr": 0.5}, out.values, reasons=out.reasons)
    assert [g.passed for g in gates] == [False, False]
    assert all("not computable: 2 daily observations" in g.describe() for g in gates)


def test_enough_days_and_a_spread_of_trials_deflate() -> None:
    out = dsr(STRONG, n_trials=12, trial_sharpes=np.array([0.5, 1.0, 2.0]), min_days=20)
    assert out.reasons == {}
    assert out.values["sr0"] > 0 and 0.0 <= out.values["deflated_sharpe"] < out.values["psr"]
    assert dsr(STRONG[:20], n_trials=12, trial_sharpes=np.array([0.5, 1.0]), min_days=20).reasons == {}


def test_min_days_must_allow_a_sharpe_ratio() -> None:
    with pytest.raises(ValueError, match="min_days"):
        dsr(STRONG, n_trials=12, trial_sharpes=np.array([0.5, 1.0]), min_days=1)


def test_shipped_config_sets_min_days() -> None:
    promote = yaml.safe_load((REPO / "conf" / "promote" / "default.yaml").read_text())
    assert isinstance(promote["dsr"]["min_days"], int) and promote["dsr"]["min_days"] >= 20


def test_a_nan_gate_without_a_known_reason_still_says_not_computable() -> None:
    (gate,) = check_gates({"max_pbo": 0.5}, {"pbo": math.nan})
    assert not gate.passed and gate.reason.startswith("not computable")
