"""Stage-2 sampling: model family from the model group or stage.models, conditional spaces, brackets."""

from __future__ import annotations

import optuna

from opt.stages import BracketStage
from opt.stages.stage2 import KNN_ALPHA, _objectives

from tests.helpers.config import compose_config


def _sample(overrides: list[str], n: int = 8) -> list:
    cfg = compose_config(["+stage=2", *overrides])
    stage = BracketStage()
    _objectives(cfg)  # the settings checks of stage.plan, without the hand-off from stage 1
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3), direction="maximize")
    out = []
    for _ in range(n):
        trial = study.ask()
        params, tcfg = stage.sample(trial, cfg)
        out.append((trial, params, tcfg))
        study.tell(trial, 0.0)
    return out


def test_the_chosen_model_group_is_searched_with_its_overrides() -> None:
    for trial, params, tcfg in _sample(["model=cnn", "model.early_stopping_patience=2"], n=3):
        assert tcfg.model.name == "cnn" and "model.name" not in trial.params
        assert tcfg.model.early_stopping_patience == 2  # an override of a value the space leaves alone
        assert "model.kernel_size" in params and "model.max_depth" not in params


def test_a_list_of_families_is_a_categorical_with_conditional_spaces() -> None:
    draws = _sample(["stage.models=[xgboost,cnn]"], n=12)
    families = {tcfg.model.name for _, _, tcfg in draws}
    assert families == {"xgboost", "cnn"}
    for trial, params, tcfg in draws:
        assert trial.params["model.name"] == tcfg.model.name
        own = "model.max_depth" if tcfg.model.name == "xgboost" else "model.kernel_size"
        assert own in params


def test_bracket_parameters_are_sampled_into_the_trial_config() -> None:
    for _, params, tcfg in _sample([], n=5):
        assert tcfg.model.name == "xgboost"
        assert 0.5 <= tcfg.bracket.stop_atr <= 3.0 and tcfg.bracket.stop_atr == params["bracket.stop_atr"]
        assert tcfg.bracket.direction in ("both", "long_only", "short_only")


def test_the_knn_blend_weight_is_a_model_parameter() -> None:
    for trial, params, tcfg in _sample(["stage.knn_blend.search=true", "stage.knn_blend.alpha_high=0.5"], n=4):
        assert 0.0 <= trial.params[KNN_ALPHA] <= 0.5
        assert tcfg.model.knn_blend.alpha == params[KNN_ALPHA]
        assert "knn_alpha" not in tcfg.stage
