"""``list``/``show`` find the study (#11.3): the only stage-N study when the configured one is absent, else an
error that lists the studies there are; ``python -m opt`` with no command is an error (#11.6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from opt.errors import StageError
from opt.inspect import find_study
from opt.studies import make_storage

from tests.helpers.config import compose_config


def _studies(tmp_path: Path, *names: str):  # noqa: ANN202
    cfg = compose_config(["+stage=1", f"paths.experiments={tmp_path / 'experiments'}"])
    for name in names:
        optuna.create_study(study_name=name, storage=make_storage(cfg))
    return cfg


def test_the_only_study_of_the_stage_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _studies(tmp_path, "opt-ES-csv-stage1", "opt-ES-csv-stage2")
    assert find_study(cfg, 1).study_name == "opt-ES-csv-stage1"
    assert "showing the only stage-1 study, opt-ES-csv-stage1" in capsys.readouterr().err


def test_several_studies_are_listed_in_the_error(tmp_path: Path) -> None:
    cfg = _studies(tmp_path, "opt-ES-csv-stage1", "mine-stage1")
    with pytest.raises(StageError, match=r"no study 'opt-MES-synthetic-stage1'.*studies in .*: mine, opt-ES-csv; "
                                         r"pass search.study_name=NAME"):
        find_study(cfg, 1)


def test_the_configured_study_wins(tmp_path: Path) -> None:
    cfg = _studies(tmp_path, "opt-MES-synthetic-stage1", "mine-stage1")
    assert find_study(cfg, 1).study_name == "opt-MES-synthetic-stage1"


def test_no_command_is_an_error_and_help_is_not() -> None:
    bare = subprocess.run([sys.executable, "-m", "opt"], capture_output=True, text=True, timeout=120)
    assert bare.returncode == 2 and "opt: error: no command given" in bare.stderr
    helped = subprocess.run([sys.executable, "-m", "opt", "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "usage: python -m opt" in helped.stdout


def test_a_misspelt_key_gets_a_suggestion_and_runs_nothing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "opt", "run", "+stage=1", "search.ntrials=5"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "opt: error: search.ntrials: opt has no config key 'search.ntrials' (did you mean search.n_trials?)" \
        in result.stderr
    assert not (tmp_path / "experiments").exists()
