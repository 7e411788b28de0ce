"""Typed, checked view of the ``features`` config group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opt.errors import ConfigError
from opt.sessions._config import cfg_value

__all__ = ["FeatureParams", "feature_params"]


@dataclass(frozen=True)
class FeatureParams:
    """Feature windows (DESIGN §6).

    Attributes:
        windows: ``(window_short, window_mid, window_long)``, bars, distinct.
        volume_z_window: bars in the volume z-score window (>= 2).
        extra_path: optional CSV/Parquet file of extra features (timestamp + numeric columns).
    """

    windows: tuple[int, int, int]
    volume_z_window: int
    extra_path: str | None


def feature_params(features_cfg: Any) -> FeatureParams:
    """Read the ``features`` config group.

    Raises:
        ConfigError: on a missing key, a window < 1, repeated windows or ``volume_z_window < 2``.
    """
    keys = ("window_short", "window_mid", "window_long")
    windows = tuple(int(cfg_value(features_cfg, k, where="features")) for k in keys)
    if min(windows) < 1 or len(set(windows)) != 3:
        raise ConfigError(f"features.{'/'.join(keys)} must be distinct and >= 1 bar, got {windows}")
    z_window = int(cfg_value(features_cfg, "volume_z_window", where="features"))
    if z_window < 2:
        raise ConfigError(f"features.volume_z_window must be >= 2 bars, got {z_window}")
    extra = cfg_value(features_cfg, "extra_path", where="features")
    return FeatureParams(
        windows=(windows[0], windows[1], windows[2]),
        volume_z_window=z_window,
        extra_path=None if extra in (None, "") else str(extra),
    )
