"""Promotion gates: thresholds from ``promote.gates`` checked against the promote metrics.

A gate is a config key ``min_<metric>`` (passes when the metric is >= the threshold) or
``max_<metric>`` (passes when <=); ``null`` switches it off. ``<metric>`` names a promote metric
(``net_pnl``, ``precision_at_80``, ``deflated_sharpe``, ``pbo``, ``plateau_score``, ...);
``min_trades`` reads ``n_trades``. A metric that could not be computed (NaN, e.g. PBO with one trial, a
deflated Sharpe ratio without a trial-Sharpe variance) fails its gate with the reason
``not computable: <why>``: a guard that cannot be checked does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opt.errors import ConfigError

__all__ = ["METRIC_NOTES", "Gate", "check_gates", "describe_failures", "metric_notes"]

#: one-line explanations printed under the promote report for the metrics that need one
METRIC_NOTES: dict[str, str] = {
    "plateau_score": ("plateau_score: share of the one-step moves of each bracket parameter (the sensitivity table) "
                      "whose test net_pnl stays >= base - promote.sensitivity.keep_share x |base|; 1 = a flat "
                      "plateau (robust), near 0 = a spike (the chosen values are fragile)"),
}


@dataclass(frozen=True)
class Gate:
    """One checked gate.

    Attributes:
        name: the config key (``min_trades``).
        metric: the metric it reads (``n_trades``).
        op: ``">="`` or ``"<="``.
        threshold: the configured value.
        value: the metric's value (NaN when not computable).
        passed: whether the value satisfies the threshold.
        reason: why it failed when the value is NaN, ``not computable: <why>``; empty otherwise.
    """

    name: str
    metric: str
    op: str
    threshold: float
    value: float
    passed: bool
    reason: str = ""

    def describe(self) -> str:
        """E.g. ``max_pbo: pbo=0.625 > 0.5``, ``min_psr: psr=not computable: <why> (needs >= 0.5)``."""
        if math.isnan(self.value):
            return f"{self.name}: {self.metric}={self.reason} (needs {self.op} {self.threshold:g})"
        bad = {">=": "<", "<=": ">"}[self.op]
        why = f" ({self.reason})" if self.reason and not self.passed else ""
        return f"{self.name}: {self.metric}={self.value:.4g} {self.op if self.passed else bad} {self.threshold:g}{why}"


def _metric_of(name: str, metrics: Mapping[str, float]) -> str:
    base = name[4:]
    for candidate in (base, f"n_{base}"):
        if candidate in metrics:
            return candidate
    raise ConfigError(f"promote.gates.{name}: no promote metric '{base}'; gates can read: "
                      f"{', '.join(sorted(metrics))}")


def check_gates(gates: Mapping[str, Any] | None, metrics: Mapping[str, float],
                reasons: Mapping[str, str] | None = None) -> list[Gate]:
    """Check every enabled gate of ``gates`` against ``metrics``.

    Args:
        gates: ``promote.gates``: ``{min_<metric> | max_<metric>: threshold | null}``.
        metrics: the promote metrics by name.
        reasons: why a metric is NaN (not computable), by metric name; a NaN metric without one is
            reported as having no value.

    Returns:
        The enabled gates in config order, checked.

    Raises:
        ConfigError: a key that is not ``min_``/``max_`` + a known metric, or a non-numeric threshold.
    """
    out = []
    for name, threshold in (gates or {}).items():
        if threshold is None:
            continue
        if not name.startswith(("min_", "max_")):
            raise ConfigError(f"promote.gates.{name}: a gate is named min_<metric> or max_<metric>")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ConfigError(f"promote.gates.{name} must be a number or null, got {threshold!r}")
        metric = _metric_of(name, metrics)
        value, op = float(metrics[metric]), (">=" if name.startswith("min_") else "<=")
        passed = not math.isnan(value) and (value >= threshold if op == ">=" else value <= threshold)
        why = (reasons or {}).get(metric) or "no value (NaN)"
        out.append(Gate(name=name, metric=metric, op=op, threshold=float(threshold), value=value, passed=passed,
                        reason=f"not computable: {why}" if math.isnan(value) else ""))
    return out


def metric_notes(metrics: Mapping[str, float]) -> list[str]:
    """The :data:`METRIC_NOTES` lines of the metrics present in ``metrics``, in that table's order."""
    return [note for name, note in METRIC_NOTES.items() if name in metrics]


def describe_failures(gates: list[Gate]) -> str:
    """The failed gates as one line (``max_pbo: pbo=0.62 > 0.5; min_trades: n_trades=3 < 20``)."""
    return "; ".join(g.describe() for g in gates if not g.passed)
