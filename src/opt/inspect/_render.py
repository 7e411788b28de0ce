"""Output of ``list`` and ``show``: rich tables for people, JSON or CSV for programs."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pandas as pd

from opt.errors import ConfigError

__all__ = ["FORMATS", "METRIC_NOTES", "check_format", "print_rows", "print_detail", "fmt"]

FORMATS = ("table", "json", "csv")

#: one-line meanings printed under ``show``'s metrics for the metrics whose name does not say it all
METRIC_NOTES: dict[str, str] = {
    "score": ("the value Optuna optimized: stage 1 the DESIGN §7 composite; stage 2 stage.objective.metric "
              "combined over the walk-forward folds by stage.objective.aggregate (pooled: once over all "
              "folds' trades and daily PnL), or stage.objective.penalty (see min_trades_penalty)"),
    "min_trades_penalty": "1: fewer than stage.objective.min_trades trades over all folds, the score is the penalty",
    "win_rate": "share of trades with net PnL > 0 (after commission and slippage)",
    "target_hit_rate": "share of trades that exited at take-profit",
    "plateau_score": ("share of one-step moves of each bracket parameter whose test net_pnl stays >= base - "
                      "promote.sensitivity.keep_share x |base|; 1 = a flat plateau, near 0 = a spike"),
}


def check_format(fmt_name: str) -> str:
    """Return ``inspect.format`` if known.

    Raises:
        ConfigError: other values.
    """
    if fmt_name not in FORMATS:
        raise ConfigError(f"inspect.format={fmt_name!r} is not one of {list(FORMATS)}")
    return fmt_name


def fmt(value: Any) -> str:
    """A cell: 4 significant digits for floats, ``-`` for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _console() -> Any:
    """A rich console: the terminal's width, or 250 columns when the output is a pipe or a file."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 250)


def _short(name: str) -> str:
    """``bracket.stop_atr`` -> ``stop_atr`` (the group prefix dropped for narrow columns)."""
    return name.split(".", 1)[1] if "." in name else name


def _flat(rows: list[dict[str, Any]]) -> pd.DataFrame:
    flat = []
    for r in rows:
        base = {k: r[k] for k in ("stage", "trial", "state", "score", "run_id")}
        flat.append({**base, **r["metrics"], **{f"param.{k}": v for k, v in r["params"].items()}})
    return pd.DataFrame(flat)


def print_rows(rows: list[dict[str, Any]], *, title: str, fmt_name: str, metrics: list[str],
               params: list[str]) -> None:
    """Print trial rows: a table of the key ``metrics``/``params``, or every field as JSON/CSV."""
    if fmt_name == "json":
        json.dump(rows, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return
    if fmt_name == "csv":
        _flat(rows).to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    table = Table(title=title)
    for col in ("stage", "trial", "state", *metrics, *map(_short, params), "run"):
        table.add_column(col, justify="left" if col in ("state", "run") else "right")
    for r in rows:
        cells = [str(r["stage"]), str(r["trial"]), r["state"]]
        cells += [fmt(r["score"] if m == "score" else r["metrics"].get(m)) for m in metrics]
        cells += [fmt(r["params"].get(p)) for p in params]
        table.add_row(*cells, r["run_id"] or "-")
    _console().print(table)


def print_detail(detail: dict[str, Any], *, fmt_name: str) -> None:
    """Print one trial (``show``): sections of name/value tables, the per-fold table, the artifacts."""
    if fmt_name in ("json", "csv"):  # CSV has no shape for nested sections: JSON for both
        json.dump(detail, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return
    from rich.table import Table

    console = _console()
    head = {k: v for k, v in detail.items() if not isinstance(v, dict | list)}
    sections = (("trial", head), ("params", detail["params"]), ("metrics", detail["metrics"]),
                ("tags", detail.get("tags") or {}))
    for title, section in sections:
        if not section:
            continue
        table = Table(title=title, show_header=False)
        table.add_column("name")
        table.add_column("value", justify="right")
        for k, v in section.items():
            table.add_row(k, fmt(v))
        console.print(table)
        if title == "metrics":
            for name in (n for n in METRIC_NOTES if n in section or n in head):
                console.print(f"  {name}: {METRIC_NOTES[name]}", markup=False, soft_wrap=True)
    folds = detail.get("folds") or {}
    if folds:
        frame = pd.DataFrame(folds)
        table = Table(title="per fold (walk-forward, per_fold.csv)")
        table.add_column("fold", justify="right")
        for col in frame.columns:
            table.add_column(col, justify="right")
        for idx, row in frame.iterrows():
            table.add_row(str(idx), *(fmt(float(v)) for v in row))
        console.print(table)
    if detail.get("artifacts"):
        console.print(f"artifacts ({detail.get('artifact_uri')}):")
        for path in detail["artifacts"]:
            console.print(f"  {path}")
