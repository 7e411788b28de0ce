"""Whether a finished search gave a usable result, and why not: read by ``run``'s summary and ``best_stage<N>.yaml``.

A stage-2 search has no result when

- every complete trial scored the min-trades penalty or made no trade (the trial metric
  ``min_trades_penalty`` is 1, or ``n_trades`` is 0): the "best" trial is only the least bad penalty;
- its best trial scored the penalty or made no trade (possible when ``objective.metric`` can fall below
  ``objective.penalty``, e.g. ``net_pnl``);
- its best trial's walk-forward evaluated fewer than ``stage.objective.min_events`` events over all
  folds (metric ``n_eval_events``): too few events to be meaningful.

A usable result can still carry notes: the best trial lost money, or made no trade in some folds (its
score rests on fewer folds than it seems). Stage 1 has no such guard:
its results are always usable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from opt.schema import TrialAttr
from opt.studies.reading import best_trial

__all__ = ["Verdict", "verdict", "no_result"]


@dataclass(frozen=True)
class Verdict:
    """Whether a study's best trial is a result.

    Attributes:
        usable: False when the search gave no result (module docstring).
        reason: why not, one sentence naming the config key; empty when usable.
        notes: further warnings about a usable result (e.g. the best trial's net PnL is negative).
    """

    usable: bool
    reason: str = ""
    notes: list[str] = field(default_factory=list)


def no_result(trial: FrozenTrial) -> bool:
    """Whether a finished stage-2 trial scored the min-trades penalty or made no trade (its metrics say so)."""
    metrics = trial.user_attrs.get(TrialAttr.METRICS, {})
    return bool(metrics.get("min_trades_penalty", 0.0)) or metrics.get("n_trades", 1.0) == 0


def verdict(study: optuna.Study, cfg: DictConfig, stage: int) -> Verdict:
    """Judge ``study``'s best complete trial (module docstring).

    Args:
        study: the finished study (stage ``stage``).
        cfg: the configuration (``stage.objective.min_trades``, ``penalty``, ``min_events`` for stage 2).
        stage: 1 or 2.

    Returns:
        The verdict; ``usable`` False with a reason when the study has no complete trial.
    """
    best = best_trial(study)
    if best is None:
        return Verdict(False, "no complete trial")
    obj = OmegaConf.select(cfg, "stage.objective", default=None)
    if stage != 2 or obj is None:
        return Verdict(True)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    guard = (f"fewer than stage.objective.min_trades={int(obj.min_trades)} trades over all folds, score "
             f"stage.objective.penalty={float(obj.penalty):g}")
    if all(no_result(t) for t in complete):
        return Verdict(False, f"every one of the {len(complete)} complete trials scored the min-trades penalty "
                              f"({guard}) or made no trade: no result")
    metrics = best.user_attrs.get(TrialAttr.METRICS, {})
    if no_result(best):
        return Verdict(False, f"the best trial #{best.number} scored the min-trades penalty ({guard}) or made no "
                              f"trade ({int(metrics.get('n_trades', 0))} trades)")
    min_events = int(obj.min_events)
    events = metrics.get("n_eval_events")
    if events is not None and events < min_events:
        return Verdict(False, f"too few events to be meaningful: the best trial's walk-forward evaluated "
                              f"{int(events)} events < stage.objective.min_events={min_events}")
    notes = []
    if metrics.get("net_pnl", 0.0) < 0:
        notes.append(f"the best trial lost money: net_pnl {metrics['net_pnl']:,.2f}")
    idle, folds = metrics.get("n_folds_no_trades", 0.0), metrics.get("n_folds", 0.0)
    if idle > 0:
        notes.append(f"the best trial made no trade in {int(idle)} of {int(folds)} walk-forward folds: its "
                     "result rests on the other folds")
    return Verdict(True, notes=notes)
