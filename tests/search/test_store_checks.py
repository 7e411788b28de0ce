"""Checks before a run touches its stores: one database for Optuna and MLflow is refused, an unreachable
HTTP tracking server fails within seconds. The real CLI in a tmp directory; no mocks."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from opt.errors import ConfigError
from opt.stores import check_separate, check_tracking_server

from tests.helpers.config import compose_config
from tests.helpers.workers import FAST, PG_SERVER, run_opt


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(args: list[str], workdir: Path) -> str:
    result = run_opt([*FAST, "search.n_trials=1", *args], workdir, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-3000:]
    assert "Traceback" not in out
    return result.stderr


@pytest.mark.slow
def test_one_sqlite_file_for_optuna_and_mlflow_is_refused_before_it_is_created(workdir: Path) -> None:
    err = _refused(["search.storage=sqlite:///stores/both.db", f"tracking.uri=sqlite:///{workdir}/stores/both.db"],
                   workdir)
    assert "name the same database" in err and "Alembic" in err and "Use two databases" in err
    assert not (workdir / "stores").exists(), "nothing was created"


@pytest.mark.slow
def test_one_postgresql_database_for_optuna_and_mlflow_is_refused(workdir: Path) -> None:
    err = _refused([f"search.storage={PG_SERVER}/test", "tracking.uri=postgresql://postgres@localhost/test"], workdir)
    assert "name the same database" in err and "Alembic" in err
    assert ".../optuna" in err or "/optuna" in err


def test_two_databases_on_one_server_or_two_files_pass() -> None:
    for storage, uri in ((f"{PG_SERVER}/optuna", f"{PG_SERVER}/mlflow"),
                         ("sqlite:///experiments/optuna.db", "sqlite:///mlruns/mlflow.db"),
                         (None, "sqlite:///mlruns/mlflow.db"),
                         (f"{PG_SERVER}/test", "postgresql://postgres@127.0.0.1:5433/test")):
        cfg = compose_config(["+stage=1", f"search.storage={'null' if storage is None else storage}",
                              f"tracking.uri={uri}"])
        check_separate(cfg)
    cfg = compose_config(["+stage=1", "search.storage=postgresql://a:s3cr3tA@db.example:5432/x",
                          "tracking.uri=postgres://b:pw0therB@db.example/x"])
    with pytest.raises(ConfigError, match="same database") as raised:
        check_separate(cfg)
    assert "s3cr3tA" not in str(raised.value) and "pw0therB" not in str(raised.value)


@pytest.mark.slow
def test_an_unreachable_tracking_server_fails_within_seconds(workdir: Path) -> None:
    url = f"http://opt:hunter2@127.0.0.1:{_free_port()}"
    start = time.monotonic()
    err = _refused([f"tracking.uri={url}"], workdir)
    took = time.monotonic() - start
    assert took < 15, f"took {took:.1f} s"
    assert f"tracking.uri='http://opt:***@127.0.0.1:{url.rsplit(':', 1)[1]}'" in err
    assert "no MLflow tracking server answers there" in err and "hunter2" not in err
    assert not (workdir / "experiments").exists(), "refused before any store was created"


def test_a_server_that_never_answers_times_out_after_the_check_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ConfigError, match="no MLflow tracking server answers there"):
            check_tracking_server(url, timeout=1.0)
        assert time.monotonic() - start < 5
