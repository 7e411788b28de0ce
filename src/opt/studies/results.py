"""``experiments/<study>/best_stage<N>.yaml``: a stage's best trial, written at its end, read by the next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from omegaconf import DictConfig

from opt.errors import StageError
from opt.studies.reading import best_record
from opt.studies.verdict import verdict

__all__ = ["best_file", "write_best", "read_best", "load_results"]


def best_file(cfg: DictConfig, stage: int) -> Path:
    """``experiments/<search.study_name>/best_stage<stage>.yaml``."""
    return Path(cfg.paths.experiments) / str(cfg.search.study_name) / f"best_stage{stage}.yaml"


def write_best(study: optuna.Study, cfg: DictConfig, stage: int, *, fingerprint: str) -> Path | None:
    """Write the best trial of ``study`` with the data fingerprint to :func:`best_file`; return the path.

    The record says whether the search gave a result (:func:`opt.studies.verdict.verdict`): ``usable``
    (bool) and ``reason`` (why not; empty when usable), plus ``notes`` when there are warnings. An
    unusable record is still written, so the next stage and ``promote`` can name the trial and the reason.

    Returns:
        The path written, or None when the study has no complete trial (nothing is written).
    """
    record = best_record(study)
    if record is None:
        return None
    record["study"] = str(cfg.search.study_name)
    record["stage"] = int(stage)
    record["data_fingerprint"] = fingerprint
    judged = verdict(study, cfg, stage)
    record["usable"] = judged.usable
    record["reason"] = judged.reason
    if judged.notes:
        record["notes"] = list(judged.notes)
    path = best_file(cfg, stage)
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


def load_results(study: str, *, stage: int = 2, experiments: str | Path = "experiments",
                 tracking_uri: str = "sqlite:///mlruns/mlflow.db", storage: str | None = None
                 ) -> tuple[optuna.Study, pd.DataFrame]:
    """A study and its trial runs, for a notebook or a script: ``study, runs = load_results("opt-ES-csv")``.

    Args:
        study: ``search.study_name`` (the MLflow experiment has the same name).
        stage: 1 or 2.
        experiments: ``paths.experiments`` (where the journal file lives).
        tracking_uri: ``tracking.uri``; a team's tracking server is ``http(s)://HOST:PORT`` (its runs'
            artifacts then download through it, e.g. ``mlflow.artifacts.download_artifacts(run_id=...)``).
        storage: ``search.storage`` when it is not the journal file (a team: ``postgresql://...``).

    Returns:
        The Optuna study ``<study>-stage<stage>`` and a DataFrame of its trial runs
        (``mlflow.search_runs``: ``params.*``, ``metrics.*``, ``tags.*`` columns), best score first.

    Raises:
        StageError: no such study.
        ConfigError: a tracking server that does not answer (within seconds, naming ``tracking.uri``).
    """
    import mlflow
    from omegaconf import OmegaConf

    from opt.stores import check_tracking_server, sqlalchemy_url
    from opt.studies.reading import open_study

    cfg = OmegaConf.create({"search": {"study_name": study, "storage": storage, "heartbeat_interval": None,
                                       "grace_period": None},
                            "paths": {"experiments": str(experiments), "mlruns": "mlruns", "min_free_mb": 0}})
    found = open_study(cfg, stage)
    check_tracking_server(tracking_uri)  # MLflow itself retries an unreachable server for minutes
    mlflow.set_tracking_uri(sqlalchemy_url(tracking_uri))
    runs = mlflow.search_runs(experiment_names=[study], filter_string=f"tags.`opt.stage` = '{stage}' and "
                              "tags.`opt.role` = 'trial'", output_format="pandas")
    if len(runs) and "metrics.score" in runs:
        runs = runs.sort_values("metrics.score", ascending=False, na_position="last").reset_index(drop=True)
    return found, runs
