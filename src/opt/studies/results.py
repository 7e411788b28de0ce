"""Study results: the best-trial summary printed at the end and ``experiments/<study>/best_stage<N>.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig
from optuna.trial import TrialState

from opt.errors import StageError

__all__ = ["best_file", "write_best", "read_best", "summarize", "best_record"]


def best_file(cfg: DictConfig, stage: int) -> Path:
    """``experiments/<search.study_name>/best_stage<stage>.yaml``."""
    return Path(cfg.paths.experiments) / str(cfg.search.study_name) / f"best_stage{stage}.yaml"


def best_record(study: optuna.Study) -> dict[str, Any] | None:
    """The best complete trial as a plain dict (None when the study has none)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    # multi-objective studies: the Pareto-front trial with the best first objective
    best = study.best_trial if len(study.directions) == 1 else max(
        study.best_trials, key=lambda t: t.values[0] * (1 if study.directions[0].name == "MAXIMIZE" else -1))
    return {
        "optuna_study": study.study_name,
        "trial": best.number,
        "score": float(best.values[0]),
        "values": [float(v) for v in best.values],
        "mlflow_run_id": best.user_attrs.get("mlflow_run_id"),
        "params": dict(best.user_attrs.get("config_params", best.params)),
        "metrics": dict(best.user_attrs.get("metrics", {})),
        "n_trials": len(study.get_trials(deepcopy=False)),
        "n_complete": len(complete),
    }


def write_best(study: optuna.Study, sc: Any, name: str) -> Path | None:
    """Write the best trial of ``study`` (with the data fingerprint) to ``best_file``; return the path."""
    record = best_record(study)
    if record is None:
        return None
    record["study"] = sc.study_label
    record["stage"] = sc.stage
    record["data_fingerprint"] = sc.market.fingerprint
    path = Path(sc.cfg.paths.experiments) / sc.study_label / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(record, sort_keys=False))
    return path


def read_best(path: Path, *, hint: str) -> dict[str, Any]:
    """Read a ``best_stage<N>.yaml``.

    Raises:
        StageError: when the file is missing or unreadable; ``hint`` says which command makes it.
    """
    if not path.is_file():
        raise StageError(f"{path} not found: {hint}")
    try:
        record = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise StageError(f"{path} is not valid YAML ({exc}): {hint}") from exc
    if not isinstance(record, dict) or "params" not in record:
        raise StageError(f"{path} has no 'params' mapping: {hint}")
    return record


def summarize(study: optuna.Study, cfg: DictConfig) -> None:
    """Print the study's state and its best trial (params and metrics) as rich tables."""
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
    console.print(f"best parameters: {best_file(cfg, int(cfg.stage.id))}")
