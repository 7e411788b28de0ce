"""search.patience and search.terminator stop a study early, with the reason on the parent MLflow run."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.search.patience import STOP_REASON_TAG, StopRule, stale_trials

from tests.helpers.config import compose_config
from tests.helpers.workers import FAST, journal, load_study, run_opt, runs_of, sqlite_tracking


def _study(direction: str, outcomes: list[float | None]) -> optuna.Study:
    """Finished trials in completion order: a value is COMPLETE, None is PRUNED."""
    study = optuna.create_study(direction=direction)
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    study.add_trials([optuna.trial.create_trial(
        params={"x": 0.5}, distributions={"x": dist}, value=v,
        state=TrialState.COMPLETE if v is not None else TrialState.PRUNED,
        intermediate_values={} if v is not None else {0: 0.0}) for v in outcomes])
    return study


@pytest.mark.parametrize(("direction", "outcomes", "stale", "best"), [
    ("maximize", [1.0, 3.0, 2.0, None, 3.0], 3, 3.0),   # 3.0 again is no improvement
    ("minimize", [1.0, 3.0, 0.5, 2.0], 1, 0.5),
    ("maximize", [None, None], 2, None),                 # no complete trial: every finished trial counts
    ("maximize", [1.0, 2.0], 0, 2.0),
])
def test_stale_trials_counts_finished_trials_since_the_last_improvement(direction: str, outcomes: list, stale: int,
                                                                         best: float | None) -> None:
    count, best_trial = stale_trials(_study(direction, outcomes))
    assert count == stale
    assert (best_trial.values[0] if best_trial else None) == best


def test_the_stop_rule_trips_once_at_patience_and_reports_the_reason() -> None:
    reasons: list[str] = []
    rule = StopRule(compose_config(["search.patience=3"]), ["maximize"], on_stop=reasons.append)
    assert rule(_study("maximize", [1.0, 3.0, 2.0, None])) is None
    assert rule(_study("maximize", [1.0, 3.0, 2.0, None, 1.0])) == reasons[0]
    assert reasons[0].startswith("search.patience=3: 3 finished trials without a better score since the best score 3")
    rule(_study("maximize", [1.0, 3.0, 2.0, None, 1.0, 0.0]))
    assert len(reasons) == 1


def test_no_patience_and_no_terminator_is_inactive() -> None:
    assert not StopRule(compose_config(), ["maximize"]).active


def test_the_terminator_refuses_several_objectives() -> None:
    with pytest.raises(ConfigError, match="search.terminator=true needs one objective"):
        StopRule(compose_config(["search.terminator=true"]), ["maximize", "minimize"])


def test_patience_below_one_is_refused() -> None:
    from opt.config_rules import check_config

    with pytest.raises(ConfigError, match="search.patience"):
        check_config(compose_config(["search.patience=0"]))


@pytest.mark.slow
def test_cli_patience_stops_the_study_early_with_the_reason_on_the_parent_run(tmp_path: Path) -> None:
    result = run_opt([*FAST, "search.study_name=pat", "search.n_trials=20", "search.patience=2",
                      "search.sampler=random"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = load_study(journal(tmp_path), "pat-stage1")
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert 2 <= len(finished) < 20
    stale, _ = stale_trials(study)
    assert stale == 2  # it stopped as soon as 2 finished trials brought no better score
    parents = [r for r in runs_of(sqlite_tracking(tmp_path), "pat") if r.data.tags.get("opt.role") == "parent"]
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert parents[0].data.tags[STOP_REASON_TAG].startswith("search.patience=2: 2 finished trials without a better")


def test_the_terminator_judges_a_real_study_without_cross_validation_scores() -> None:
    # Optuna's default Terminator needs cross-validation scores on every trial and raises without them
    rule = StopRule(compose_config(["search.terminator=true"]), ["maximize"])
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: -(t.suggest_float("x", 0.0, 1.0) - 0.3) ** 2, n_trials=45)
    reason = rule(study)
    assert reason is None or reason.startswith("search.terminator=true: Optuna's Terminator")
    assert rule(optuna.create_study(direction="maximize")) is None  # too few trials: never stops
