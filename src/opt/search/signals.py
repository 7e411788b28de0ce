"""Graceful stop on SIGTERM and Ctrl-C (SIGINT).

The first signal asks the process to stop. It interrupts at once (``KeyboardInterrupt``) only inside
an :meth:`GracefulStop.interruptible` block, which wraps work that is safe to abandon: a trial's
computation, a wait between trials. Anywhere else (writing to the Optuna storage or to MLflow) the
request is only recorded and honoured at the next safe point, so no journal line or database
transaction is cut in half. Later signals are ignored while the process closes its trial and runs;
``kill -9`` remains the way to stop it at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

__all__ = ["GracefulStop", "exit_status"]

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_status(signum: int) -> int:
    """The shell's exit status for a process stopped by ``signum`` (128 + signum: 130, 143)."""
    return 128 + int(signum)


class GracefulStop:
    """Records SIGTERM/SIGINT and turns them into ``KeyboardInterrupt`` at safe points."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._armed = False

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived."""
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            log.warning("signal %d: already stopping, closing the current trial first", signum)
            return
        self.signum = signum
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt(f"signal {signum}")

    @contextlib.contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        """Handle SIGTERM and SIGINT for the duration of the block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in _SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def raise_if_requested(self) -> None:
        """Raise ``KeyboardInterrupt`` when a stop was asked for.

        Raises:
            KeyboardInterrupt: a stop signal has arrived.
        """
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {self.signum}")

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A block that a stop signal interrupts at once (raises ``KeyboardInterrupt`` in it).

        Raises:
            KeyboardInterrupt: on entry when a stop was already asked for, or when one arrives inside.
        """
        self.raise_if_requested()
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``; a stop signal cuts it short (``KeyboardInterrupt``)."""
        with self.interruptible():
            time.sleep(seconds)
