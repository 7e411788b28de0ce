"""``search.workers=K``: K worker processes on one study, started and watched by the invocation.

The invocation (the launcher) opens the storage, the study, the MLflow experiment and its parent run
first, so workers never race an empty store, then starts K processes

    python -m opt run <the same overrides> search.workers=1 search.worker_index=i
        tracking.parent_run_id=<parent> search.threads_per_worker=T search.progress=false

in its working directory (an override whose value holds a password reaches the worker through an
environment variable, ``key=${oc.env:OPT_SECRET_...}``, never on its command line). Each worker runs the trial loop (:mod:`opt.search.loop`) with sampler seed
``search.seed + i`` and ``T = cores // K`` model threads (``search.threads_per_worker``; also
``OMP_NUM_THREADS`` and friends), nesting its trial runs under the parent run. The launcher shows the
study's progress, passes SIGTERM/SIGINT on to the workers (as SIGTERM) and waits for them; a worker
that stops with a user error (status 2, e.g. ``search.max_consecutive_failures``) stops the others.
A worker that dies otherwise leaves the others running; the launcher then exits non-zero. Workers
die with their launcher (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import copy
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from omegaconf import DictConfig

from opt.errors import USER_ERROR_EXIT_CODE, ConfigError, OptError
from opt.search.signals import GracefulStop
from opt.secrets import env_reference, has_secret
from opt.studies.storage import check_parallel

__all__ = ["WorkerError", "worker_count", "is_worker", "cores", "limit_threads", "die_with_launcher",
           "worker_commands", "run_workers"]

log = logging.getLogger(__name__)

#: keys the launcher sets for its workers (a user override of them is not passed on)
_LAUNCHER_KEYS = ("search.workers", "search.worker_index", "tracking.parent_run_id",
                  "search.threads_per_worker", "search.progress")
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_LAUNCHER_ENV = "OPT_LAUNCHER_PID"
STOP_GRACE_S = 60.0  # seconds a worker gets to close its trial after a forwarded signal, then SIGKILL
_PR_SET_PDEATHSIG = 1


class WorkerError(OptError):
    """A worker process failed (its own message is on stderr above)."""


def worker_count(cfg: DictConfig) -> int:
    """``search.workers``, checked against the storage.

    Raises:
        ConfigError: fewer than 1 worker, or SQLite storage with several.
    """
    workers = int(cfg.search.workers)
    if workers < 1:
        raise ConfigError(f"search.workers must be >= 1, got {workers}")
    check_parallel(cfg, workers)
    if workers > cores() and not is_worker(cfg):
        log.warning("search.workers=%d is more than the %d CPU cores this process may use: the workers will "
                    "compete for them and each trial will run slower; search.workers=%d is usually fastest",
                    workers, cores(), cores())
    return workers


def is_worker(cfg: DictConfig) -> bool:
    """Whether this process is a worker started by a launcher (``tracking.parent_run_id`` is set)."""
    return bool(cfg.tracking.parent_run_id)


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def limit_threads(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` whose model threads (``n_jobs``, ``num_threads``) are capped at ``search.threads_per_worker``.

    Applies to ``model`` and to every stage-2 family in ``stage.families``; with
    ``search.threads_per_worker: null`` the config is returned unchanged.
    """
    cap = cfg.search.threads_per_worker
    if cap is None:
        return cfg
    out = copy.deepcopy(cfg)
    families = out.get("stage", {}).get("families", {}) if out.get("stage") is not None else {}
    for node in [out.model, *families.values()]:
        for key in ("n_jobs", "num_threads"):
            if node.get(key) is not None:
                node[key] = max(1, min(int(node[key]), int(cap)))
    return out


def die_with_launcher() -> None:
    """In a worker: get SIGTERM when the launcher dies (Linux), and stop now if it is already gone."""
    launcher = os.environ.get(_LAUNCHER_ENV)
    if not launcher:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != int(launcher):
        os.kill(os.getpid(), signal.SIGTERM)


