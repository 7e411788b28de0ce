"""The run summary printed at the end of ``python -m opt run``: the study's state and its best trial.

Abandoned trials (the target was reached by another worker before they started; recorded as FAIL with
the user attribute ``abandoned``) are counted apart from failures.
"""

from __future__ import annotations

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from opt.schema import TrialAttr
from opt.studies import best_file, best_record

__all__ = ["summarize"]


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by outcome: complete, pruned, fail, abandoned (FAIL with user attribute ``abandoned``), running."""
    trials = study.get_trials(deepcopy=False)
    abandoned = sum(1 for t in trials if TrialAttr.ABANDONED in t.user_attrs)
    return {"complete": sum(t.state == TrialState.COMPLETE for t in trials),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "fail": sum(t.state == TrialState.FAIL for t in trials) - abandoned,
            "abandoned": abandoned, "running": sum(t.state == TrialState.RUNNING for t in trials)}


def summarize(study: optuna.Study, cfg: DictConfig, stage: int) -> None:
    """Print the study's trial counts and its best trial (params and metrics) as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    counts = ", ".join(f"{name} {n}" for name, n in state_counts(study).items() if n)
    states = study.get_trials(deepcopy=False)
    console.print(f"[bold]{study.study_name}[/bold]: {len(states)} trials ({counts})")
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
        table.add_row(k, f"{v:.4g}")
    console.print(table)
    console.print(f"best parameters: {best_file(cfg, stage)}")
