"""Every config group composes, and the overrides the README promises are accepted."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from opt.paths import conf_dir
from opt.search.space import iter_space, validate_space

from conftest import compose_config

GROUPS = sorted(p.name for p in conf_dir().iterdir() if p.is_dir())


def _choices(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_choice_of_every_group_composes(group: str) -> None:
    prefix = "+" if group == "stage" else ""
    for choice in _choices(group):
        overrides = [f"{prefix}{group}={choice}"]
        if group == "data" and choice in ("csv", "parquet"):
            overrides.append("data.path=bars.csv")
        cfg = compose_config(overrides)
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert resolved[group] is not None


def test_default_groups_are_the_documented_ones() -> None:
    cfg = compose_config()
    assert cfg.data.source == "synthetic"
    assert cfg.instrument.symbol == "MES"
    assert cfg.model.name == "xgboost"
    assert cfg.tracking.uri == "sqlite:///mlruns/mlflow.db"
    assert "stage" not in cfg


def test_readme_overrides_are_accepted() -> None:
    cfg = compose_config([
        "+stage=1", "data=csv", "data.path=/tmp/x.csv", "data.tz=America/Chicago", "data.start=2025-09-01",
        "data.end=2025-10-01", "instrument=es", "search.n_trials=3", "search.timeout=60",
        "search.study_name=mine", "search.seed=5", "search.storage=sqlite:///x.db", "tracking.uri=sqlite:///y.db",
    ])
    assert (cfg.data.path, cfg.data.tz, cfg.instrument.point_value) == ("/tmp/x.csv", "America/Chicago", 50.0)
    assert (cfg.search.n_trials, cfg.search.study_name, cfg.tracking.experiment) == (3, "mine", "mine")


@pytest.mark.parametrize("stage", _choices("stage"))
def test_stage_spaces_point_at_existing_config_keys(stage: str) -> None:
    cfg = compose_config([f"+stage={stage}"])
    validate_space(cfg.stage.space, cfg, where="stage.space")
    names = [name for name, _ in iter_space(cfg.stage.space)]
    assert len(names) == len(set(names)) > 0
