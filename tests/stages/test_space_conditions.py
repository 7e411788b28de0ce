"""Conditional parameters (`when:`) and grid values (`grid:`) of a search space (opt.stages.space)."""

from __future__ import annotations

import optuna
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.stages.space import apply_params, iter_space, suggest, validate_space

from tests.helpers.config import compose_config

SPACE = {
    "levels": {"use": {"pm": {"type": "categorical", "choices": [True, False]}}},
    "events": {
        "monitor_band": {"pm": {"type": "float", "low": 0.5, "high": 6.0, "when": "levels.use.pm"}},
        "touch_band": {"pm": {"type": "float", "low": 0.0, "high": 1.5, "step": 0.25, "when": "levels.use.pm"}},
        "k_atr": {"type": "float", "low": 0.0, "high": 1.0},
    },
}


def _trial_with(fixed: dict) -> optuna.Trial:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(fixed)
    return study.ask()


def test_a_conditional_parameter_is_not_sampled_while_its_condition_is_false() -> None:
    trial = _trial_with({"levels.use.pm": False})
    params = suggest(trial, SPACE)
    assert trial.params.keys() == {"levels.use.pm", "events.k_atr"}
    assert params.keys() == {"levels.use.pm", "events.k_atr"}
    cfg = compose_config()
    default = cfg.events.monitor_band.pm
    assert apply_params(cfg, params).events.monitor_band.pm == default  # the config keeps its default


def test_a_conditional_parameter_is_sampled_while_its_condition_is_true() -> None:
    trial = _trial_with({"levels.use.pm": True})
    params = suggest(trial, SPACE)
    assert {"events.monitor_band.pm", "events.touch_band.pm"} <= trial.params.keys() <= params.keys()


def test_stage1_space_samples_band_parameters_only_for_levels_in_use() -> None:
    cfg = compose_config(["+stage=1"])
    validate_space(cfg.stage.space, cfg, where="stage.space")
    kinds = [n.rsplit(".", 1)[1] for n, _ in iter_space(cfg.stage.space) if n.startswith("levels.use.")]
    assert kinds == ["on", "pm", "or", "pd", "sma", "vwap", "vwap_rth"]  # every level type, the RTH VWAP included
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_off = set()
    for _ in range(30):
        trial = study.ask()
        suggest(trial, cfg.stage.space)
        for kind in kinds:
            on = trial.params[f"levels.use.{kind}"]
            for band in ("monitor_band", "touch_band"):
                assert (f"events.{band}.{kind}" in trial.params) == on, (kind, band, trial.params)
            seen_off |= {kind} if not on else set()
        study.tell(trial, 0.0)
    assert seen_off == set(kinds)  # every condition was false at least once, so the check above bit


@pytest.mark.parametrize(("patch", "message"), [
    ({"events": {"k_atr": {"type": "float", "low": 0.0, "high": 1.0, "when": "levels.use.vwap"}}},
     "stage.space.events.k_atr.when='levels.use.vwap' must name a categorical parameter declared before it"),
    ({"events": {"k_atr": {"type": "float", "low": 0.0, "high": 1.0, "when": "events.monitor_band.pm"}}},
     "must name a categorical parameter declared before it"),
    ({"events": {"k_atr": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.5, 2.0]}}},
     "stage.space.events.k_atr.grid values must each be a number in [low, high] = [0.0, 1.0], got [2.0]"),
    ({"events": {"k_atr": {"type": "float", "low": 0.0, "high": 1.0, "grid": []}}},
     "stage.space.events.k_atr.grid must be a non-empty list"),
    ({"levels": {"use": {"pm": {"type": "categorical", "choices": [True, False], "grid": [True, "x"]}}}},
     "stage.space.levels.use.pm.grid values must each be one of the choices"),
    ({"events": {"k_atr": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.5, 0.5]}}},
     "grid values must be distinct"),
])
def test_validate_space_refuses_bad_conditions_and_grids(patch: dict, message: str) -> None:
    space = OmegaConf.to_container(OmegaConf.merge(OmegaConf.create(SPACE), OmegaConf.create(patch)))
    with pytest.raises(ConfigError) as err:
        validate_space(space, compose_config(), where="stage.space")
    assert message in str(err.value)


def test_validate_space_accepts_the_conditional_space() -> None:
    validate_space(SPACE, compose_config(), where="stage.space")


def test_an_offset_of_a_conditional_base_needs_the_same_condition() -> None:
    space = {"levels": SPACE["levels"], "features": {
        "window_short": {"type": "int", "low": 2, "high": 8, "when": "levels.use.pm"},
        "window_mid": {"type": "int", "low": 3, "high": 30, "offset_of": "features.window_short"}}}
    with pytest.raises(ConfigError, match=r"features.window_mid: its base 'features.window_short' is conditional"):
        validate_space(space, compose_config(), where="stage.space")
    space["features"]["window_mid"]["when"] = "levels.use.pm"
    validate_space(space, compose_config(), where="stage.space")


def test_a_condition_on_a_choice_samples_only_for_that_choice() -> None:
    cfg = compose_config(["+stage=2"])
    space = cfg.stage.space
    for mode, expect in (("market", False), ("limit", True)):
        trial = _trial_with({"bracket.entry_mode": mode})
        params = suggest(trial, space)
        assert ("bracket.expiry_bars" in params) is expect and ("bracket.entry_offset_atr" in trial.params) is expect


def test_a_condition_on_a_choice_that_does_not_exist_is_refused() -> None:
    cfg = compose_config(["+stage=2", "stage.space.bracket.expiry_bars.when='bracket.entry_mode=stop'"])
    with pytest.raises(ConfigError, match=r"stage.space.bracket.expiry_bars.when='bracket.entry_mode=stop': 'stop' "
                                          r"is not one of the choices of bracket.entry_mode"):
        validate_space(cfg.stage.space, cfg, where="stage.space")
