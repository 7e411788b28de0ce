"""Playback pages logged as MLflow artifacts (``tracking.playback``: ``best`` | ``none``).

A page inlines plotly.js (~4.9 MB) plus up to ``playback.max_bars`` bars (~0.5 kB each), so pages are
logged sparingly:

- a stage-2 trial logs ``playback.html`` (its best fold, :func:`opt.playback.spans.fold_playback`) only
  when it keeps its artifacts (``tracking.trial_artifacts``) and is the best COMPLETE trial of its study
  so far (the search decides, :mod:`opt.search.trial`): a handful of pages per study, the last one the
  best trial's;
- ``promote`` logs ``playback_test.html``: the test part, cut to ``playback.max_bars`` bars around its trades.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from opt.dataset import EventDataset, MarketContext
from opt.playback._data import playback_data
from opt.playback._page import write_playback
from opt.playback.spans import confident_calls, fold_playback, with_proba

__all__ = ["TRIAL_FILE", "PROMOTE_FILE", "trial_playback_writer", "write_promote_playback"]

TRIAL_FILE = "playback.html"
"""Artifact of a stage-2 trial."""
PROMOTE_FILE = "playback_test.html"
"""Artifact of a promote run."""

log = logging.getLogger(__name__)


def _enabled(cfg: Any) -> bool:
    return str(cfg.tracking.playback) != "none"


def trial_playback_writer(cfg: Any, ctx: MarketContext, ds: EventDataset, trades: pd.DataFrame, number: int
                          ) -> Callable[[Path], None] | None:
    """Writer of a stage-2 trial's :data:`TRIAL_FILE` (its best fold), or None when ``tracking.playback=none``.

    Args:
        cfg: the trial's config.
        ctx: the search part's market context.
        ds: the trial's event dataset.
        trades: the walk-forward trades (with ``fold``).
        number: the trial number (title).
    """
    if not _enabled(cfg):
        return None

    def write(folder: Path) -> None:
        try:
            data = fold_playback(cfg, ctx, ds, trades, title=f"{cfg.search.study_name} stage-2 trial {number}",
                                 notes=["logged by the search: the best trial of the study so far"])
            write_playback(data, folder / TRIAL_FILE)
        except (OSError, ValueError, KeyError) as exc:  # a page is evidence to look at, never worth failing a trial
            log.warning("trial %d: no %s (%s: %s)", number, TRIAL_FILE, type(exc).__name__, exc)

    return write


def write_promote_playback(cfg: Any, r: Any, folder: Path, *, trial: int) -> Path | None:
    """Write ``promote``'s :data:`PROMOTE_FILE` into ``folder``; None (nothing written) when ``tracking.playback=none``.

    Args:
        cfg: the promoted config.
        r: the :class:`opt.promote.retrain.Retrained` (context, events, test positions, test result).
        folder: where to write.
        trial: the promoted stage-2 trial (title).
    """
    if not _enabled(cfg):
        return None
    events = with_proba(r.ds.events.iloc[r.test].reset_index(drop=True), r.result.proba)
    data = playback_data(r.ctx, cfg, events=events, trades=r.result.trades,
                         calls=confident_calls(cfg, events, r.result.proba), start=r.test_start, end=r.ctx.n_bars,
                         max_bars=int(cfg.playback.max_bars), margin_bars=int(cfg.playback.margin_bars),
                         title=f"{cfg.search.study_name}: promote of stage-2 trial {trial}, test part",
                         notes=["the held-out test part, scored by the retrained champion"])
    return write_playback(data, folder / PROMOTE_FILE)
