"""Files logged with each trial's MLflow run: resolved config, events sample, label plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.secrets import masked_config

__all__ = ["write_config", "write_events_sample", "plot_label_distribution", "flatten_config"]


def flatten_config(cfg: DictConfig, sections: tuple[str, ...]) -> dict[str, object]:
    """Flatten the given top-level sections of ``cfg`` to ``{"section.key.sub": value}`` (resolved)."""
    out: dict[str, object] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}", v)
        else:
            out[prefix] = node

    for section in sections:
        if section in cfg and cfg[section] is not None:
            walk(section, OmegaConf.to_container(cfg[section], resolve=True))
    return out


def write_config(cfg: DictConfig, folder: Path, name: str = "config.yaml") -> Path:
    """Write the resolved config as YAML, passwords in URLs masked (:func:`opt.secrets.masked_config`)."""
    path = folder / name
    path.write_text(OmegaConf.to_yaml(masked_config(cfg)))
    return path


def write_events_sample(
    events: pd.DataFrame, features: pd.DataFrame, folder: Path, *, rows: int, seed: int
) -> Path:
    """Write a seeded random sample of ``rows`` events (with their features) as Parquet."""
    table = events.join(features, rsuffix="_feature")
    if len(table) > rows:
        idx = np.sort(np.random.default_rng(seed).choice(len(table), size=rows, replace=False))
        table = table.iloc[idx]
    path = folder / "events_sample.parquet"
    table.to_parquet(path, index=False)
    return path


def plot_label_distribution(events: pd.DataFrame, labels: tuple[str, ...], folder: Path) -> Path:
    """Stacked bars of label counts per level type; return the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = (
        pd.crosstab(events["level_type"], events["label"]).reindex(columns=range(len(labels)), fill_value=0)
        if len(events) else pd.DataFrame(0, index=["none"], columns=range(len(labels)))
    )
    counts.columns = list(labels)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    counts.plot.bar(stacked=True, ax=ax, color=["#d62728", "#2ca02c", "#7f7f7f"])
    ax.set_xlabel("level type")
    ax.set_ylabel("events")
    ax.set_title(f"label distribution ({len(events)} events)")
    fig.tight_layout()
    path = folder / "label_distribution.png"
    fig.savefig(path)
    plt.close(fig)
    return path
