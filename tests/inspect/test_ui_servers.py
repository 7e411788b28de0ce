"""``opt ui`` manages its servers (#11.5): a busy port is a clear error; stopping ``opt ui`` stops the
MLflow UI and optuna-dashboard it started, so their ports are free again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from opt.studies import make_storage
from opt.tracking import Tracker

from tests.helpers.config import compose_config
from tests.helpers.servers import free_port


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def _port_free(port: int) -> bool:
    """Nothing listens there (a stopped server's connections in TIME_WAIT do not count, as for the servers)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _opt_ui(workdir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.Popen([sys.executable, "-m", "opt", "ui", *args], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_busy_port_is_a_clear_error(workdir: Path) -> None:
    Tracker(compose_config())  # an MLflow store to show
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _opt_ui(workdir, f"inspect.port={port}")
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert f"opt: error: port {port} on 127.0.0.1 is in use" in out and "inspect.port=N" in out


@pytest.mark.slow
def test_stopping_opt_ui_stops_the_servers_it_started(workdir: Path) -> None:
    cfg = compose_config()
    Tracker(cfg)
    optuna.create_study(study_name="x-stage1", storage=make_storage(cfg))
    ui_port, dash_port = free_port(), free_port()
    proc = _opt_ui(workdir, f"inspect.port={ui_port}", f"inspect.dashboard_port={dash_port}", "inspect.dashboard=true")
    try:
        deadline = time.monotonic() + 120
        while not (_answers(ui_port) and _answers(dash_port)):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the MLflow UI and the dashboard did not answer in 120 s"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        deadline = time.monotonic() + 20
        while not (_port_free(ui_port) and _port_free(dash_port)):
            assert time.monotonic() < deadline, "a server still holds its port after opt ui stopped"
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_ui_starts_without_mlflows_genai_job_runner_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from opt.inspect import ui_environment

    cfg = compose_config(["tracking.uri=http://127.0.0.1:5999"])  # a tracking server: no local store to find
    monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)
    assert ui_environment(cfg)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")
    assert ui_environment(cfg)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"
