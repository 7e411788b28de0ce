"""Bracket parameters: the ``bracket`` and ``instrument`` config groups as one checked value.

:class:`BracketParams` is what :func:`opt.brackets.simulate_brackets` reads. It is built from the
composed config with :meth:`BracketParams.from_config`; every field is checked on construction and a
bad value raises :class:`opt.errors.ConfigError` naming the config key (``bracket.tp_r``,
``instrument.tick_size``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any

from opt.errors import ConfigError

__all__ = ["BracketParams"]

_BRACKET_KEYS = (
    "entry_mode", "entry_offset_atr", "expiry_bars", "stop_mode", "stop_atr", "stop_buffer_ticks",
    "atr_timeframe", "tp_r", "max_hold_bars", "confidence", "direction", "slippage_ticks", "sizing",
    "contracts", "risk_per_trade", "max_positions",
)  # fmt: skip
_INSTRUMENT_KEYS = ("tick_size", "point_value", "commission")
_CHOICES = {
    "entry_mode": ("market", "limit"),
    "stop_mode": ("atr", "level"),
    "direction": ("both", "long_only", "short_only"),
    "sizing": ("fixed", "risk"),
}
# (lower bound, bound is inclusive) for real-valued fields; ints are checked the same way.
_LOWER = {
    "entry_offset_atr": (0.0, True),
    "expiry_bars": (1, True),
    "stop_atr": (0.0, False),
    "stop_buffer_ticks": (0, True),
    "atr_timeframe": (1, True),
    "tp_r": (0.0, False),
    "max_hold_bars": (1, True),
    "confidence": (0.0, True),
    "slippage_ticks": (0.0, True),
    "contracts": (1, True),
    "risk_per_trade": (0.0, False),
    "max_positions": (1, True),
    "tick_size": (0.0, False),
    "point_value": (0.0, False),
    "commission": (0.0, True),
}
_INTS = {"expiry_bars", "stop_buffer_ticks", "atr_timeframe", "max_hold_bars", "contracts", "max_positions"}


@dataclass(frozen=True)
class BracketParams:
    """One OCO bracket configuration (DESIGN §8) plus the instrument's contract specification.

    Attributes:
        entry_mode: ``"market"`` (next bar's open) or ``"limit"`` (pullback limit).
        entry_offset_atr: limit entries: distance of the limit from the signal bar's close, ATR multiples.
        expiry_bars: limit entries: bars the order stays valid, counted from the bar after the signal.
        stop_mode: ``"atr"`` (``stop_atr`` x ATR from the entry) or ``"level"`` (beyond the level).
        stop_atr: stop distance, ATR multiples (``stop_mode="atr"``).
        stop_buffer_ticks: ticks beyond the level (``stop_mode="level"``).
        atr_timeframe: minutes of the bars the caller's ATR is computed on (not read by the simulator).
        tp_r: take-profit distance in R (multiples of the stop distance).
        max_hold_bars: time exit at the close of ``entry_bar + max_hold_bars``.
        confidence: minimum class probability for a call to become a bracket (used by the caller).
        direction: ``"both"``, ``"long_only"`` or ``"short_only"`` (used by the caller).
        slippage_ticks: ticks lost on every market fill (market entries, stop, time and end exits).
        sizing: ``"fixed"`` (``contracts``) or ``"risk"`` (``risk_per_trade`` / currency risk per contract).
        contracts: contracts per trade (``sizing="fixed"``).
        risk_per_trade: currency risked per trade (``sizing="risk"``).
        max_positions: open positions plus pending limit orders allowed at once.
        tick_size: minimum price increment, points.
        point_value: currency per point per contract.
        commission: currency per contract per side.

    Raises:
        ConfigError: on construction, if a field has the wrong type or is out of range; the message names the
            config key, e.g. ``"bracket.tp_r must be > 0, got -1"``.
    """

    entry_mode: str
    entry_offset_atr: float
    expiry_bars: int
    stop_mode: str
    stop_atr: float
    stop_buffer_ticks: int
    atr_timeframe: int
    tp_r: float
    max_hold_bars: int
    confidence: float
    direction: str
    slippage_ticks: float
    sizing: str
    contracts: int
    risk_per_trade: float
    max_positions: int
    tick_size: float
    point_value: float
    commission: float

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, getattr(self, f.name))
        if self.confidence > 1.0:
            raise ConfigError(f"bracket.confidence must be <= 1, got {self.confidence!r}")

    @classmethod
    def from_config(cls, bracket_cfg: Mapping[str, Any], instrument_cfg: Mapping[str, Any]) -> BracketParams:
        """Build the parameters from the ``bracket`` and ``instrument`` config nodes.

        Args:
            bracket_cfg: the ``bracket`` group (a dict or an OmegaConf ``DictConfig``).
            instrument_cfg: the ``instrument`` group (``tick_size``, ``point_value``, ``commission``).

        Returns:
            The checked parameters; integer-valued floats (``60.0``) become ``int`` where an int is due.

        Raises:
            ConfigError: naming the key, if a key is missing, has the wrong type or is out of range.
        """
        values: dict[str, Any] = {}
        for section, cfg, keys in (("bracket", bracket_cfg, _BRACKET_KEYS),
                                   ("instrument", instrument_cfg, _INSTRUMENT_KEYS)):  # fmt: skip
            for key in keys:
                if key not in cfg:
                    raise ConfigError(f"{section}.{key} is missing")
                values[key] = _coerce(key, cfg[key])
        return cls(**values)


def _key(name: str) -> str:
    return f"{'instrument' if name in _INSTRUMENT_KEYS else 'bracket'}.{name}"


def _coerce(name: str, value: Any) -> Any:
    """Turn integer-valued reals into ``int`` for integer fields and ints into ``float`` for real fields."""
    if name in _CHOICES or isinstance(value, bool) or not isinstance(value, Real):
        return value
    if name in _INTS:
        return int(value) if float(value).is_integer() else value
    return float(value)


def _check(name: str, value: Any) -> None:
    key = _key(name)
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            allowed = " | ".join(_CHOICES[name])
            raise ConfigError(f"{key} must be one of {allowed}, got {value!r}")
        return
    if name in _INTS:
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    bound, inclusive = _LOWER[name]
    if value < bound or (value == bound and not inclusive):
        raise ConfigError(f"{key} must be {'>=' if inclusive else '>'} {bound:g}, got {value:g}")
