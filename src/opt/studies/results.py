"""``experiments/<study>/best_stage<N>.yaml``: a stage's best trial, written at its end, read by the next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig

from opt.errors import StageError
from opt.studies.reading import best_record

__all__ = ["best_file", "write_best", "read_best"]


def best_file(cfg: DictConfig, stage: int) -> Path:
    """``experiments/<search.study_name>/best_stage<stage>.yaml``."""
    return Path(cfg.paths.experiments) / str(cfg.search.study_name) / f"best_stage{stage}.yaml"


def write_best(study: optuna.Study, cfg: DictConfig, stage: int, *, fingerprint: str) -> Path | None:
    """Write the best trial of ``study`` with the data fingerprint to :func:`best_file`; return the path.

    Returns:
        The path written, or None when the study has no complete trial (nothing is written).
    """
    record = best_record(study)
    if record is None:
        return None
    record["study"] = str(cfg.search.study_name)
    record["stage"] = int(stage)
    record["data_fingerprint"] = fingerprint
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
