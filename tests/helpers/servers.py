"""A real team setup for tests: fresh PostgreSQL databases and a real ``mlflow server`` subprocess.

:func:`pg_databases` creates uniquely named databases on the PostgreSQL server of the dev machine and CI
(127.0.0.1:5432, user postgres, trust auth) and drops them after; it skips the test with a message when
that server does not answer. :func:`mlflow_server` starts ``mlflow server`` on a free port of 127.0.0.1
with a PostgreSQL backend store and ``--artifacts-destination`` (proxied artifacts), waits until its
``/health`` answers, and stops its whole process group after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opt.stores import init_lock, sqlalchemy_url

from tests.helpers.workers import PG_SERVER, pg_admin

#: seconds ``mlflow server`` gets to answer ``/health`` (its first start migrates the PostgreSQL store)
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def pg_databases(*kinds: str) -> Iterator[dict[str, str]]:
    """Fresh databases ``opt_srv_<kind>_<random>``, one per kind, as ``{kind: postgresql://...}``; dropped after."""
    con = pg_admin("tracking-server tests")
    names = {kind: f"opt_srv_{kind}_{uuid.uuid4().hex[:12]}" for kind in kinds}
    try:
        with con.cursor() as cur:
            for name in names.values():
                cur.execute(f'CREATE DATABASE "{name}"')
        yield {kind: f"{PG_SERVER}/{name}" for kind, name in names.items()}
    finally:
        with con.cursor() as cur:
            for name in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.close()


def database_exists(name: str) -> bool:
    """Whether the PostgreSQL server holds a database ``name``."""
    con = pg_admin("tracking-server tests")
    try:
        with con.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        con.close()


@dataclass
class MlflowServer:
    """A running ``mlflow server``: its URL, backend store, artifact folder and log file."""

    url: str
    backend: str
    artifacts: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        """The server's output so far (for failure messages)."""
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310 - our own server
            return int(answer.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _prepare_store(backend: str) -> None:
    """Create and migrate MLflow's tables in ``backend`` before the server's workers race to do it."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    url = sqlalchemy_url(backend)
    with init_lock(backend, name="mlflow"):
        SqlAlchemyStore(url, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(url, None)
    if engine is not None:
        engine.dispose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + STOP_GRACE_S
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    with contextlib.suppress(ProcessLookupError, PermissionError):  # workers may outlive the leader
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def mlflow_server(backend: str, folder: Path) -> Iterator[MlflowServer]:
    """``mlflow server`` on a free port of 127.0.0.1, backend store ``backend``, artifacts under ``folder``.

    The store is migrated first (one process), then the server starts in its own process group with
    telemetry off; the context waits for ``/health`` (:data:`START_TIMEOUT_S`) and, on exit, stops the
    group (SIGTERM, then SIGKILL).
    """
    artifacts = folder / "server-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = folder / "mlflow-server.log"
    _prepare_store(backend)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner (6 huey processes) to start
    # SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL: the server gets the psycopg2 driver named
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", sqlalchemy_url(backend),
               "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]
    with open(log, "wb") as handle:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = MlflowServer(url=url, backend=backend, artifacts=artifacts, log=log, process=process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                raise AssertionError(f"mlflow server exited with {process.returncode}:\n{server.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"mlflow server did not answer {url}/health within {START_TIMEOUT_S:.0f} s:\n"
                                     f"{server.log_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(process)
