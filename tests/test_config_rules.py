"""Hand-set config values are checked with the key and the rule named."""

from __future__ import annotations

import pytest

from opt.config_rules import RULES, check_config, check_value
from opt.errors import ConfigError
from opt.search.space import validate_space

from conftest import compose_config


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

    cfg = compose_config(["+stage=1"])
    missing = [k for k in RULES if OmegaConf.select(cfg, k, default="__missing__") == "__missing__"]
    assert not missing
    assert check_value("search.n_trials", "7") == 7
