"""Shared fixtures: the real ES file (skipped when absent), config composition, a tmp workdir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from opt.cli import normalize_overrides
from opt.paths import conf_dir

REPO = Path(__file__).resolve().parents[1]
ES_CSV = REPO.parent / "shared" / "data" / "ES_1min.csv"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """Compose opt's Hydra config with ``overrides`` (as the CLI does)."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=normalize_overrides(list(overrides or [])))


@pytest.fixture
def es_csv() -> Path:
    """Path of the real ES 1-minute file; skips the test when ../shared/data is not there."""
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV} (../shared/data/ES_1min.csv beside the repo)")
    return ES_CSV


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory: experiments/ and mlruns/ land here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
