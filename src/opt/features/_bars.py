"""Features from the bars up to the touch bar u: kinematics, volume and range (DESIGN §6).

Directional features are expressed in the *approach frame*: a price change ``dp`` enters as
``-side * dp``, so positive values mean movement toward (and through) the level in the direction
of the approach (down for a support test, up for a resistance test). All windows end at bar u and
read rows ``<= u`` only; a feature whose window would start before the first bar is 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kinematics", "ofi_proxy", "range_atr", "volume_z"]


def _lagged(x: np.ndarray, bar: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    idx = bar - lag
    ok = idx >= 0
    return x[np.where(ok, idx, 0)], ok


def kinematics(
    close: np.ndarray, atr_u: np.ndarray, bar: np.ndarray, side: np.ndarray, window: int
) -> dict[str, np.ndarray]:
    """Velocity, acceleration and jerk of the close over lag ``w = window``, in ATR units.

    With ``c_k = close[u - k w]``: velocity = ``(c_0 - c_1) / w``, acceleration =
    ``(c_0 - 2 c_1 + c_2) / w^2``, jerk = ``(c_0 - 3 c_1 + 3 c_2 - c_3) / w^3`` (backward finite
    differences, points per bar^k), each divided by ATR[u] and oriented by ``-side``.

    Args:
        close: float64 ``(n,)``, points.
        atr_u: float64 ``(k,)``, ATR at each event bar, points (> 0).
        bar: int64 ``(k,)``, event bars u.
        side: int64 ``(k,)``, +1 / -1.
        window: lag w, bars.

    Returns:
        ``{"velocity_<w>", "acceleration_<w>", "jerk_<w>": float64 (k,)}``.
    """
    c = [_lagged(close, bar, i * window) for i in range(4)]
    scale = -side / atr_u
    w = float(window)
    vel = (c[0][0] - c[1][0]) / w
    acc = (c[0][0] - 2.0 * c[1][0] + c[2][0]) / w**2
    jerk = (c[0][0] - 3.0 * c[1][0] + 3.0 * c[2][0] - c[3][0]) / w**3
    return {
        f"velocity_{window}": np.where(c[1][1], vel * scale, 0.0),
        f"acceleration_{window}": np.where(c[2][1], acc * scale, 0.0),
        f"jerk_{window}": np.where(c[3][1], jerk * scale, 0.0),
    }


def _windows(x: np.ndarray, bar: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``u-window+1 .. u`` of ``x`` per event, ``(k, window)``, and whether all exist."""
    idx = bar[:, None] - np.arange(window - 1, -1, -1)[None, :]
    return x[np.maximum(idx, 0)], idx[:, 0] >= 0


def ofi_proxy(
    open_: np.ndarray, close: np.ndarray, volume: np.ndarray, bar: np.ndarray, side: np.ndarray, window: int
) -> np.ndarray:
    """Signed-volume imbalance over the last ``window`` bars (an order-flow-imbalance proxy).

    Each bar's volume is signed by ``sign(close - open)`` (a doji counts 0);
    ``imbalance = sum(signed volume) / sum(volume)`` in ``[-1, 1]``, oriented by ``-side`` (positive =
    volume pushing toward the level). 0 when the window has no volume or starts before bar 0.

    Returns:
        float64 ``(k,)``.
    """
    signed = np.sign(close - open_) * volume
    s, ok = _windows(signed, bar, window)
    v, _ = _windows(volume, bar, window)
    total = v.sum(axis=1)
    good = ok & (total > 0)
    return np.where(good, -side * s.sum(axis=1) / np.where(good, total, 1.0), 0.0)


def volume_z(volume: np.ndarray, bar: np.ndarray, window: int) -> np.ndarray:
    """Z-score of the touch bar's volume against the last ``window`` bars (including u).

    ``(v[u] - mean) / std`` with the population std of ``v[u-window+1 .. u]``; 0 when the std is 0
    or the window starts before bar 0.

    Returns:
        float64 ``(k,)``.
    """
    v, ok = _windows(volume, bar, window)
    std = v.std(axis=1)
    good = ok & (std > 0)
    return np.where(good, (v[:, -1] - v.mean(axis=1)) / np.where(good, std, 1.0), 0.0)


def range_atr(high: np.ndarray, low: np.ndarray, atr_u: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """Touch-bar range ``(high[u] - low[u]) / ATR[u]``, float64 ``(k,)``."""
    return (high[bar] - low[bar]) / atr_u
