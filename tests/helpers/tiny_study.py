"""A tiny real study shared by the promote, inspect and notebook tests: stage 1 + stage 2 run once per session.

Synthetic bars (35 trading days), 2 trials per stage, 2 walk-forward folds, run in-process through
:func:`opt.search.runner.run_command` in ``<session tmp>/tiny-study`` (experiments/ and mlruns/ there).
Import it as ``from tests.helpers.tiny_study import tiny_study``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.config import compose_config

STUDY = "tiny"
COMMON = [f"search.study_name={STUDY}", "data.synthetic.n_days=35", "search.progress=false"]
#: stage 2 calls at low confidence so that the tiny study's trials and champion place orders (the tests of
#: signals, serving and playback need some): P(class) >= 0.34..0.45 instead of the default 0.40..0.90
STAGE2 = ["split.n_folds=2", "stage.space.bracket.confidence.low=0.34", "stage.space.bracket.confidence.high=0.45",
          "stage.space.bracket.confidence.grid=[0.35,0.4]"]


def tiny_study(factory: pytest.TempPathFactory) -> Path:
    """The folder of the tiny study, built on first use in this session (later calls reuse it)."""
    root = factory.getbasetemp() / "tiny-study"
    done = root / ".done"
    if not done.exists():
        from opt.search.runner import run_command

        root.mkdir(exist_ok=True)
        with contextlib.chdir(root):
            assert run_command(compose_config(["+stage=1", *COMMON, "search.n_trials=2"])) == 0
            assert run_command(compose_config(["+stage=2", *COMMON, *STAGE2, "search.n_trials=2"])) == 0
        done.touch()
    return root


def config(*overrides: str):  # noqa: ANN201 - a DictConfig
    """The composed config of the tiny study with ``overrides`` (run it with the study folder as cwd)."""
    return compose_config([*COMMON, *overrides])


def run_cli(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m opt ARGS`` in ``cwd`` (as tests/helpers/cli.py); never raises on the exit status."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, "-m", "opt", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def copy_study(source: Path, target: Path) -> Path:
    """Copy a study folder (experiments/, mlruns/) to ``target`` without harming ``source``'s open stores.

    Never ``shutil.copytree`` a live SQLite database from inside this process: closing the copy's file
    descriptors on ``mlflow.db``, ``-wal`` and ``-shm`` drops every POSIX lock this process holds on them
    (SQLite's "how to corrupt a database", 2.2), and the tests that follow read a "database disk image is
    malformed". The SQLite files are copied with SQLite's backup API instead, which SQLite's own lock
    bookkeeping covers.
    """
    import shutil
    import sqlite3

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.db", "*.db-wal", "*.db-shm", "*.db-journal"))
    for db in source.rglob("*.db"):
        dest = target / db.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(db)) as src, contextlib.closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)
    return target
