"""Causal multi-timeframe bar windows for the CNN (bars ``<= u`` only).

For each event at touch bar ``u`` and each timeframe ``m`` (minutes), the window holds the last
``length`` ``m``-minute bars ending at ``u``. An ``m``-minute bar is a block of ``m`` consecutive
1-minute rows (open of the first row, max high, min low, close of the last row, summed volume); blocks
are anchored at ``u`` (the last block is rows ``u-m+1 .. u``), not at the clock, and session gaps are
not filled (rows are consecutive in the data, as DESIGN §3 keeps gaps). Before the first bar of the data
the series is padded with copies of row 0 ("first available value").

Channels per timeframe, in order: ``log(open / prev_close)``, ``log(high / prev_close)``,
``log(low / prev_close)``, ``log(close / prev_close)`` (``prev_close`` = close of the previous
``m``-minute block) and ``log1p(volume)``. Each window channel is then z-scored on its own ``length``
values (mean 0, std 1); a channel whose std is <= ``std_floor`` (constant up to rounding, e.g. opens
that always equal the previous close, or the padding before the data) becomes all zeros, never /0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from opt.errors import ConfigError

__all__ = ["CHANNELS_PER_TIMEFRAME", "parse_timeframes", "extract_windows"]

CHANNELS_PER_TIMEFRAME = 5


def parse_timeframes(value: str | int | Sequence[int]) -> tuple[int, ...]:
    """Parse ``model.timeframes``: ``"1_5_15"`` (a searchable categorical string), ``5`` or ``[1, 5]``.

    Returns:
        Distinct positive timeframes in minutes, in the given order.

    Raises:
        ConfigError: if the value is empty, not an int, non-positive or repeated (names ``model.timeframes``).
    """
    try:
        if isinstance(value, str):
            parts = tuple(int(p) for p in value.replace(",", "_").split("_") if p.strip())
        elif isinstance(value, int | np.integer):
            parts = (int(value),)
        else:
            parts = tuple(int(p) for p in value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.timeframes must look like '1_5_15' (minutes); got {value!r}") from exc
    if not parts or min(parts) < 1 or len(set(parts)) != len(parts):
        raise ConfigError(f"model.timeframes must be distinct positive minutes like '1_5_15'; got {value!r}")
    return parts


def _aggregate(ohlcv: np.ndarray, m: int, pad: int) -> np.ndarray:
    """``(pad + n_bars - m + 1, 5)`` m-row blocks of ``ohlcv`` padded in front with ``pad`` copies of row 0.

    Row ``k`` of the result is the block of padded rows ``k .. k+m-1``, i.e. it ends at original row
    ``k + m - 1 - pad``.
    """
    padded = np.concatenate([np.repeat(ohlcv[:1], pad, axis=0), ohlcv])
    if m == 1:
        return padded
    n = padded.shape[0] - m + 1
    return np.stack(
        [
            padded[:n, 0],
            sliding_window_view(padded[:, 1], m).max(axis=1),
            sliding_window_view(padded[:, 2], m).min(axis=1),
            padded[m - 1 :, 3],
            sliding_window_view(padded[:, 4], m).sum(axis=1),
        ],
        axis=1,
    )


def _zscore(x: np.ndarray, std_floor: float) -> np.ndarray:
    """Z-score ``x`` along its last axis; where the std is <= ``std_floor`` the result is 0."""
    centered = x - x.mean(axis=-1, keepdims=True)
    std = centered.std(axis=-1, keepdims=True)
    flat = std <= std_floor
    return np.where(flat, 0.0, centered / np.where(flat, 1.0, std))


def extract_windows(
    ohlcv: np.ndarray,
    bar_index: np.ndarray,
    *,
    length: int,
    timeframes: Sequence[int],
    std_floor: float = 1e-8,
) -> np.ndarray:
    """Build the CNN input windows; see the module docstring for the channel definitions.

    Args:
        ohlcv: ``(n_bars, 5)`` open/high/low/close/volume of consecutive 1-minute bars (prices > 0).
        bar_index: ``(n_events,)`` touch bar ``u`` of each event (rows of ``ohlcv``).
        length: bars per window on every timeframe (>= 2).
        timeframes: minutes per aggregated bar, e.g. ``(1, 5)``.
        std_floor: a window channel with a std at or below this (channel units) is set to zeros.

    Returns:
        ``(n_events, 5 * len(timeframes), length)`` float32; channels grouped by timeframe in the given
        order, time ascending (the last column is the block ending at ``u``). Only rows ``<= u`` are read.

    Raises:
        ValueError: on bad shapes, ``length < 2``, or a ``bar_index`` outside ``ohlcv``.
    """
    ohlcv = np.asarray(ohlcv, dtype=np.float64)
    u = np.asarray(bar_index, dtype=np.int64)
    if ohlcv.ndim != 2 or ohlcv.shape[1] != 5 or ohlcv.shape[0] == 0:
        raise ValueError(f"ohlcv must be a non-empty (n_bars, 5) array; got {ohlcv.shape}")
    if u.ndim != 1 or (u.size and (u.min() < 0 or u.max() >= ohlcv.shape[0])):
        raise ValueError(f"bar_index must be 1-D with rows in [0, {ohlcv.shape[0]})")
    if length < 2:
        raise ValueError(f"window length must be >= 2; got {length}")
    tfs = parse_timeframes(list(timeframes))
    out = np.empty((u.size, CHANNELS_PER_TIMEFRAME * len(tfs), length), dtype=np.float32)
    for t, m in enumerate(tfs):
        pad = (length + 1) * m - 1
        agg = _aggregate(ohlcv, m, pad)
        # Blocks ending at u - (length - j) * m for j = 0..length (j = 0 is the previous-close block).
        ends = u[:, None] - np.arange(length, -1, -1, dtype=np.int64)[None, :] * m
        blocks = agg[ends + pad - m + 1]  # (n_events, length + 1, 5)
        prev_close = blocks[:, :-1, 3:4]
        cur = blocks[:, 1:, :]
        chans = np.concatenate([np.log(cur[..., :4] / prev_close), np.log1p(cur[..., 4:5])], axis=-1)
        out[:, t * CHANNELS_PER_TIMEFRAME : (t + 1) * CHANNELS_PER_TIMEFRAME] = _zscore(
            np.swapaxes(chans, 1, 2), std_floor
        )
    return out
