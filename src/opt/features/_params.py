"""Typed, checked view of the ``features`` config group.

Values are read with :func:`opt.config_rules.cfg_value` and checked on construction by the rule of
their key in :data:`opt.config_rules.RULES`; defaults are in ``conf/features``, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from opt.config_rules import cfg_value, check_fields, check_value
from opt.errors import ConfigError

__all__ = ["FeatureParams", "feature_params"]

_WINDOW_KEYS = ("window_short", "window_mid", "window_long")


@dataclass(frozen=True)
class FeatureParams:
    """Feature windows (DESIGN §6).

    Attributes:
        windows: ``(window_short, window_mid, window_long)``, bars, distinct.
        volume_z_window: bars in the volume z-score window (>= 2).
        extra_path: optional CSV/Parquet file of extra features (timestamp + numeric columns).
        custom: ``features.custom``, Hydra ``_target_`` nodes (plain dicts) of per-bar feature functions
            (:mod:`opt.features._custom`); checked when the features are built.

    Raises:
        ConfigError: on construction, naming the ``features.*`` key of a value that breaks its rule,
            or when the three windows are not distinct.
    """

    windows: tuple[int, int, int]
    volume_z_window: int
    extra_path: str | None
    custom: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        pairs = zip(_WINDOW_KEYS, self.windows, strict=True)
        short, mid, long = (check_value(f"features.{k}", w) for k, w in pairs)
        if len({short, mid, long}) != 3:
            raise ConfigError(
                f"features.{'/'.join(_WINDOW_KEYS)} must be distinct, got {(short, mid, long)} bars"
            )
        object.__setattr__(self, "windows", (short, mid, long))
        check_fields(self, {"volume_z_window": "features.volume_z_window"})


def feature_params(features_cfg: Any) -> FeatureParams:
    """Read the ``features`` config group.

    Args:
        features_cfg: the ``features`` group (``DictConfig`` or mapping).

    Returns:
        The checked :class:`FeatureParams`; an empty ``extra_path`` becomes None. A config saved before
        ``features.custom`` existed (a trial run's config.yaml, a registered champion) has no custom features.

    Raises:
        ConfigError: naming the key, on a missing key, a value that breaks its rule in
            :data:`opt.config_rules.RULES` or repeated windows.
    """
    windows = tuple(cfg_value(features_cfg, k, where="features") for k in _WINDOW_KEYS)
    extra = cfg_value(features_cfg, "extra_path", where="features", nullable=True)
    custom = cfg_value(features_cfg, "custom", where="features") if "custom" in features_cfg else []
    return FeatureParams(
        windows=(windows[0], windows[1], windows[2]),
        volume_z_window=cfg_value(features_cfg, "volume_z_window", where="features"),
        extra_path=None if extra in (None, "") else str(extra),
        custom=tuple(OmegaConf.to_container(c, resolve=True) if isinstance(c, DictConfig) else c for c in custom),
    )