def _cli_overrides() -> list[str]:
    """The Hydra overrides this invocation was started with (without the launcher's keys).

    Raises:
        ConfigError: not started through the CLI.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        raise ConfigError("search.workers > 1 starts worker processes through the CLI: "
                          "run it as python -m opt run ... search.workers=K")
    hc = HydraConfig.get()
    task = [o for o in hc.overrides.task if o.lstrip("+~").split("=", 1)[0] not in _LAUNCHER_KEYS]
    return task + [o for o in hc.overrides.hydra if not o.startswith("hydra.mode=")]


def _secret_to_env(override: str, env: dict[str, str]) -> str:
    """An override whose value holds a password, rewritten to read it from ``env`` (never on the command line)."""
    key, sep, value = override.partition("=")
    if not sep or not has_secret(value):
        return override
    return env_reference(key.lstrip("+~"), value.strip("'\""), env)


def worker_commands(overrides: list[str], *, workers: int, parent_run_id: str, threads: int) -> list[list[str]]:
    """The command line of each worker (see the module docstring)."""
    return [[sys.executable, "-m", "opt", "run", *overrides, "search.workers=1", f"search.worker_index={i}",
             f"tracking.parent_run_id='{parent_run_id}'", f"search.threads_per_worker={threads}",
             "search.progress=false"] for i in range(workers)]


def _signal_all(procs: list[subprocess.Popen[bytes]], signum: int) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass


def run_workers(cfg: DictConfig, *, workers: int, parent_run_id: str, stop: GracefulStop,
                on_poll: Callable[[], None], poll_s: float = 0.5) -> list[int]:
    """Start the workers, watch them until they all exit; return their exit statuses.

    Args:
        cfg: the invocation's config (``search.threads_per_worker`` null = cores // workers).
        workers: how many.
        parent_run_id: the MLflow parent run the workers nest their trial runs under.
        stop: the launcher's stop request; passed on to the workers once, as SIGTERM.
        on_poll: called every ``poll_s`` seconds (progress display).
        poll_s: seconds between checks.

    Raises:
        ConfigError: not started through the CLI.
    """
    threads = int(cfg.search.threads_per_worker or max(1, cores() // workers))
    env = {**os.environ, _LAUNCHER_ENV: str(os.getpid())}
    for name in _THREAD_ENV:
        env.setdefault(name, str(threads))
    overrides = [_secret_to_env(o, env) for o in _cli_overrides()]
    commands = worker_commands(overrides, workers=workers, parent_run_id=parent_run_id, threads=threads)
    log.info("starting %d workers (%d model threads each; parent run %s)", workers, threads, parent_run_id)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:  # own sessions: a terminal's Ctrl-C reaches the launcher only
            procs.append(subprocess.Popen(command, env=env, cwd=os.getcwd(), start_new_session=True))
        _watch(procs, stop, on_poll, poll_s)
    finally:
        _signal_all(procs, signal.SIGKILL)  # only those still running: an unexpected launcher error
    return [int(p.returncode) for p in procs]


def _watch(procs: list[subprocess.Popen[bytes]], stop: GracefulStop, on_poll: Callable[[], None],
           poll_s: float) -> None:
    stopping_since: float | None = None
    running = set(range(len(procs)))
    while running:
        for i in [i for i in running if procs[i].poll() is not None]:
            running.discard(i)
            log.info("worker %d (pid %d) exited with status %d", i, procs[i].pid, procs[i].returncode)
        if stopping_since is None:
            user_error = [i for i, p in enumerate(procs) if p.returncode == USER_ERROR_EXIT_CODE]
            if stop.requested or user_error:
                why = f"signal {stop.signum}" if stop.requested else f"worker {user_error[0]} stopped the study"
                log.warning("%s: stopping the workers", why)
                # SIGTERM also ends a worker still starting up (before its handler) quietly
                _signal_all(procs, signal.SIGTERM)
                stopping_since = time.monotonic()
        elif time.monotonic() - stopping_since > STOP_GRACE_S:
            log.warning("workers still running %.0f s after the stop signal: killing them", STOP_GRACE_S)
            _signal_all(procs, signal.SIGKILL)
        on_poll()
        if running:
            time.sleep(poll_s)
