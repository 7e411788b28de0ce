"""Shared fixtures: the real ES file (skipped when absent), a tmp workdir. Plain helpers live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.config import ES_CSV

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked ``cuda`` when torch sees no CUDA device (pyproject's ``cuda`` marker)."""
    if item.get_closest_marker("cuda") is None:
        return
    from opt.models.device import cuda_available

    if not cuda_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is false): cuda test skipped")
