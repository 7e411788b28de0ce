"""Typed, checked views of the ``events`` and ``outcome`` config groups.

Values are read with :func:`opt.config_rules.cfg_value` and checked on construction by the rule of
their key in :data:`opt.config_rules.RULES` (the rules :func:`~opt.config_rules.check_config` applies
when a command starts). Defaults are in ``conf/events`` and ``conf/outcome``, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opt.config_rules import cfg_value, check_fields, check_value
from opt.errors import ConfigError

__all__ = ["EventParams", "OutcomeParams", "event_params", "outcome_params"]

_BANDS = ("monitor_band", "touch_band")


@dataclass(frozen=True)
class EventParams:
    """Zone geometry (DESIGN §5).

    Attributes:
        monitor_band: points per level type (>= 0).
        touch_band: points per level type (>= 0).
        k_atr: zone widening, ATR multiples (>= 0).
        max_wait: bars from zone entry to touch (>= 1).
        cooldown: bars between events of one level instance (>= 0).
        warmup_bars: touches on the first ``warmup_bars`` bars of the data are no events (>= 0): the
            ATRs, session and weekly levels and features are not settled yet (``python -m opt audit``
            measures how many bars each needs).

    Raises:
        ConfigError: on construction, naming the ``events.*`` key of a value that breaks its rule.
    """

    monitor_band: dict[str, float]
    touch_band: dict[str, float]
    k_atr: float
    max_wait: int
    cooldown: int
    warmup_bars: int

    def __post_init__(self) -> None:
        check_fields(self, {k: f"events.{k}" for k in ("k_atr", "max_wait", "cooldown", "warmup_bars")})
        for band in _BANDS:
            checked = {t: check_value(f"events.{band}.{t}", v) for t, v in getattr(self, band).items()}
            object.__setattr__(self, band, checked)


@dataclass(frozen=True)
class OutcomeParams:
    """Label definition (DESIGN §5).

    Attributes:
        threshold_mode: ``"atr"`` (threshold in ATR multiples at the touch) or ``"points"``; None for
            ``method="triple_barrier"``.
        threshold: barrier distance from the level, in the unit of ``threshold_mode`` (> 0); None for
            ``method="triple_barrier"``.
        lookforward: label window, bars after the touch (>= 1): ``outcome.lookforward``, or
            ``outcome.horizon`` (the vertical barrier) for ``method="triple_barrier"``; either way
            ``label_end_bar = u + lookforward`` (the purge window).
        method: ``"threshold"`` (DESIGN §5, :func:`opt.events.label_events`) or ``"triple_barrier"``
            (:func:`opt.events.triple_barrier_labels`).
        upper_atr: triple barrier: upper barrier above the touch close, ATR multiples (> 0), else None.
        lower_atr: triple barrier: lower barrier below the touch close, ATR multiples (> 0), else None.

    Raises:
        ConfigError: on construction, naming the ``outcome.*`` key of a value that breaks its rule or
            that the method needs and lacks.
    """

    threshold_mode: str | None
    threshold: float | None
    lookforward: int
    method: str = "threshold"
    upper_atr: float | None = None
    lower_atr: float | None = None

    def __post_init__(self) -> None:
        check_fields(self, {k: f"outcome.{k}" for k in ("threshold_mode", "threshold", "lookforward", "method",
                                                         "upper_atr", "lower_atr")})
        needs = ("threshold_mode", "threshold") if self.method == "threshold" else ("upper_atr", "lower_atr")
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ConfigError(f"outcome.method={self.method} needs outcome.{', outcome.'.join(missing)}")


def _bands(events_cfg: Any, key: str, types: tuple[str, ...]) -> dict[str, float]:
    """Band width per level type in ``types``, points."""
    node = cfg_value(events_cfg, key, where="events")
    return {t: cfg_value(node, t, where=f"events.{key}") for t in types}


def event_params(events_cfg: Any, types: tuple[str, ...]) -> EventParams:
    """Read the ``events`` config group for the level types ``types``.

    Args:
        events_cfg: the ``events`` group (``DictConfig`` or mapping).
        types: level types whose bands are read, e.g. :data:`opt.levels.LEVEL_TYPES`.

    Returns:
        The checked :class:`EventParams`. A config saved before ``events.warmup_bars`` existed (a trial
        run's config.yaml, a registered champion) ran without a warm-up: its ``warmup_bars`` is 0.

    Raises:
        ConfigError: naming the key, on a missing key or a value that breaks its rule in
            :data:`opt.config_rules.RULES` (a negative band or ``k_atr``, ``max_wait < 1``,
            ``cooldown < 0``).
    """
    return EventParams(
        k_atr=cfg_value(events_cfg, "k_atr", where="events"),
        max_wait=cfg_value(events_cfg, "max_wait", where="events"),
        cooldown=cfg_value(events_cfg, "cooldown", where="events"),
        warmup_bars=cfg_value(events_cfg, "warmup_bars", where="events") if "warmup_bars" in events_cfg else 0,
        monitor_band=_bands(events_cfg, "monitor_band", types),
        touch_band=_bands(events_cfg, "touch_band", types),
    )


def outcome_params(outcome_cfg: Any) -> OutcomeParams:
    """Read the ``outcome`` config group.

    Args:
        outcome_cfg: the ``outcome`` group (``DictConfig`` or mapping).

    Returns:
        The checked :class:`OutcomeParams`. ``outcome.method`` (``threshold`` | ``triple_barrier``)
        picks the keys read: ``threshold_mode``, ``threshold``, ``lookforward``; or ``upper_atr``,
        ``lower_atr``, ``horizon`` (``conf/outcome/triple_barrier.yaml``). A config saved before
        ``outcome.method`` existed is a ``threshold`` config.

    Raises:
        ConfigError: naming the key, on a missing key or a value that breaks its rule in
            :data:`opt.config_rules.RULES` (``threshold_mode`` not ``atr``/``points``,
            ``threshold <= 0``, ``lookforward < 1``, ``upper_atr``/``lower_atr <= 0``, ``horizon < 1``).
    """
    method = cfg_value(outcome_cfg, "method", where="outcome") if "method" in outcome_cfg else "threshold"
    if method == "triple_barrier":
        return OutcomeParams(
            threshold_mode=None, threshold=None, method=method,
            upper_atr=cfg_value(outcome_cfg, "upper_atr", where="outcome"),
            lower_atr=cfg_value(outcome_cfg, "lower_atr", where="outcome"),
            lookforward=cfg_value(outcome_cfg, "horizon", where="outcome"),
        )
    return OutcomeParams(
        threshold_mode=cfg_value(outcome_cfg, "threshold_mode", where="outcome"),
        threshold=cfg_value(outcome_cfg, "threshold", where="outcome"),
        lookforward=cfg_value(outcome_cfg, "lookforward", where="outcome"),
    )
