"""Repository paths, the real ES file's path, and opt's Hydra config composed as the CLI does."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from opt.cli import normalize_overrides
from opt.paths import conf_dir

REPO = Path(__file__).resolve().parents[2]
ES_CSV = REPO.parent / "shared" / "data" / "ES_1min.csv"


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """Compose opt's Hydra config with ``overrides`` (as the CLI does)."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=normalize_overrides(list(overrides or [])))
