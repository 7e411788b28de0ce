"""End-to-end: a stage-1 search with ``outcome=triple_barrier`` through the real CLI on the ES file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers.cli import STAGE1_METRICS, run_cli, runs_of

pytestmark = pytest.mark.slow


def test_stage1_searches_the_triple_barrier_on_real_es(workdir: Path, es_csv: Path) -> None:
    result = run_cli(["run", "+stage=1", "data=csv", f"data.path={es_csv}", "instrument=es", "outcome=triple_barrier",
                      "data.end=2025-10-15", "search.n_trials=2", "search.study_name=tb"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    children = [r for r in runs_of(workdir, "tb") if r.data.tags.get("opt.role") == "trial"]
    assert len(children) == 2
    for child in children:
        params = child.data.params
        # the triple barrier's parameters are searched, the threshold rule's are not (only_if)
        assert {"outcome.upper_atr", "outcome.lower_atr", "outcome.horizon"} <= set(params)
        assert params["outcome.method"] == "triple_barrier" and "outcome.threshold" not in params
        assert 10 <= int(params["outcome.horizon"]) <= 60
        if child.data.tags["opt.trial_state"] == "COMPLETE":
            assert set(STAGE1_METRICS) <= set(child.data.metrics)
            shares = [child.data.metrics[f"{c}_rate"] for c in ("break", "bounce", "chop")]
            assert sum(shares) == pytest.approx(1.0)
    best = yaml.safe_load((workdir / "experiments" / "tb" / "best_stage1.yaml").read_text())
    assert "outcome.upper_atr" in best["params"] and "outcome.threshold" not in best["params"]
    # stage 2 without the group choice stage 1 ran with: told what to pass, not an OmegaConf traceback
    second = run_cli(["run", "+stage=2", "data=csv", f"data.path={es_csv}", "instrument=es", "data.end=2025-10-15",
                      "search.n_trials=1", "search.study_name=tb"], workdir)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "outcome.upper_atr" in second.stderr and "outcome=triple_barrier" in second.stderr
