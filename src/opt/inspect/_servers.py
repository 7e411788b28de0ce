"""The servers ``opt ui`` starts: checked ports, one process group each, stopped with ``opt ui`` itself.

Each server runs in its own session (process group); ``opt ui`` turns SIGTERM and SIGINT into a stop
and, whatever ends it, signals every group it started (SIGTERM, then SIGKILL after
:data:`STOP_GRACE_S`), so no MLflow or dashboard server keeps its port after ``opt ui`` is gone. A
server also gets SIGTERM if ``opt ui`` dies without running its clean-up (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from types import FrameType

from opt.errors import ConfigError

__all__ = ["STOP_GRACE_S", "check_port", "run_servers"]

STOP_GRACE_S = 10.0
"""Seconds a server gets to stop after SIGTERM before SIGKILL."""
_PR_SET_PDEATHSIG = 1


def check_port(port: int, key: str) -> None:
    """Refuse a port on 127.0.0.1 that something already listens on.

    Raises:
        ConfigError: naming the port, ``key`` (the setting to change) and what to do.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers bind: connections of a stopped server (TIME_WAIT) do not count, a listener does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", int(port)))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ConfigError(f"port {port} on 127.0.0.1 is in use (another `opt ui` or server?): stop it, or pass "
                              f"{key}=N with a free port") from None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + STOP_GRACE_S
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if p.poll() is None]
            time.sleep(0.1)
    for proc in procs:  # the group may outlive its leader: make sure nothing of it is left
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def run_servers(commands: Sequence[tuple[list[str], dict[str, str]]]) -> int:
    """Start each ``(command, environment)``, wait until one exits or a stop signal comes, stop them all.

    Returns:
        The exit status of the server that ended first, or 130/143 after Ctrl-C/SIGTERM.
    """
    procs: list[subprocess.Popen[bytes]] = []
    status = 0
    with _stop_on_signals():
        try:
            for command, env in commands:
                procs.append(subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent))
            while all(p.poll() is None for p in procs):
                time.sleep(0.2)
            status = next(int(p.returncode) for p in procs if p.returncode is not None)
        except KeyboardInterrupt as stop:
            status = 143 if "15" in str(stop) else 130
        finally:
            _stop(procs)
    return status
