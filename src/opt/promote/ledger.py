"""The holdout ledger: every read of the held-out test part, recorded on the stage-2 study.

A test part stays an honest estimate only while it is looked at once. Each ``promote`` (forced or not,
registered or refused) evaluates the champion on it, so each one is recorded the moment the
evaluation exists, before any gate is checked: a study user attribute
``opt.holdout_read.<time>.<host>.<pid>`` holding the time (UTC), the promoted trial, the test metrics
read, the data fingerprint and where the test part starts. One key per read, so two promotions at
once never overwrite each other's entry (Optuna writes user attributes key by key, in every storage).
After the gates the entry is completed with the outcome (promote run, passed, forced, registered
version). The second and later promotions of a study say how many times the test part has been looked
at; the decision report shows the ledger; the gate ``promote.gates.max_holdout_reads`` can refuse a
champion picked after too many looks.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import optuna

__all__ = ["READ_PREFIX", "holdout_ledger", "record_read", "complete_read", "describe_ledger"]

READ_PREFIX = "opt.holdout_read."
"""Prefix of the study user attributes that hold one read each."""


def holdout_ledger(study: optuna.Study) -> list[dict[str, Any]]:
    """Every recorded read of ``study``'s test part, oldest first, each with ``read`` (1-based) and ``key``."""
    entries = [{**dict(v), "key": k} for k, v in study.user_attrs.items()
               if k.startswith(READ_PREFIX) and isinstance(v, dict)]
    entries.sort(key=lambda e: (str(e.get("time", "")), e["key"]))
    return [{**e, "read": i + 1} for i, e in enumerate(entries)]


def record_read(study: optuna.Study, *, trial: int, metrics: dict[str, float], fingerprint: str,
                test_start: str) -> tuple[str, list[dict[str, Any]]]:
    """Record one read of the test part on ``study``; return its key and the ledger with it.

    Args:
        study: the stage-2 study whose champion was evaluated.
        trial: the promoted trial's number.
        metrics: the test-part metrics read (``net_pnl`` currency, ``sharpe`` annualized, ``n_trades``,
            ``max_drawdown`` currency are kept; missing ones are stored as None).
        fingerprint: the data fingerprint of the bars evaluated.
        test_start: the first test bar's timestamp (UTC, ISO).
    """
    now = dt.datetime.now(dt.UTC)
    key = f"{READ_PREFIX}{now.strftime('%Y%m%dT%H%M%S.%fZ')}.{socket.gethostname()}.{os.getpid()}"
    kept = {k: (float(metrics[k]) if k in metrics and metrics[k] == metrics[k] else None)
            for k in ("net_pnl", "sharpe", "n_trades", "max_drawdown")}
    study.set_user_attr(key, {"time": now.isoformat(timespec="seconds"), "trial": int(trial), **kept,
                              "fingerprint": fingerprint, "test_start": test_start, "outcome": "evaluated"})
    return key, holdout_ledger(study)


def complete_read(study: optuna.Study, key: str, **outcome: Any) -> None:
    """Add the promotion's outcome to the read ``key`` (e.g. ``run_id``, ``passed``, ``forced``, ``registered``)."""
    entry = dict(study.user_attrs.get(key) or {})
    entry.update(outcome)
    study.set_user_attr(key, entry)


def describe_ledger(ledger: list[dict[str, Any]]) -> str:
    """One line for the console: how often the test part has been read, and the earlier reads."""
    n = len(ledger)
    if n <= 1:
        return "holdout ledger: this is the first read of the test part"
    earlier = "; ".join(f"#{e['read']} {e.get('time', '?')} trial {e.get('trial', '?')}" for e in ledger[:-1])
    return (f"holdout ledger: the test part has now been looked at {n} times ({earlier}): it is no longer an "
            "untouched holdout; judge this result as one of several looks")
