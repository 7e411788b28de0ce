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


#: the longest test files (seconds on a 2-core machine), started first so that the two test processes
#: (pytest-xdist, a file per process) end together instead of waiting on a long file picked up last
LONGEST_FIRST = ("tests/e2e/test_readme_walkthrough.py",  # ~370 s: every README command on ES
                 "tests/promote/test_promote_cli.py", "tests/e2e/test_tracking_server.py",
                 "tests/promote/test_promote_es.py", "tests/search/test_disk_full.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run :data:`LONGEST_FIRST` files first, in that order; the rest keep their order."""
    del config
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    root = Path(__file__).resolve().parents[1]

    def key(item: pytest.Item) -> int:
        path = Path(str(item.fspath)).resolve()
        return rank.get(path.relative_to(root).as_posix(), len(rank)) if path.is_relative_to(root) else len(rank)

    items.sort(key=key)  # stable: the order within a file and among the others is kept
