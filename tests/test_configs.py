"""Every config group composes, and the overrides the README promises are accepted."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from opt.paths import conf_dir
from opt.stages.space import iter_space, validate_space

from tests.helpers.config import compose_config

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


#: config groups whose choices are objects built from ``_target_``, and where each sits in the config
TARGET_GROUPS = {"model": "model", "search/sampler": "search.sampler", "search/pruner": "search.pruner"}


@pytest.mark.parametrize(("group", "choice"), [(g, c) for g in TARGET_GROUPS for c in _choices(g)])
def test_every_target_of_every_group_choice_builds(group: str, choice: str) -> None:
    import optuna

    from opt.models import Classifier, make_model
    from opt.search.runner import make_pruner, make_sampler

    cfg = compose_config([f"{group}={choice}"])
    node = OmegaConf.select(cfg, TARGET_GROUPS[group])
    assert "_target_" in node, f"conf/{group}/{choice}.yaml has no _target_"
    if group == "model":
        assert isinstance(make_model(node, seed=0), Classifier)
    elif group == "search/sampler":
        assert isinstance(make_sampler(cfg), optuna.samplers.BaseSampler)
    else:
        assert isinstance(make_pruner(cfg), optuna.pruners.BasePruner)


def test_stage2_model_families_build_from_their_targets() -> None:
    from opt.models import make_model

    cfg = compose_config(["+stage=2"])
    for family, node in cfg.stage.families.items():
        assert type(make_model(node, seed=0)).__name__.lower().startswith(family[:3])


def test_sampler_and_pruner_are_chosen_with_the_dotted_shorthand() -> None:
    from opt.cli import normalize_overrides

    args = normalize_overrides(["search.sampler=random", "search.pruner=none", "+stage=2"])
    assert args == ["search/sampler=random", "search/pruner=none", "+stage='2'"]
    cfg = compose_config(args)
    assert cfg.search.sampler._target_ == "optuna.samplers.RandomSampler"
    assert cfg.search.pruner._target_ == "optuna.pruners.NopPruner"
