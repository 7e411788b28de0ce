"""search.sampler=grid: grid points from the stage space (conditions respected) and a grid run to completion."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.search.grid import GRID_ATTR, GridSearchSampler, grid_points, stage_grid
from opt.search.runner import make_sampler
from opt.stages.space import suggest

from tests.helpers.config import compose_config
from tests.helpers.workers import (
    FAST,
    check_exact_target,
    journal,
    load_study,
    run_opt,
    runs_of,
    sqlite_tracking,
)

PM = {"levels": {"use": {"pm": {"type": "categorical", "choices": [True, False], "grid": [True, False]}}},
      "events": {"monitor_band": {"pm": {"type": "float", "low": 0.5, "high": 6.0, "when": "levels.use.pm",
                                         "grid": [1.0, 3.0]}},
                 "k_atr": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.2, 0.6]},
                 "touch_band": {"pm": {"type": "float", "low": 0.0, "high": 1.5, "when": "levels.use.pm"}}}}

#: a 3-point grid on the stage-1 space: levels.use.pm true x monitor_band.pm {1, 3}, and pm false once
GRID = ["search.sampler=grid", "++stage.space.levels.use.pm.grid=[true,false]",
        "++stage.space.events.monitor_band.pm.grid=[1.0,3.0]", "stage.space.events.k_atr.grid=[0.5]",
        "stage.space.outcome.threshold.grid=[2.0]", "stage.space.outcome.lookforward.grid=[20]"]


def test_a_conditional_parameter_is_left_out_of_the_points_where_its_condition_is_false() -> None:
    points = grid_points(PM, where="stage.space")
    assert len(points) == 6  # (pm true: 2 bands + pm false: 1) x 2 k_atr -- not 2 x 2 x 2 = 8
    assert {"levels.use.pm": False, "events.k_atr": 0.2} in points
    assert sum(1 for p in points if p["levels.use.pm"]) == 4
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)


def test_a_grid_on_a_parameter_whose_condition_has_none_is_refused() -> None:
    space = {"levels": {"use": {"pm": {"type": "categorical", "choices": [True, False]}}},
             "events": {"monitor_band": {"pm": {"type": "float", "low": 0.5, "high": 6.0, "when": "levels.use.pm",
                                                "grid": [1.0]}}}}
    with pytest.raises(ConfigError, match=r"stage.space.events.monitor_band.pm.grid: its condition levels.use.pm "
                                          r"has no grid values.*add stage.space.levels.use.pm.grid"):
        grid_points(space, where="stage.space")


def test_an_offset_leaf_needs_grid_values_when_its_base_has_some() -> None:
    cfg = compose_config(["+stage=1", "search.sampler=grid", "+stage.space.features.window_short.grid=[3]"])
    with pytest.raises(ConfigError, match="stage.space.features.window_mid has no grid values but its base"):
        make_sampler(cfg)


def test_a_stage_space_without_grid_values_is_refused() -> None:
    cfg = compose_config(["+stage=1", "search.sampler=grid", "~stage.space.events.k_atr.grid",
                          "~stage.space.outcome.threshold.grid", "~stage.space.outcome.lookforward.grid"])
    with pytest.raises(ConfigError, match="no parameter of the stage space declares grid values"):
        stage_grid(cfg)


def test_the_default_stage1_grid_builds() -> None:
    sampler = make_sampler(compose_config(["+stage=1", "search.sampler=grid"]))
    assert isinstance(sampler, GridSearchSampler) and len(sampler.points) == 18


def test_the_grid_sampler_runs_each_point_once_and_reruns_a_failed_one() -> None:
    sampler = GridSearchSampler(grid_points(PM, where="stage.space"))
    study = optuna.create_study(sampler=sampler)
    seen = []
    for i in range(len(sampler.points) + 1):
        trial = study.ask()
        params = suggest(trial, PM)
        assert "events.touch_band.pm" not in params  # no grid values: not searched, config default stays
        if i == 0:
            study.tell(trial, state=TrialState.FAIL)  # a failed point is free again
            continue
        seen.append(trial.params)
        study.tell(trial, 0.0)
    assert sorted(map(repr, seen)) == sorted(map(repr, sampler.points))


@pytest.mark.slow
def test_cli_grid_runs_the_whole_grid_and_stops(tmp_path: Path) -> None:
    result = run_opt([*FAST, *GRID, "search.study_name=grid", "search.n_trials=50"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = load_study(journal(tmp_path), "grid-stage1")
    finished = check_exact_target(study, 3)  # n_trials=50 became the 3 grid points
    points = sorted(repr(sorted(t.params.items())) for t in finished)
    assert points == sorted(repr(sorted(p.items())) for p in [
        {"levels.use.pm": True, "events.monitor_band.pm": 1.0, "events.k_atr": 0.5, "outcome.threshold": 2.0,
         "outcome.lookforward": 20},
        {"levels.use.pm": True, "events.monitor_band.pm": 3.0, "events.k_atr": 0.5, "outcome.threshold": 2.0,
         "outcome.lookforward": 20},
        {"levels.use.pm": False, "events.k_atr": 0.5, "outcome.threshold": 2.0, "outcome.lookforward": 20}])
    assert sorted(t.system_attrs[GRID_ATTR] for t in finished) == [0, 1, 2]
    parents = [r for r in runs_of(sqlite_tracking(tmp_path), "grid") if r.data.tags.get("opt.role") == "parent"]
    assert [p.info.status for p in parents] == ["FINISHED"]
    again = run_opt([*FAST, *GRID, "search.study_name=grid"], tmp_path)  # complete: resuming runs nothing
    assert again.returncode == 0, again.stderr[-3000:]
    check_exact_target(load_study(journal(tmp_path), "grid-stage1"), 3)


def test_stage2_grid_covers_the_bracket_space_and_one_model_family() -> None:
    cfg = compose_config(["+stage=2", "search.sampler=grid", "++stage.model_space.xgboost.model.max_depth.grid=[3,5]",
                          "++stage.space.bracket.entry_mode.grid=[market,limit]",
                          "++stage.space.bracket.expiry_bars.grid=[5,10]"])
    points = stage_grid(cfg)
    assert len(points) == 2 * (1 + 2) * 8  # max_depth x (market | limit x expiry) x the 8 default points
    assert all(("bracket.expiry_bars" in p) == (p["bracket.entry_mode"] == "limit") for p in points)
    with pytest.raises(ConfigError, match=r"search.sampler=grid searches one model family"):
        stage_grid(compose_config(["+stage=2", "search.sampler=grid", "stage.models=[xgboost,cnn]"]))
    with pytest.raises(ConfigError, match=r"stage.knn_blend.search=true"):
        stage_grid(compose_config(["+stage=2", "search.sampler=grid", "stage.knn_blend.search=true"]))
