"""The run summary printed at the end of ``python -m opt run``: the study's state and its best trial."""

from __future__ import annotations

import optuna
from omegaconf import DictConfig

from opt.studies import best_file, best_record

__all__ = ["summarize"]


def summarize(study: optuna.Study, cfg: DictConfig, stage: int) -> None:
    """Print the study's trial counts and its best trial (params and metrics) as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    counts = ", ".join(f"{s.lower()} {states.count(s)}" for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
                       if states.count(s))
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
