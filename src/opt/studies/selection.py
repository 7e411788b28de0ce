"""Selection-bias accounting: how many configurations a study family tried, and their Sharpe ratios.

The deflated Sharpe ratio (Bailey and Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014)
deflates the best Sharpe ratio by the expected maximum of ``N`` independent trials. The paper asks for
``N`` to count every configuration tried, not only the ones that finished well: here every trial of
the study family (``<study>-stage1`` and ``<study>-stage2``, all invocations, restarts and workers),
COMPLETE, PRUNED, FAIL and RUNNING alike. Trials that never ran count for nothing: WAITING (enqueued,
not started) and FAIL trials marked ``abandoned`` (the study's target was reached before they began,
:mod:`opt.search.trial`).

The trial-Sharpe variance ``V`` comes from the stage-2 trials that finished with a walk-forward Sharpe
ratio (COMPLETE; user attribute ``metrics["sharpe"]``, annualized).
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.schema import TrialAttr

__all__ = ["TRIED_STATES", "tried", "trials_tried", "stage2_sharpes"]

TRIED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
"""States of a trial that ran (or runs): what ``N`` counts, abandoned trials excepted."""


def tried(trial: FrozenTrial) -> bool:
    """Whether ``trial`` tried a configuration: a :data:`TRIED_STATES` state and not abandoned."""
    return trial.state in TRIED_STATES and TrialAttr.ABANDONED not in trial.user_attrs


def trials_tried(study: optuna.Study | None) -> int:
    """Configurations ``study`` tried (module docstring); 0 for None (a stage without a study)."""
    if study is None:
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False, states=TRIED_STATES) if tried(t))


def stage2_sharpes(study: optuna.Study) -> np.ndarray:
    """Annualized walk-forward ``sharpe`` of every COMPLETE stage-2 trial, float64 ``(n,)``, finite values only."""
    values = [t.user_attrs.get(TrialAttr.METRICS, {}).get("sharpe")
              for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
