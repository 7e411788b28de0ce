"""The config-declared search space becomes trial.suggest_* calls on a real Optuna study."""

from __future__ import annotations

import optuna
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.stages.space import apply_params, iter_space, suggest, validate_space

from tests.helpers.config import compose_config

SPACE = {
    "events": {
        "k_atr": {"type": "float", "low": 0.0, "high": 1.0},
        "monitor_band": {"on": {"type": "float", "low": 0.5, "high": 6.0, "log": True}},
    },
    "outcome": {"lookforward": {"type": "int", "low": 10, "high": 60, "step": 5}},
    "levels": {"use": {"pd": {"type": "categorical", "choices": [True, False]}}},
}


def test_iter_space_yields_dotted_names_in_order() -> None:
    assert [n for n, _ in iter_space(SPACE)] == [
        "events.k_atr", "events.monitor_band.on", "outcome.lookforward", "levels.use.pd"]


def test_suggest_samples_within_bounds_and_records_distributions() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        p = suggest(trial, OmegaConf.create(SPACE))
        assert 0.0 <= p["events.k_atr"] <= 1.0
        assert 0.5 <= p["events.monitor_band.on"] <= 6.0
        assert p["outcome.lookforward"] % 5 == 0 and 10 <= p["outcome.lookforward"] <= 60
        assert p["levels.use.pd"] in (True, False)
        study.tell(trial, 0.0)
    dist = study.trials[0].distributions["events.monitor_band.on"]
    assert isinstance(dist, optuna.distributions.FloatDistribution) and dist.log


def test_apply_params_overrides_a_copy() -> None:
    cfg = compose_config()
    out = apply_params(cfg, {"events.k_atr": 0.123, "levels.use.pd": False})
    assert out.events.k_atr == 0.123 and out.levels.use.pd is False
    assert cfg.events.k_atr != 0.123 and cfg.levels.use.pd is True


@pytest.mark.parametrize(
    "space, message",
    [
        ({"events": {"k_atr": {"type": "beta"}}}, "stage.space.events.k_atr.type"),
        ({"events": {"k_atr": {"type": "float", "low": 2, "high": 1}}}, "low <= high"),
        ({"events": {"k_atr": {"type": "float", "low": 0, "high": 1, "log": True}}}, "log-scale"),
        ({"events": {"nope": {"type": "int", "low": 0, "high": 1}}}, "no key 'events.nope'"),
        ({"levels": {"use": {"pd": {"type": "categorical", "choices": []}}}}, "choices"),
    ],
)
def test_validate_space_names_the_key_and_rule(space: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_space(space, compose_config(), where="stage.space")


def test_offset_parameters_keep_the_order_for_every_trial() -> None:
    space = OmegaConf.create({"features": {
        "window_short": {"type": "int", "low": 2, "high": 8},
        "window_mid": {"type": "int", "low": 1, "high": 20, "offset_of": "features.window_short"},
        "window_long": {"type": "int", "low": 5, "high": 50, "offset_of": "features.window_mid"},
    }})
    validate_space(space, compose_config(), where="stage.space")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(50):
        trial = study.ask()
        p = suggest(trial, space)
        assert p["features.window_short"] < p["features.window_mid"] < p["features.window_long"]
        assert p["features.window_mid"] == p["features.window_short"] + trial.params["features.window_mid__delta"]
        study.tell(trial, 0.0)


def test_offset_must_name_an_earlier_parameter() -> None:
    space = {"features": {"window_mid": {"type": "int", "low": 1, "high": 5, "offset_of": "features.window_short"}}}
    with pytest.raises(ConfigError, match="offset_of"):
        validate_space(space, compose_config(), where="stage.space")
