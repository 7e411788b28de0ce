"""BracketParams.from_config: the shipped config loads; bad values raise ConfigError naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from opt.brackets import BracketParams
from opt.errors import ConfigError

from tests.helpers.brackets_cases import BASE_BRACKET, ES

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("instrument", sorted(p.stem for p in (CONF / "instrument").glob("*.yaml")))
def test_shipped_config_loads(instrument: str) -> None:
    bracket = OmegaConf.load(CONF / "bracket" / "default.yaml")
    inst = OmegaConf.load(CONF / "instrument" / f"{instrument}.yaml")
    p = BracketParams.from_config(bracket, inst)
    assert p.entry_mode == "market" and p.max_positions == 1 and p.max_hold_bars == 60
    assert isinstance(p.expiry_bars, int) and isinstance(p.slippage_ticks, float)
    assert p.tick_size == inst.tick_size and p.point_value == inst.point_value


def test_integer_valued_floats_become_ints() -> None:
    p = BracketParams.from_config({**BASE_BRACKET, "max_hold_bars": 30.0, "tp_r": 2}, ES)
    assert p.max_hold_bars == 30 and isinstance(p.max_hold_bars, int)
    assert p.tp_r == 2.0 and isinstance(p.tp_r, float)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("bracket", "tp_r", -1, "bracket.tp_r=-1 breaks the rule: must be > 0 R"),
        ("bracket", "stop_atr", 0, "bracket.stop_atr=0 breaks the rule: must be > 0 ATR"),
        ("bracket", "entry_mode", "stop", "bracket.entry_mode='stop' breaks the rule: must be one of market | limit"),
        ("bracket", "stop_mode", "pct", "bracket.stop_mode='pct' breaks the rule: must be one of atr | level"),
        ("bracket", "sizing", "kelly", "bracket.sizing='kelly' breaks the rule: must be one of fixed | risk"),
        ("bracket", "direction", "up", "bracket.direction='up' breaks the rule: must be one of both | long_only | short_only"),
        ("bracket", "expiry_bars", 0, "bracket.expiry_bars=0 breaks the rule: must be >= 1 bar"),
        ("bracket", "expiry_bars", 2.5, "bracket.expiry_bars=2.5 must be an integer >= 1 bar"),
        ("bracket", "max_hold_bars", 0, "bracket.max_hold_bars=0 breaks the rule: must be >= 1 bar"),
        ("bracket", "max_positions", 0, "bracket.max_positions=0 breaks the rule: must be >= 1"),
        ("bracket", "contracts", True, "bracket.contracts=True must be an integer >= 1 contract"),
        ("bracket", "slippage_ticks", -0.5, "bracket.slippage_ticks=-0.5 breaks the rule: must be >= 0 ticks"),
        ("bracket", "entry_offset_atr", float("nan"), "bracket.entry_offset_atr=nan must be a finite number >= 0 ATR"),
        ("bracket", "risk_per_trade", 0, "bracket.risk_per_trade=0 breaks the rule: must be > 0 currency"),
        ("bracket", "stop_buffer_ticks", -1, "bracket.stop_buffer_ticks=-1 breaks the rule: must be >= 0 ticks"),
        ("bracket", "confidence", 1.5, "bracket.confidence=1.5 breaks the rule: must be in [0, 1]"),
        ("bracket", "tp_r", "2", "bracket.tp_r='2' must be a number > 0 R"),
        ("instrument", "tick_size", 0, "instrument.tick_size=0 breaks the rule: must be > 0 points"),
        ("instrument", "point_value", -5, "instrument.point_value=-5 breaks the rule: must be > 0 currency per point"),
        ("instrument", "commission", -0.1, "instrument.commission=-0.1 breaks the rule: must be >= 0 currency per contract"),
    ],
)
def test_bad_value_names_the_key(section: str, key: str, value: Any, message: str) -> None:
    bracket, inst = dict(BASE_BRACKET), dict(ES)
    (bracket if section == "bracket" else inst)[key] = value
    with pytest.raises(ConfigError) as info:
        BracketParams.from_config(bracket, inst)
    assert message in str(info.value)


@pytest.mark.parametrize(("section", "key"), [("bracket", "tp_r"), ("instrument", "commission")])
def test_missing_key(section: str, key: str) -> None:
    bracket, inst = dict(BASE_BRACKET), dict(ES)
    del (bracket if section == "bracket" else inst)[key]
    with pytest.raises(ConfigError, match=rf"{section}\.{key} is missing"):
        BracketParams.from_config(bracket, inst)
