"""Bracket parameters: the ``bracket`` and ``instrument`` config groups as one checked value.

:class:`BracketParams` is what :func:`opt.brackets.simulate_brackets` reads. It is built from the
composed config with :meth:`BracketParams.from_config`; every field is checked on construction by the
rule of its config key in :data:`opt.config_rules.RULES` (the rules
:func:`~opt.config_rules.check_config` applies when a command starts), and a bad value raises
:class:`opt.errors.ConfigError` naming the key (``bracket.tp_r``, ``instrument.tick_size``, ...).
Defaults are in ``conf/bracket`` and ``conf/instrument``, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from opt.config_rules import cfg_value, check_fields

__all__ = ["BracketParams"]

_BRACKET_KEYS = (
    "entry_mode", "entry_offset_atr", "expiry_bars", "stop_mode", "stop_atr", "stop_buffer_ticks",
    "atr_timeframe", "tp_r", "max_hold_bars", "confidence", "direction", "slippage_ticks", "sizing",
    "contracts", "risk_per_trade", "max_positions",
)  # fmt: skip
_INSTRUMENT_KEYS = ("tick_size", "point_value", "commission")
_FLATTEN = "flatten_at_session_end"


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
        max_hold_bars: time exit at the close of ``entry_bar + max_hold_bars - 1`` (the entry bar counts).
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
        flatten_at_session_end: close an open trade at the close of its session's last bar
            (``SESSION_END``) and let a pending order expire there, instead of holding it across the
            daily break (DESIGN §8, §10). A config saved before the key existed ran without it: False.

    Raises:
        ConfigError: on construction, if a field has the wrong type (numeric strings are refused) or breaks
            its rule; the message names the config key, e.g. ``"bracket.tp_r=-1 breaks the rule: must be
            > 0 R"``. Integer-valued floats (``60.0``) are stored as ``int`` where an int is due, ints as
            ``float`` where a real is due.
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
    flatten_at_session_end: bool = False

    def __post_init__(self) -> None:
        check_fields(self, {f.name: _key(f.name) for f in fields(self)}, strict=True)

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
                values[key] = cfg_value(cfg, key, where=section, strict=True)
        if _FLATTEN in bracket_cfg:  # absent from configs saved before it: False (held across the break)
            values[_FLATTEN] = cfg_value(bracket_cfg, _FLATTEN, where="bracket", strict=True)
        return cls(**values)


def _key(name: str) -> str:
    """Dotted config key of field ``name``: ``instrument.<name>`` or ``bracket.<name>``."""
    return f"{'instrument' if name in _INSTRUMENT_KEYS else 'bracket'}.{name}"
