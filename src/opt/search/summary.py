"""The run summary printed at the end of ``python -m opt run``: the study's state, what was optimized, its best trial.

Abandoned trials (the target was reached by another worker before they started; recorded as FAIL with
the user attribute ``abandoned``) are counted apart from failures. The score is named with its
objective (:func:`describe_objective`), e.g. ``score 1.84 = sharpe (pooled over 5 folds' daily PnL,
maximize)``, and a search without a usable result says so plainly (:func:`opt.studies.verdict.verdict`):
every trial scored the min-trades penalty, or the best trial evaluated too few events. A stage-2 best
trial whose profit comes from one regime slice gets a note
(:func:`opt.backtest.regimes.concentration_from_metrics` of its metrics, ``robustness.regimes.max_slice_share``).
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from opt.backtest.regimes import concentration_from_metrics
from opt.schema import TrialAttr
from opt.studies import best_file, best_record
from opt.studies.verdict import no_result, verdict

__all__ = ["describe_objective", "state_counts", "summarize"]

_POOLED = {"sharpe": "daily PnL", "precision_at_80": "confident calls"}


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by outcome: complete, pruned, fail, abandoned (FAIL with user attribute ``abandoned``), running."""
    trials = study.get_trials(deepcopy=False)
    abandoned = sum(1 for t in trials if TrialAttr.ABANDONED in t.user_attrs)
    return {"complete": sum(t.state == TrialState.COMPLETE for t in trials),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "fail": sum(t.state == TrialState.FAIL for t in trials) - abandoned,
            "abandoned": abandoned, "running": sum(t.state == TrialState.RUNNING for t in trials)}


def describe_objective(cfg: DictConfig, stage: int, directions: list[str], n_folds: int | None = None) -> str:
    """What the score is, in words: the metric, how the folds combine, and the direction.

    Args:
        cfg: the configuration (``stage.objective`` for stage 2, ``stage.weights`` for stage 1).
        stage: 1 or 2.
        directions: the study's directions, lower case (``["maximize"]``).
        n_folds: walk-forward folds the best trial evaluated (stage 2), or None when unknown.

    Returns:
        E.g. ``sharpe (pooled over 5 folds' daily PnL, maximize)``, ``sharpe (median of the per-fold
        values over 5 folds, maximize)``, or the stage-1 composite with its weights.
    """
    if stage == 1:
        w = OmegaConf.select(cfg, "stage.weights", default=None)
        terms = ("physics_quality", "model_performance", "variance_score")
        formula = " + ".join(f"{w[t]:g} {t}" for t in terms) if w is not None else " + ".join(terms)
        return f"stage-1 composite {formula} (DESIGN §7, {directions[0]})"
    obj = cfg.stage.objective
    if obj.multi:
        pairs = ", ".join(f"{m} {d}" for m, d in zip(obj.multi, directions, strict=False))
        return f"({pairs}); score and ranking by the first"
    folds = f"{n_folds} folds" if n_folds is not None else "the walk-forward folds"
    metric, aggregate = str(obj.metric), str(obj.aggregate)
    how = (f"pooled over {folds}' {_POOLED.get(metric, 'trades')}" if aggregate == "pooled"
           else f"{aggregate} of the per-fold values over {folds}")
    return f"{metric} ({how}, {directions[0]})"


def _penalty_rule(cfg: DictConfig) -> str:
    obj = cfg.stage.objective
    return (f"fewer than stage.objective.min_trades={int(obj.min_trades)} trades over all folds scores "
            f"stage.objective.penalty={float(obj.penalty):g}")


def _concentration(cfg: DictConfig, metrics: dict[str, float]) -> str | None:
    """The regime-concentration flag of a stage-2 trial's metrics, with the threshold that raised it (or None)."""
    max_share = OmegaConf.select(cfg, "robustness.regimes.max_slice_share", default=None)
    flag = concentration_from_metrics(metrics, float(max_share)) if max_share is not None else None
    if flag is None:
        return None
    return f"{flag} (robustness.regimes.max_slice_share={float(max_share):g}; slices in the run's regimes.csv)"


def summarize(study: optuna.Study, cfg: DictConfig, stage: int) -> None:
    """Print the trial counts, the objective, the best trial (params and metrics) and whether it is a result."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=False, soft_wrap=True)  # sentences stay on one line in logs and pipes
    counts = ", ".join(f"{name} {n}" for name, n in state_counts(study).items() if n)
    states = study.get_trials(deepcopy=False)
    console.print(f"[bold]{study.study_name}[/bold]: {len(states)} trials ({counts})")
    directions = [d.name.lower() for d in study.directions]
    if stage == 2:
        console.print(f"objective: {escape(describe_objective(cfg, stage, directions))}; {_penalty_rule(cfg)}")
    record = best_record(study)
    if record is None:
        console.print("no complete trial yet")
        return
    table = Table(title=f"best trial #{record['trial']}  score={record['score']:.4f}  "
                        f"run {record['mlflow_run_id']}")
    table.add_column("name")
    table.add_column("value", justify="right")
    for k, v in record["params"].items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    table.add_section()
    for k, v in record["metrics"].items():
        if k.startswith("regime_") and k != "regime_max_slice_share":
            continue  # one row per regime slice would crowd the table: they are in the run's regimes.csv
        table.add_row(k, f"{v:.4g}")
    console.print(table)
    folds = record["metrics"].get("n_folds")
    described = describe_objective(cfg, stage, directions, int(folds) if folds is not None else None)
    console.print(f"best trial #{record['trial']}: score {record['score']:.4g} = {escape(described)}")
    concentrated = _concentration(cfg, record["metrics"]) if stage == 2 else None
    if concentrated:
        console.print(f"note: best trial #{record['trial']}: profit from one regime slice: {escape(concentrated)}")
    if stage == 2:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        penalized = sum(1 for t in complete if no_result(t))
        if penalized:
            console.print(f"{penalized} of {len(complete)} complete trials scored the min-trades penalty or made "
                          "no trade")
    if stage == 2:
        _print_selection(console, study, record)
    judged = verdict(study, cfg, stage)
    for note in judged.notes:
        console.print(f"note: {escape(note)}")
    path = best_file(cfg, stage)
    if not judged.usable:
        console.print(f"[bold red]NO RESULT:[/bold red] {escape(judged.reason)}")
        console.print(f"best parameters (marked usable: false): {path}")
        return
    console.print(f"best parameters: {path}")


def _print_selection(console: Any, study: optuna.Study, record: dict[str, Any]) -> None:
    """The best trial's deflated Sharpe ratio with its N, and the running PBO of the study's top trials."""
    from opt.search.overfitting import RUNNING_PBO_ATTR

    m = record["metrics"]
    if "deflated_sharpe" in m:
        dsr_text = "n/a" if not math.isfinite(m["deflated_sharpe"]) else f"{m['deflated_sharpe']:.3f}"
        console.print(f"selection bias: best trial's deflated Sharpe ratio {dsr_text} with N = "
                      f"{int(m.get('dsr_n_trials', 0))} configurations tried (both stages, failed and pruned "
                      "included); python -m opt list inspect.sort=deflated_sharpe ranks by it")
    found = study.user_attrs.get(RUNNING_PBO_ATTR) or {}
    if found.get("pbo") is not None:
        console.print(f"PBO over the top {int(found.get('pbo_trials') or 0)} trials: {found['pbo']:.3f} "
                      f"(CSCV, S={int(found.get('pbo_splits') or 0)} blocks of {int(found.get('pbo_days') or 0)} "
                      "days; above 0.5 the search more likely fits noise than signal)")
