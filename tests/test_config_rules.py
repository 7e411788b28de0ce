"""Hand-set config values are checked with the key and the rule named."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from opt.brackets import BracketParams
from opt.config_rules import RULES, cfg_value, check_config, check_value
from opt.errors import ConfigError
from opt.events import EventParams, event_params
from opt.levels import LEVEL_TYPES
from opt.stages.space import validate_space

from tests.helpers.config import compose_config


@pytest.mark.parametrize("stage", ["1", "2"])
def test_shipped_config_passes(stage: str) -> None:
    check_config(compose_config([f"+stage={stage}"]))


@pytest.mark.parametrize(
    "override, message",
    [
        ("search.n_trials=abc", "search.n_trials='abc' must be an integer >= 1"),
        ("search.n_trials=0", "search.n_trials=0 breaks the rule: must be >= 1"),
        ("split.test_fraction=2", "split.test_fraction=2 breaks the rule"),
        ("split.n_folds=1.5", "split.n_folds=1.5 must be an integer"),
        ("instrument.tick_size=-0.25", "instrument.tick_size"),
        ("events.touch_band.pd=-1", "events.touch_band.pd"),
        ("search.timeout=nan", "search.timeout"),
    ],
)
def test_bad_values_name_key_and_rule(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        check_config(compose_config([override]))


def test_search_ranges_cannot_sample_forbidden_values() -> None:
    cfg = compose_config(["+stage=1", "stage.space.events.k_atr.low=-1"])
    with pytest.raises(ConfigError, match=r"stage.space.events.k_atr.low: events.k_atr=-1"):
        validate_space(cfg.stage.space, cfg, where="stage.space")


def test_every_rule_points_at_a_shipped_key() -> None:
    from omegaconf import OmegaConf

    cfgs = [compose_config(["+stage=1"]), compose_config(["+stage=2"]),  # stage.* keys are per stage
            compose_config(["+stage=1", "outcome=triple_barrier"])]  # outcome.* keys per outcome method
    missing = [k for k in RULES if all(OmegaConf.select(c, k, default="__missing__") == "__missing__" for c in cfgs)]
    assert not missing
    assert check_value("search.n_trials", "7") == 7



# --- one rule per key: check_config and the typed parameter views refuse the same values ----------------


def _bracket_params(cfg: DictConfig) -> BracketParams:
    return BracketParams.from_config(cfg.bracket, cfg.instrument)


def _bracket_direct(cfg: DictConfig) -> BracketParams:
    fields = {**OmegaConf.to_container(cfg.bracket), **OmegaConf.to_container(cfg.instrument)}
    fields.pop("symbol")
    return BracketParams(**fields)


def _events_params(cfg: DictConfig) -> EventParams:
    return event_params(cfg.events, LEVEL_TYPES)


def _events_direct(cfg: DictConfig) -> EventParams:
    return EventParams(**OmegaConf.to_container(cfg.events))


@pytest.mark.parametrize(
    "override, message, view, direct",
    [
        ("bracket.tp_r=-1", "bracket.tp_r=-1 breaks the rule: must be > 0 R", _bracket_params, _bracket_direct),
        ("bracket.entry_mode=stop", "bracket.entry_mode='stop' breaks the rule: must be one of market | limit",
         _bracket_params, _bracket_direct),
        ("events.max_wait=0", "events.max_wait=0 breaks the rule: must be >= 1 bar", _events_params, _events_direct),
        ("events.monitor_band.vwap=-2", "events.monitor_band.vwap=-2 breaks the rule: must be >= 0 points",
         _events_params, _events_direct),
    ],
)
def test_bracket_and_events_keys_refused_by_check_config_and_param_views(
    override: str, message: str, view: Callable[[DictConfig], Any], direct: Callable[[DictConfig], Any]
) -> None:
    cfg = compose_config([override])
    for refuse in (check_config, view, direct):  # at command start, reading the config, building directly
        with pytest.raises(ConfigError, match=re.escape(message)):
            refuse(cfg)
    good = compose_config()
    assert view(good) == direct(good)


def test_one_of_rules_compare_type_and_value() -> None:
    assert check_value("outcome.threshold_mode", "points") == "points"
    assert check_value("levels.use.pd", False) is False
    with pytest.raises(ConfigError, match=r"levels\.use\.pd=0 breaks the rule: must be one of true \| false"):
        check_value("levels.use.pd", 0)
    with pytest.raises(ConfigError, match="outcome.threshold_mode='pct'"):
        check_value("outcome.threshold_mode", "pct")


def test_strict_refuses_numeric_strings() -> None:
    assert check_value("bracket.tp_r", "2") == 2.0
    with pytest.raises(ConfigError, match=re.escape("bracket.tp_r='2' must be a number > 0 R")):
        check_value("bracket.tp_r", "2", strict=True)


def test_cfg_value_names_missing_null_and_unset_keys() -> None:
    node = OmegaConf.create({"k_atr": None, "max_wait": "???", "cooldown": 60.0})
    cooldown = cfg_value(node, "cooldown", where="events")  # coerced by the rule of events.cooldown
    assert cooldown == 60 and isinstance(cooldown, int)
    assert cfg_value(node, "k_atr", where="events", nullable=True) is None
    with pytest.raises(ConfigError, match=re.escape("events.k_atr must be set (got null)")):
        cfg_value(node, "k_atr", where="events")
    with pytest.raises(ConfigError, match=re.escape("events.max_wait is required but not set")):
        cfg_value(node, "max_wait", where="events")
    with pytest.raises(ConfigError, match=re.escape("events.touch_band is missing from the config")):
        cfg_value(node, "touch_band", where="events")


def test_there_is_one_cfg_value() -> None:
    import opt.config_rules
    import opt.dataset._builder
    import opt.dataset._context
    import opt.events._params
    import opt.features._params
    import opt.levels._compute
    import opt.sessions._calendar

    assert importlib.util.find_spec("opt.sessions._config") is None
    readers = (opt.dataset._builder, opt.dataset._context, opt.events._params, opt.features._params,
               opt.levels._compute, opt.sessions._calendar)  # fmt: skip
    assert all(m.cfg_value is opt.config_rules.cfg_value for m in readers)
    src = Path(opt.config_rules.__file__).parent
    defined = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if "def cfg_value(" in p.read_text())
    assert defined == ["config_rules.py"]


def test_no_code_default_shadows_a_config_key() -> None:
    """Config values are read as the YAML holds them: no ``cfg....get("key", default)`` anywhere in opt."""
    import opt.config_rules

    src = Path(opt.config_rules.__file__).parent
    fallback = re.compile(r"\bcfg(\.\w+)*\.get\(\s*\"\w+\"\s*,")
    offending = [f"{p.relative_to(src)}:{n}" for p in src.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if fallback.search(line)]
    assert offending == []
