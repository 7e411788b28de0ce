"""``opt.tracking.plots``: study plots as PNG + HTML artifacts of a run, robust to tiny and odd studies."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest

from opt.tracking.plots import log_study_plots, write_study_plots

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0, 1) + trial.suggest_int("n", 1, 5) + (trial.suggest_categorical("c", ["a", "b"]) == "a")


def _names(paths: list[Path]) -> set[str]:
    return {p.name for p in paths}


def test_all_plots_of_a_normal_study(tmp_path: Path) -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(_objective, n_trials=8)
    written = write_study_plots(study, tmp_path)
    assert _names(written) == {"optimization_history.png", "param_importances.png", "parallel_coordinate.png",
                               "study_plots.html"}
    assert all(p.stat().st_size > 1000 for p in written)
    assert (tmp_path / "optimization_history.png").read_bytes()[:4] == b"\x89PNG"


def test_one_trial_and_failed_trials(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    study = optuna.create_study()
    study.optimize(_objective, n_trials=1)

    def fails(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("boom")

    study.optimize(fails, n_trials=2, catch=(RuntimeError,))
    with caplog.at_level(logging.WARNING):
        written = write_study_plots(study, tmp_path)
    assert "optimization_history.png" in _names(written) and "param_importances.png" not in _names(written)
    assert "need 2+ complete trials" in caplog.text


def test_multi_objective_and_empty_studies(tmp_path: Path) -> None:
    multi = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    multi.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("y", 0, 3)), n_trials=6)
    assert len(write_study_plots(multi, tmp_path)) == 4
    assert write_study_plots(optuna.create_study(), tmp_path / "none") == []


class _Tracker:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.logged = fail, []

    def log_artifacts(self, run_id: str, folder: str, artifact_path: str | None = None) -> None:
        if self.fail:
            raise OSError("store is gone")
        self.logged.append((run_id, sorted(p.name for p in Path(folder).iterdir()), artifact_path))


def test_log_study_plots_logs_under_plots_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    study = optuna.create_study()
    study.optimize(_objective, n_trials=3)
    tracker = _Tracker()
    log_study_plots(tracker, "run1", study)
    (run_id, files, path), = tracker.logged
    assert run_id == "run1" and path == "plots" and "study_plots.html" in files
    with caplog.at_level(logging.WARNING):
        log_study_plots(_Tracker(fail=True), "run2", study)  # a failing store: a warning, no exception
    assert "study plots not logged for run run2" in caplog.text
    log_study_plots(_Tracker(), "run3", None)  # type: ignore[arg-type]  # nonsense input: no exception either
