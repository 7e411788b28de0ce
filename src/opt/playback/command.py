"""``python -m opt playback``: write one self-contained HTML page that replays a trial's or the champion's trades.

    python -m opt playback +stage=2 search.study_name=NAME [playback.trial=N] [playback.fold=F] data=... instrument=...
    python -m opt playback playback.champion=true data=csv data.path=bars.csv instrument=es [playback.start=... playback.end=...]

The page (:mod:`opt.playback._page`) goes to ``playback.out``, by default
``experiments/<study>/playback_<trialN_foldF | trialN_span | champion>.html``; the command prints where.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from opt.playback._page import write_playback

__all__ = ["playback_command", "default_path"]


def default_path(cfg: DictConfig, stem: str) -> Path:
    """``playback.out``, or ``<paths.experiments>/<study>/playback_<stem>.html``."""
    if cfg.playback.out:
        return Path(str(cfg.playback.out))
    return Path(str(cfg.paths.experiments)) / str(cfg.search.study_name) / f"playback_{stem}.html"


def playback_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt playback`` (module docstring); returns the exit status (0).

    Raises:
        StageError: no study, trial, trades or champion to play.
        ConfigError, DataError: bad ``playback`` keys or bars.
    """
    from opt.playback.sources import champion_playback, trial_playback

    started = time.perf_counter()
    data, stem = champion_playback(cfg) if cfg.playback.champion else trial_playback(cfg)
    path = write_playback(data, default_path(cfg, stem))
    print(f"playback: {data.title}: {data.n_bars:,} bars, {len(data.events):,} events, {len(data.trades):,} trades")
    for note in data.notes:
        print(f"playback: {note}")
    print(f"playback written to {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s); "
          "open it in a browser (no network needed)")
    return 0
