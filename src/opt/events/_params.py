"""Typed, checked views of the ``events`` and ``outcome`` config groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opt.errors import ConfigError
from opt.sessions._config import cfg_value

__all__ = ["EventParams", "OutcomeParams", "event_params", "outcome_params"]


@dataclass(frozen=True)
class EventParams:
    """Zone geometry (DESIGN §5).

    Attributes:
        monitor_band: points per level type.
        touch_band: points per level type.
        k_atr: zone widening, ATR multiples.
        max_wait: bars from zone entry to touch.
        cooldown: bars between events of one level instance.
    """

    monitor_band: dict[str, float]
    touch_band: dict[str, float]
    k_atr: float
    max_wait: int
    cooldown: int


@dataclass(frozen=True)
class OutcomeParams:
    """Label definition (DESIGN §5).

    Attributes:
        threshold_mode: ``"atr"`` (threshold in ATR multiples at the touch) or ``"points"``.
        threshold: barrier distance from the level, in the unit of ``threshold_mode``.
        lookforward: label window, bars after the touch.
    """

    threshold_mode: str
    threshold: float
    lookforward: int


def _bands(events_cfg: Any, key: str, types: tuple[str, ...]) -> dict[str, float]:
    node = cfg_value(events_cfg, key, where="events")
    out = {t: float(cfg_value(node, t, where=f"events.{key}")) for t in types}
    bad = {t: v for t, v in out.items() if not v >= 0.0}
    if bad:
        raise ConfigError(f"events.{key} must be >= 0 points, got {bad}")
    return out


def event_params(events_cfg: Any, types: tuple[str, ...]) -> EventParams:
    """Read the ``events`` config group for the level types ``types``.

    Raises:
        ConfigError: on a missing key, a negative band or ``k_atr``, ``max_wait < 1`` or
            ``cooldown < 0``.
    """
    k_atr = float(cfg_value(events_cfg, "k_atr", where="events"))
    max_wait = int(cfg_value(events_cfg, "max_wait", where="events"))
    cooldown = int(cfg_value(events_cfg, "cooldown", where="events"))
    if not k_atr >= 0.0:
        raise ConfigError(f"events.k_atr must be >= 0, got {k_atr}")
    if max_wait < 1:
        raise ConfigError(f"events.max_wait must be >= 1 bar, got {max_wait}")
    if cooldown < 0:
        raise ConfigError(f"events.cooldown must be >= 0 bars, got {cooldown}")
    return EventParams(
        monitor_band=_bands(events_cfg, "monitor_band", types),
        touch_band=_bands(events_cfg, "touch_band", types),
        k_atr=k_atr,
        max_wait=max_wait,
        cooldown=cooldown,
    )


def outcome_params(outcome_cfg: Any) -> OutcomeParams:
    """Read the ``outcome`` config group.

    Raises:
        ConfigError: on a missing key, an unknown ``threshold_mode``, ``threshold <= 0`` or
            ``lookforward < 1``.
    """
    mode = str(cfg_value(outcome_cfg, "threshold_mode", where="outcome"))
    threshold = float(cfg_value(outcome_cfg, "threshold", where="outcome"))
    lookforward = int(cfg_value(outcome_cfg, "lookforward", where="outcome"))
    if mode not in ("atr", "points"):
        raise ConfigError(f"outcome.threshold_mode must be 'atr' or 'points', got {mode!r}")
    if not threshold > 0.0:
        raise ConfigError(f"outcome.threshold must be > 0, got {threshold}")
    if lookforward < 1:
        raise ConfigError(f"outcome.lookforward must be >= 1 bar, got {lookforward}")
    return OutcomeParams(threshold_mode=mode, threshold=threshold, lookforward=lookforward)
