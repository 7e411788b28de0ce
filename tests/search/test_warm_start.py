"""search.warm_start: the K best parameter sets of an earlier study are the first trials of a new one."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.search.warm_start import FROM_ATTR, WARM_START_ATTR, warm_start
from opt.studies import make_storage, ranked_trials

from tests.helpers.config import compose_config
from tests.helpers.workers import FAST, journal, load_study, run_opt


def _journal_cfg(tmp_path: Path, *overrides: str):  # noqa: ANN202 - a DictConfig
    return compose_config(["+stage=1", f"search.storage={tmp_path / 'journal.log'}", *overrides])


def _study_with_scores(tmp_path: Path, name: str, points: list[tuple[float, float]]) -> optuna.Study:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log")))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    study.add_trials([optuna.trial.create_trial(params={"events.k_atr": x}, distributions={"events.k_atr": dist},
                                                value=v) for x, v in points])
    return study


def test_the_k_best_distinct_parameter_sets_are_enqueued_best_first(tmp_path: Path) -> None:
    _study_with_scores(tmp_path, "old-stage1", [(0.1, 1.0), (0.2, 5.0), (0.3, 3.0), (0.2, 4.0), (0.4, 2.0)])
    cfg = _journal_cfg(tmp_path, "search.study_name=new", "search.warm_start.study=old", "search.warm_start.top_k=3")
    new = optuna.create_study(study_name="new-stage1", storage=make_storage(cfg), direction="maximize")
    enqueued = warm_start(new, cfg, 1)
    assert enqueued == [{"events.k_atr": 0.2}, {"events.k_atr": 0.3}, {"events.k_atr": 0.4}]  # 0.2 once
    waiting = new.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [t.user_attrs[FROM_ATTR] for t in waiting] == ["old-stage1#1", "old-stage1#2", "old-stage1#4"]
    assert new.user_attrs[WARM_START_ATTR] == {"study": "old-stage1", "trials": [1, 2, 4]}
    assert warm_start(new, cfg, 1) == []  # a resumed invocation does not enqueue again
    assert len(new.get_trials(deepcopy=False)) == 3


@pytest.mark.parametrize(("overrides", "message"), [
    (["search.warm_start.study=missing"], "search.warm_start.study='missing': no study 'missing-stage1' in"),
    (["search.warm_start.study=new"], "search.warm_start.study='new' is this study itself"),
    (["search.warm_start.study=../x"], "search.warm_start.study='../x' breaks the rule"),
    (["search.warm_start.study=old", "search.sampler=grid"], "search.warm_start does not combine with search.sampler=grid"),
])
def test_bad_warm_starts_are_refused_with_the_key(tmp_path: Path, overrides: list[str], message: str) -> None:
    from opt.search.runner import make_sampler

    _study_with_scores(tmp_path, "old-stage1", [(0.1, 1.0)])
    cfg = _journal_cfg(tmp_path, "search.study_name=new", *overrides)
    new = optuna.create_study(study_name="new-stage1", storage=make_storage(cfg), sampler=make_sampler(cfg))
    with pytest.raises(ConfigError) as err:
        warm_start(new, cfg, 1)
    assert message in str(err.value)


@pytest.mark.slow
def test_cli_warm_start_runs_the_k_best_of_an_earlier_study_first(tmp_path: Path) -> None:
    first = run_opt([*FAST, "search.study_name=month1", "search.n_trials=5", "search.sampler=random"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    old = load_study(journal(tmp_path), "month1-stage1")
    best = [dict(t.params) for t in ranked_trials(old)[:2]]
    assert len(best) == 2, "the earlier study needs 2 complete trials"
    # a new study on other data (more days): the warm start reads the earlier study, the binding is the new one's
    args = [*FAST, "data.synthetic.n_days=28", "search.study_name=month2", "search.n_trials=3",
            "search.warm_start.study=month1", "search.warm_start.top_k=2"]
    second = run_opt(args, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    new = load_study(journal(tmp_path), "month2-stage1")
    trials = sorted(new.get_trials(deepcopy=False), key=lambda t: t.number)
    assert [t.params for t in trials[:2]] == best
    assert [t.user_attrs.get(FROM_ATTR) for t in trials] == [
        f"month1-stage1#{t.number}" for t in ranked_trials(old)[:2]] + [None]
    assert len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == 3


def test_cli_warm_start_from_a_missing_study_exits_with_the_key_and_no_traceback(tmp_path: Path) -> None:
    result = run_opt([*FAST, "search.study_name=w", "search.n_trials=1", "search.warm_start.study=nope"], tmp_path)
    assert result.returncode != 0
    assert "search.warm_start.study='nope': no study 'nope-stage1'" in result.stderr
    assert "Traceback" not in result.stderr
