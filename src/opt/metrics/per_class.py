"""Per-class metrics at the trial's confidence (DESIGN §10): counts, precision, recall, F1, confusion matrix.

A *call* of class ``c`` (BREAK, BOUNCE or CHOP) is an event whose most probable class (argmax of the
``(n, 3)`` probabilities, ties to the lower code) is ``c`` with ``P(c) >= confidence``; an event with no
such call is *no call*. For each class ``c``:

- ``tp_c``: called ``c`` and labelled ``c``; ``fp_c``: called ``c``, labelled otherwise;
- ``fn_c``: labelled ``c`` and not called ``c`` (another call or no call); ``tn_c``: the rest;
- ``precision_c = tp / (tp + fp)``, ``recall_c = tp / (tp + fn)``, ``f1_c`` their harmonic mean, all from
  :func:`sklearn.metrics.precision_recall_fscore_support` with ``zero_division=0``: a class never called
  has precision 0 (not NaN), a class never labelled has recall 0, and F1 is 0 when both are 0 (the
  convention of ``precision_at_80``/``coverage_at_80`` in DESIGN §7, so every value is finite and can be
  logged, compared and pooled).

The bracket's own calls (:func:`opt.backtest.signals.calls_to_orders`) take the larger of P(BREAK) and
P(BOUNCE) and ignore CHOP; with ``confidence >= 0.5`` a BREAK/BOUNCE call here is exactly a bracket
call before the one-order-per-bar deduplication, below 0.5 an event whose CHOP probability is the
largest is a CHOP call here (or no call) while the bracket may still trade it.

The confusion matrix has one row per label (BREAK, BOUNCE, CHOP) and one column per call (BREAK,
BOUNCE, CHOP, no call); pooling spans (walk-forward folds) is the sum of their matrices, and the pooled
metrics are recomputed from that sum (:func:`per_class_metrics`), never averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from opt.schema import CLASS_NAMES, N_CLASSES

__all__ = ["NO_CALL", "CALL_COLUMNS", "PER_CLASS_KEYS", "class_calls", "confusion_at", "per_class_metrics",
           "per_class_at", "pooled_confusion", "confusion_frame"]

NO_CALL = N_CLASSES
"""Call code of an event with no confident call (3, after BREAK=0, BOUNCE=1, CHOP=2)."""
CALL_COLUMNS: tuple[str, ...] = tuple(n.lower() for n in CLASS_NAMES) + ("no_call",)
"""Column names of the confusion matrix: ``break``, ``bounce``, ``chop``, ``no_call``."""
_STATS = ("tp", "fp", "tn", "fn", "precision", "recall", "f1")
PER_CLASS_KEYS: tuple[str, ...] = tuple(f"{s}_{c.lower()}" for c in CLASS_NAMES for s in _STATS)
"""Every metric name :func:`per_class_metrics` returns (``tp_break`` ... ``f1_chop``)."""


def class_calls(proba: np.ndarray, *, confidence: float) -> np.ndarray:
    """The call of each event: its argmax class when that class's probability is ``>= confidence``.

    Args:
        proba: float ``(n, 3)`` P(BREAK), P(BOUNCE), P(CHOP).
        confidence: minimum probability of a call (``bracket.confidence``), in ``[0, 1]``.

    Returns:
        int64 ``(n,)`` in ``0..3``: the class code, or :data:`NO_CALL`.

    Raises:
        ValueError: ``proba`` not ``(n, 3)`` or ``confidence`` outside ``[0, 1]``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise ValueError(f"proba must have shape (n, {N_CLASSES}), got {proba.shape}")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be in [0, 1], got {confidence}")
    top = np.argmax(proba, axis=1) if len(proba) else np.empty(0, np.int64)
    sure = proba[np.arange(len(proba)), top] >= confidence
    return np.where(sure, top, NO_CALL).astype(np.int64)


