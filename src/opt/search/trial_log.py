"""One line per finished trial, to the console and to a log file beside the study (freqtrade's hyperopt habit).

A line names the trial, its state, its score, a few key metrics of its stage and its duration::

    trial 17 COMPLETE score=1.2340 sharpe=1.234 net_pnl=1,530.00 n_trades=42 win_rate=0.5476 12.3s
    trial 18 PRUNED (pruned after fold 1: reported -0.5) 4.1s
    trial 19 FAIL (ValueError: ...) 0.8s
    trial 20 COMPLETE score=-10.0000 ... n_trades=3 [min-trades penalty] 9.9s

It goes to the logger of this module (INFO; the CLI's console handler prints it, through tqdm while
a progress bar is shown) and is appended, with a UTC time stamp and the worker (``host:pid``), to
:func:`log_path`: ``experiments/<search.study_name>/stage<N>_trials.log`` whatever the Optuna storage
(journal file, SQLite, PostgreSQL), next to ``best_stage<N>.yaml``. Each line is one ``os.write`` on
a file opened with ``O_APPEND``, so the workers of one host (``search.workers`` > 1) append whole
lines to the same file without interleaving.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from opt.schema import TrialAttr
from opt.search.recovery import identity
from opt.studies.verdict import no_result

__all__ = ["KEY_METRICS", "log_path", "format_line", "append_line", "log_trial"]

log = logging.getLogger(__name__)

#: metrics shown on a trial's line, per stage, when the trial has them
KEY_METRICS: dict[int, tuple[str, ...]] = {
    1: ("n_events", "events_per_day", "precision_at_80", "auc", "silhouette"),
    2: ("sharpe", "net_pnl", "n_trades", "win_rate", "max_drawdown"),
}
_CURRENCY = frozenset({"net_pnl", "max_drawdown"})
_REASON_CHARS = 200


def log_path(cfg: DictConfig, stage: int) -> Path:
    """``experiments/<search.study_name>/stage<stage>_trials.log`` (beside ``best_stage<stage>.yaml``)."""
    return Path(cfg.paths.experiments) / str(cfg.search.study_name) / f"stage{stage}_trials.log"


def _value(name: str, value: float) -> str:
    if name in _CURRENCY:
        return f"{value:,.2f}"
    if name.startswith("n_") and float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def format_line(trial: FrozenTrial, stage: int) -> str:
    """The one-line summary of a finished ``trial`` of stage ``stage`` (module docstring); no newline."""
    attrs = trial.user_attrs
    parts = [f"trial {trial.number} {trial.state.name}"]
    reason = attrs.get(TrialAttr.ABANDONED) or attrs.get(TrialAttr.PRUNE_REASON) or attrs.get(TrialAttr.ERROR)
    if TrialAttr.ABANDONED in attrs:
        parts.append("abandoned")
    if reason and trial.state != TrialState.COMPLETE:
        text = " ".join(str(reason).split())
        parts.append(f"({text[:_REASON_CHARS]}{'...' if len(text) > _REASON_CHARS else ''})")
    if trial.state == TrialState.COMPLETE and trial.values:
        values = trial.values
        parts.append(f"score={values[0]:.4f}" if len(values) == 1
                     else "values=(" + ", ".join(f"{v:.4g}" for v in values) + ")")
    metrics = attrs.get(TrialAttr.METRICS, {})
    parts += [f"{k}={_value(k, float(metrics[k]))}" for k in KEY_METRICS.get(stage, ()) if k in metrics]
    if stage == 2 and trial.state == TrialState.COMPLETE and no_result(trial):
        parts.append("[min-trades penalty]" if metrics.get("min_trades_penalty") else "[no trades]")
    if trial.duration is not None:
        parts.append(f"{trial.duration.total_seconds():.1f}s")
    return " ".join(parts)


def append_line(path: Path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` in one ``os.write`` (``O_APPEND``; creates the folder).

    Raises:
        OSError: the file cannot be written (e.g. a full disk).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def log_trial(trial: FrozenTrial, stage: int, path: Path) -> str:
    """Log ``trial``'s line (INFO) and append it, time-stamped, to ``path``; return the line.

    A file that cannot be written is logged as a warning, never raised: the search goes on.
    """
    line = format_line(trial, stage)
    log.info(line)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        append_line(path, f"{stamp} {identity()[0]} {line}")
    except OSError as exc:
        log.warning("could not append to the trial log %s: %s", path, exc)
    return line
