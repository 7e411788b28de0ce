"""The default sampler: Optuna's TPE on a bounded view of the history (opt.search.samplers)."""

from __future__ import annotations

import optuna
import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from opt.search.samplers import BoundedTPESampler, bounded_history

from tests.helpers.config import compose_config

optuna.logging.set_verbosity(optuna.logging.WARNING)
DIST = {"x": optuna.distributions.FloatDistribution(-5.0, 5.0), "y": optuna.distributions.FloatDistribution(-5.0, 5.0)}


def _objective(trial: optuna.Trial) -> float:
    x, y = trial.suggest_float("x", -5.0, 5.0), trial.suggest_float("y", -5.0, 5.0)
    if trial.number % 7 == 3:
        raise optuna.TrialPruned()
    return -((x - 1.3) ** 2) - (y + 2.1) ** 2


def _history(n: int, *, constraint_every: int = 0) -> list[optuna.trial.FrozenTrial]:
    out = []
    for i in range(n):
        value = float((i * 37) % 101)  # a scrambled, known ranking: 100 is the best value
        attrs = {}
        if constraint_every and i % constraint_every == 0:
            attrs = {"constraints": (1.0,)}  # infeasible (Optuna: feasible when all values <= 0)
        t = create_trial(state=TrialState.COMPLETE if i % 5 else TrialState.PRUNED, value=value if i % 5 else None,
                         params={"x": 0.0, "y": 0.0}, distributions=DIST, system_attrs=attrs)
        t.number = i
        out.append(t)
    return out


def test_below_the_bound_the_view_is_the_whole_history() -> None:
    trials = _history(40)
    assert bounded_history(trials, max_history=40, n_best=10, direction=StudyDirection.MAXIMIZE) == trials


@pytest.mark.parametrize("direction", [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE])
def test_above_the_bound_the_view_keeps_the_best_trials_the_latest_and_an_even_spread(direction: StudyDirection) -> None:
    trials = _history(1000)
    view = bounded_history(trials, max_history=100, n_best=20, direction=direction)
    assert len(view) == 100
    assert [t.number for t in view] == sorted({t.number for t in view})  # number order, no duplicates
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.value, reverse=direction == StudyDirection.MAXIMIZE)  # type: ignore
    assert {t.number for t in ranked[:20]} <= {t.number for t in view}
    assert view[-1].number == 999 and view[0].number == 0  # both ends of the spread
    spread = [t.number for t in view if t.number not in {r.number for r in ranked[:20]}]
    gaps = [b - a for a, b in zip(spread, spread[1:], strict=False)]
    assert max(gaps) <= 2 * (1000 / 80)  # even spacing over the whole history, not only its recent end


def test_infeasible_trials_are_never_kept_as_best_and_running_trials_always_are() -> None:
    trials = _history(500, constraint_every=2)
    running = create_trial(state=TrialState.RUNNING, params={}, distributions={})
    running.number = 500
    view = bounded_history([*trials, running], max_history=50, n_best=10, direction=StudyDirection.MAXIMIZE)
    assert view[-1].number == 500 and len(view) == 51
    feasible = [t for t in trials if t.state == TrialState.COMPLETE and t.number % 2]
    best = sorted(feasible, key=lambda t: -t.value)[:10]  # type: ignore[operator]
    assert {t.number for t in best} <= {t.number for t in view}


def test_bad_bounds_are_refused_with_the_rule() -> None:
    with pytest.raises(ValueError, match="max_history >= 1"):
        BoundedTPESampler(max_history=0)
    with pytest.raises(ValueError, match="n_best <= max_history"):
        bounded_history([], max_history=5, n_best=6, direction=None)


def test_within_the_bound_it_samples_exactly_what_optunas_tpe_samples() -> None:
    """Same seed, same study: identical parameters trial by trial (pruned trials included)."""
    kwargs = {"seed": 3, "n_startup_trials": 5, "group": True, "constant_liar": True}
    a = optuna.create_study(direction="maximize", sampler=BoundedTPESampler(max_history=1000, **kwargs))
    b = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(**kwargs))
    a.optimize(_objective, n_trials=40)
    b.optimize(_objective, n_trials=40)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_beyond_the_bound_tpe_models_only_the_view_and_still_converges() -> None:
    sampler = BoundedTPESampler(max_history=30, n_best=20, seed=0, n_startup_trials=10, group=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=150)
    seen = []

    class Spy(BoundedTPESampler):
        def _sample(self, study, trial, search_space):  # type: ignore[no-untyped-def]  # Optuna's private hook
            seen.append(len(study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))))
            return super()._sample(study, trial, search_space)

    study.sampler = Spy(max_history=30, n_best=20, seed=1, n_startup_trials=10, group=True)
    study.optimize(_objective, n_trials=5)
    assert seen and max(seen) == 30  # 155 finished trials in the study, 30 in TPE's view
    # the optimum is 0 at (1.3, -2.1); random search's best of 155 trials: median -0.06 over 10 seeds, and
    # this view (good set sized from the whole history, opt.search.samplers) does as well as full TPE (~-0.001)
    assert study.best_value > -0.01


def test_the_default_sampler_config_is_bounded_tpe() -> None:
    from opt.search.runner import make_sampler

    sampler = make_sampler(compose_config(["+stage=1"]))
    assert isinstance(sampler, BoundedTPESampler)
    assert sampler._max_history == 250 and sampler._n_best == 50
    unbounded = make_sampler(compose_config(["+stage=1", "search.sampler.max_history=null"]))
    assert isinstance(unbounded, BoundedTPESampler) and unbounded._max_history is None


def test_the_history_follows_other_workers_trials_finished_out_of_order() -> None:
    """Each ask reads only the trials it has not seen finished; trials that other workers (another
    sampler on the same storage) finish later, or out of order, are all picked up."""
    storage = optuna.storages.InMemoryStorage()
    a_sampler = BoundedTPESampler(max_history=20, n_best=5, seed=0, n_startup_trials=3)
    a = optuna.create_study(storage=storage, study_name="s", direction="maximize", sampler=a_sampler)
    b = optuna.load_study(storage=storage, study_name="s", sampler=BoundedTPESampler(seed=1, n_startup_trials=3))
    held = []
    for i in range(30):
        mine = a.ask()
        mine.suggest_float("x", 0.0, 1.0)
        other = b.ask()  # B's trial stays RUNNING while A's next ones run (a slow worker)
        other.suggest_float("x", 0.0, 1.0)
        held.append(other)
        a.tell(mine, float(i % 11))
        if i % 3 == 2:  # B finishes its trials in a burst, oldest last
            for t in reversed(held):
                b.tell(t, float(i % 7))
            held.clear()
    a.ask().suggest_float("x", 0.0, 1.0)  # a last read (the sampler reads the study on a trial's first suggest)
    finished = sorted(t.number for t in a.get_trials(deepcopy=False) if t.state.is_finished())
    assert [t.number for t in a_sampler._history.finished] == finished  # type: ignore[union-attr]
    best = sorted((t for t in a.trials if t.state == TrialState.COMPLETE), key=lambda t: (-t.value, t.number))[:5]
    assert [t.number for t in a_sampler._history.best] == [t.number for t in best]  # type: ignore[union-attr]
