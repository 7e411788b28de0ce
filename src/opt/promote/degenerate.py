"""The degenerate-model gate: refuse a champion that barely trained or cannot trade.

Three checks on the retrained champion (:class:`opt.promote.retrain.Retrained`), each a failed
:class:`opt.promote.gates.Gate` with its reason (``promote.force=true`` still registers, tagged):

- capacity: the boosting rounds (XGBoost) or epochs (CNN) it kept are at least ``promote.degenerate
  .min_rounds`` / ``min_epochs`` (skipped for the fold ensemble, whose members are the folds' models;
  null switches it off);
- confidence (``require_confidence``): its BREAK/BOUNCE probabilities reach the trial's
  ``bracket.confidence`` on at least one test event (metric ``test_max_call_proba``), otherwise it can
  never place an order;
- orders (``require_orders``): it places at least one order on the test part (metric ``n_orders``).
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from opt.promote.gates import Gate
from opt.promote.retrain import Retrained
from opt.schema import BOUNCE, BREAK

__all__ = ["degenerate_metrics", "degenerate_gates"]


def degenerate_metrics(r: Retrained) -> dict[str, float]:
    """``retrain_capacity`` (rounds or epochs; NaN for the ensemble), ``fold_capacity_median``,
    ``test_max_call_proba`` (the highest P(BREAK) or P(BOUNCE) over the test events)."""
    proba = r.result.proba
    calls = proba[:, [BREAK, BOUNCE]] if len(proba) else np.zeros((0, 2))
    return {
        "retrain_capacity": float(r.capacity.value) if r.capacity is not None else float("nan"),
        "fold_capacity_median": float(np.median(r.fold_capacities)) if r.fold_capacities else float("nan"),
        "test_max_call_proba": float(calls.max()) if calls.size else 0.0,
    }


def degenerate_gates(cfg: DictConfig, r: Retrained, metrics: dict[str, float]) -> list[Gate]:
    """The checks of the module docstring as gates (named ``degenerate.*``), in that order."""
    checks = cfg.promote.degenerate
    out = []
    floor_cfg = checks.min_rounds if r.capacity is not None and r.capacity.unit == "rounds" else checks.min_epochs
    if r.capacity is not None and floor_cfg is not None:
        floor = float(floor_cfg)
        value = float(r.capacity.value)
        out.append(Gate(name=f"degenerate.min_{r.capacity.unit}", metric="retrain_capacity", op=">=",
                        threshold=floor, value=value, passed=value >= floor,
                        reason="" if value >= floor else f"the champion kept only {r.capacity.value} {r.capacity.unit}"))
    confidence = float(cfg.bracket.confidence)
    top = metrics["test_max_call_proba"]
    if checks.require_confidence:
        out.append(Gate(name="degenerate.reaches_confidence", metric="test_max_call_proba", op=">=",
                        threshold=confidence, value=top, passed=top >= confidence,
                        reason="" if top >= confidence else f"its BREAK/BOUNCE probabilities never reach "
                        f"bracket.confidence={confidence:g} on the test part"))
    orders = float(metrics["n_orders"])
    if checks.require_orders:
        out.append(Gate(name="degenerate.places_orders", metric="n_orders", op=">=", threshold=1.0, value=orders,
                        passed=orders >= 1, reason="" if orders >= 1 else "it places no order on the test part"))
    return out
