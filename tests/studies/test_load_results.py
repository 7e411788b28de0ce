"""Python access in three lines (#11.7): ``study, runs = load_results(...)`` on a real tiny study."""

from __future__ import annotations

from pathlib import Path

import pytest

from opt.studies import load_results

from tests.helpers.tiny_study import STUDY, tiny_study

pytestmark = pytest.mark.slow


def test_a_study_and_its_trial_runs_load_in_one_call(tmp_path_factory: pytest.TempPathFactory) -> None:
    root: Path = tiny_study(tmp_path_factory)
    study, runs = load_results(STUDY, stage=2, experiments=root / "experiments",
                               tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    assert study.study_name == f"{STUDY}-stage2"
    assert len(runs) == len(study.trials) >= 2
    assert {"metrics.score", "params.bracket.stop_atr", "tags.opt.trial_number"} <= set(runs.columns)
    scores = runs["metrics.score"].dropna().tolist()
    assert scores == sorted(scores, reverse=True)
