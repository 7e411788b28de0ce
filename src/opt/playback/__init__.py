"""Trade playback: one self-contained HTML page to validate signals and brackets bar by bar.

:func:`playback_data` cuts a span of a market context to what the page shows (bars, levels with
their touch and monitor zones, events with their labels, the model's calls, the trades' brackets);
:func:`write_playback` renders it (:mod:`opt.playback._page`: plotly, plotly.js inlined, a small
inline player). ``python -m opt playback`` (:mod:`opt.playback.command`) plays a stage-2 trial's fold
or the registered champion on any bars; stage 2 and ``promote`` log a page as an artifact
(:mod:`opt.playback.artifacts`).
"""

from __future__ import annotations

from opt.playback._data import LevelTrack, PlaybackData, cut_window, playback_data, trade_direction
from opt.playback._page import figure_and_meta, render_playback, write_playback

__all__ = ["LevelTrack", "PlaybackData", "cut_window", "figure_and_meta", "playback_data", "render_playback",
           "trade_direction", "write_playback"]
