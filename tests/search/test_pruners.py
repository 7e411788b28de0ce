"""The pruner config groups act on stage 2's fold-by-fold reports (opt.search.trial's report function)."""

from __future__ import annotations

import optuna
import pytest

from opt.search.runner import make_pruner
from opt.search.trial import _pruning_report

from tests.helpers.config import compose_config

N_FOLDS = 8


def _study(pruner: str) -> optuna.Study:
    # a fixed name: Hyperband puts trials in brackets by a hash of the study name and trial number
    return optuna.create_study(study_name="pruners", direction="maximize",
                               pruner=make_pruner(compose_config([f"search.pruner={pruner}"])))


def _run(study: optuna.Study, fold_values: list[float]) -> int | None:
    """Report ``fold_values`` fold by fold as stage 2 does; the fold it was pruned after, or None (completed)."""
    trial = study.ask()
    report = _pruning_report(trial)
    for fold, value in enumerate(fold_values):
        try:
            report(fold, value)
        except optuna.TrialPruned as pruned:
            assert str(pruned).startswith(f"pruned after fold {fold}: reported")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return fold
    study.tell(trial, sum(fold_values) / len(fold_values))
    return None


def test_wilcoxon_prunes_a_trial_worse_than_the_best_on_the_same_folds_before_its_last_fold() -> None:
    study = _study("wilcoxon")
    good = [1.0 + 0.1 * f for f in range(N_FOLDS)]
    assert _run(study, good) is None
    close = [v - 0.05 * (-1) ** f for f, v in enumerate(good)]  # as good as the best, fold for fold
    assert _run(study, close) is None
    pruned_after = _run(study, [v - 1.0 for v in good])  # worse on every fold
    assert pruned_after is not None and 2 <= pruned_after < N_FOLDS - 1


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_other_pruners_stop_a_clearly_worse_trial_early(pruner: str) -> None:
    study = _study(pruner)
    for i in range(12):
        _run(study, [1.0 + 0.01 * i] * N_FOLDS)
    pruned = [_run(study, [-5.0] * N_FOLDS) for _ in range(3)]
    assert any(p is not None and p < N_FOLDS - 1 for p in pruned), pruned


def test_no_pruner_never_prunes() -> None:
    study = _study("none")
    for _ in range(6):
        _run(study, [1.0] * N_FOLDS)
    assert _run(study, [-5.0] * N_FOLDS) is None
