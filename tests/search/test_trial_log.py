"""The per-trial log line: its text per state, and whole lines in one file from several processes."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.schema import TrialAttr
from opt.search.trial_log import append_line, format_line, log_path, log_trial

from tests.helpers.config import compose_config

START = dt.datetime(2026, 1, 5, 14, 0, 0)
METRICS = {"score": 1.234, "sharpe": 1.2345, "net_pnl": 1530.0, "n_trades": 42.0, "win_rate": 0.5476,
           "max_drawdown": 812.5, "min_trades_penalty": 0.0, "auc": 0.61}


def _trial(state: TrialState, value: float | None = None, **attrs: object):  # noqa: ANN202 - FrozenTrial
    return optuna.trial.create_trial(state=state, value=value, params={}, distributions={}, user_attrs=attrs)


def _timed(trial, number: int, seconds: float):  # noqa: ANN001, ANN202 - FrozenTrial
    trial.number = number
    trial.datetime_start, trial.datetime_complete = START, START + dt.timedelta(seconds=seconds)
    return trial


def test_complete_line_has_score_key_metrics_and_duration() -> None:
    trial = _timed(_trial(TrialState.COMPLETE, 1.234, metrics=METRICS), 17, 12.3)
    assert format_line(trial, 2) == ("trial 17 COMPLETE score=1.2340 sharpe=1.234 net_pnl=1,530.00 n_trades=42 "
                                     "win_rate=0.5476 max_drawdown=812.50 12.3s")


def test_penalty_pruned_failed_and_abandoned_lines_say_why() -> None:
    penalized = _timed(_trial(TrialState.COMPLETE, -10.0, metrics={**METRICS, "n_trades": 3.0,
                                                                     "min_trades_penalty": 1.0}), 3, 2.0)
    assert format_line(penalized, 2).endswith("n_trades=3 win_rate=0.5476 max_drawdown=812.50 [min-trades penalty] 2.0s")
    pruned = _timed(_trial(TrialState.PRUNED, **{TrialAttr.PRUNE_REASON: "pruned after fold 1: reported -0.5"}), 4, 4.1)
    assert format_line(pruned, 2) == "trial 4 PRUNED (pruned after fold 1: reported -0.5) 4.1s"
    failed = _timed(_trial(TrialState.FAIL, **{TrialAttr.ERROR: "ValueError: bad\n  second line" + "x" * 300}), 5, 0.8)
    line = format_line(failed, 2)
    assert line.startswith("trial 5 FAIL (ValueError: bad second line") and line.endswith("...) 0.8s")
    assert "\n" not in line
    abandoned = _timed(_trial(TrialState.FAIL, **{TrialAttr.ABANDONED: "2 earlier trials reach n_trials=2"}), 6, 0.1)
    assert format_line(abandoned, 2) == "trial 6 FAIL abandoned (2 earlier trials reach n_trials=2) 0.1s"


def test_stage1_line_shows_the_stage1_metrics() -> None:
    trial = _timed(_trial(TrialState.COMPLETE, 0.42, metrics={"n_events": 1200.0, "events_per_day": 8.5,
                                                               "precision_at_80": 0.7, "net_pnl": 5.0}), 1, 3.0)
    assert format_line(trial, 1) == "trial 1 COMPLETE score=0.4200 n_events=1200 events_per_day=8.5 precision_at_80=0.7 3.0s"


def test_log_trial_logs_and_appends(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = compose_config(["+stage=2", f"paths.experiments={tmp_path}", "search.study_name=tl"])
    path = log_path(cfg, 2)
    assert path == tmp_path / "tl" / "stage2_trials.log"
    trial = _timed(_trial(TrialState.COMPLETE, 1.234, metrics=METRICS), 17, 12.3)
    with caplog.at_level(logging.INFO, logger="opt.search.trial_log"):
        line = log_trial(trial, 2, path)
        log_trial(trial, 2, path)
    assert caplog.messages == [line, line]
    written = path.read_text().splitlines()
    assert len(written) == 2 and all(w.endswith(" " + line) for w in written)
    assert written[0].split(" ")[0].endswith("Z")  # UTC time stamp, then host:pid
    blocked = tmp_path / "file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="opt.search.trial_log"):
        log_trial(trial, 2, blocked / "x.log")  # a file where the folder should be: warned, not raised
    assert "could not append to the trial log" in caplog.text


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        append_line(Path(path), f"worker {worker} line {i} " + "x" * (200 + 37 * worker))


def test_workers_append_whole_lines_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "study" / "stage2_trials.log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 300)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    for line in lines:
        _, worker, _, i, tail = line.split(" ")
        assert tail == "x" * (200 + 37 * int(worker))
    assert sorted(lines) == sorted(f"worker {w} line {i} " + "x" * (200 + 37 * w) for w in range(4) for i in range(300))


def test_progress_routes_console_logging_through_tqdm_while_shown() -> None:
    """Trial lines print above the bar (tqdm.write) while it is shown; the handlers come back after."""
    import sys

    from opt.search.loop import Progress

    root = logging.getLogger()
    console = logging.StreamHandler(sys.stdout)
    root.addHandler(console)
    try:
        progress = Progress(total=3, initial=0, enabled=True, desc="t")
        assert console not in root.handlers
        assert any(type(h).__name__ == "_TqdmLoggingHandler" for h in root.handlers)
        progress.close()
        assert console in root.handlers
        hidden = Progress(total=3, initial=0, enabled=False, desc="t")
        assert console in root.handlers
        hidden.close()
    finally:
        root.removeHandler(console)