def confusion_at(proba: np.ndarray, y: np.ndarray, *, confidence: float) -> np.ndarray:
    """Confusion matrix of labels against calls at ``confidence`` (module docstring).

    Args:
        proba: float ``(n, 3)`` class probabilities.
        y: int ``(n,)`` labels in ``0..2``.
        confidence: minimum probability of a call.

    Returns:
        int64 ``(3, 4)``: row = label (BREAK, BOUNCE, CHOP), column = call (BREAK, BOUNCE, CHOP, no call);
        the entries sum to ``n``.

    Raises:
        ValueError: bad shapes, labels outside ``0..2`` or ``confidence`` outside ``[0, 1]``.
    """
    calls = class_calls(proba, confidence=confidence)
    y = np.asarray(y)
    if y.shape != calls.shape:
        raise ValueError(f"y must have shape {calls.shape}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"y must hold labels in 0..{N_CLASSES - 1} (BREAK, BOUNCE, CHOP)")
    if not y.size:
        return np.zeros((N_CLASSES, N_CLASSES + 1), dtype=np.int64)
    full = confusion_matrix(y.astype(np.int64), calls, labels=list(range(N_CLASSES + 1)))
    return np.asarray(full[:N_CLASSES], dtype=np.int64)


def per_class_metrics(confusion: np.ndarray) -> dict[str, float]:
    """``tp_<c>``, ``fp_<c>``, ``tn_<c>``, ``fn_<c>``, ``precision_<c>``, ``recall_<c>``, ``f1_<c>`` from a matrix.

    Precision, recall and F1 come from :func:`sklearn.metrics.precision_recall_fscore_support` on the
    matrix's cells as weighted (label, call) pairs, ``zero_division=0`` (module docstring).

    Args:
        confusion: int ``(3, 4)`` from :func:`confusion_at` (or a sum of them).

    Returns:
        The 21 :data:`PER_CLASS_KEYS` as floats (counts are whole numbers).

    Raises:
        ValueError: ``confusion`` not ``(3, 4)`` or with a negative entry.
    """
    m = np.asarray(confusion)
    if m.shape != (N_CLASSES, N_CLASSES + 1) or (m.size and m.min() < 0):
        raise ValueError(f"confusion must be a non-negative ({N_CLASSES}, {N_CLASSES + 1}) count matrix, "
                         f"got shape {m.shape}")
    m = m.astype(np.int64)
    labels, calls = np.nonzero(m)
    classes = list(range(N_CLASSES))
    if len(labels):
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, calls, labels=classes, sample_weight=m[labels, calls], zero_division=0, average=None)
    else:
        precision = recall = f1 = np.zeros(N_CLASSES)
    total = int(m.sum())
    out: dict[str, float] = {}
    for c, name in enumerate(CLASS_NAMES):
        tp, fp, fn = int(m[c, c]), int(m[:, c].sum() - m[c, c]), int(m[c].sum() - m[c, c])
        key = name.lower()
        out.update({f"tp_{key}": float(tp), f"fp_{key}": float(fp), f"tn_{key}": float(total - tp - fp - fn),
                    f"fn_{key}": float(fn), f"precision_{key}": float(precision[c]),
                    f"recall_{key}": float(recall[c]), f"f1_{key}": float(f1[c])})
    return out


def per_class_at(proba: np.ndarray, y: np.ndarray, *, confidence: float) -> dict[str, float]:
    """:func:`per_class_metrics` of :func:`confusion_at` (one span's per-class metrics).

    Raises:
        ValueError: as :func:`confusion_at`.
    """
    return per_class_metrics(confusion_at(proba, y, confidence=confidence))


def pooled_confusion(matrices: Sequence[np.ndarray]) -> np.ndarray:
    """The sum of ``(3, 4)`` confusion matrices (folds pooled); zeros when there is none."""
    total = np.zeros((N_CLASSES, N_CLASSES + 1), dtype=np.int64)
    for m in matrices:
        total += np.asarray(m, dtype=np.int64)
    return total


def confusion_frame(confusion: np.ndarray) -> pd.DataFrame:
    """The matrix as a table: index ``label`` (break, bounce, chop), columns :data:`CALL_COLUMNS`, counts."""
    index = pd.Index([n.lower() for n in CLASS_NAMES], name="label")
    return pd.DataFrame(np.asarray(confusion, dtype=np.int64), index=index, columns=list(CALL_COLUMNS))
