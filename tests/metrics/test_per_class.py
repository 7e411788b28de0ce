"""Per-class metrics at the confidence (opt.metrics.per_class) on hand-made arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opt.backtest.insight import write_confusion
from opt.metrics.per_class import (
    NO_CALL,
    PER_CLASS_KEYS,
    class_calls,
    confusion_at,
    per_class_at,
    per_class_metrics,
    pooled_confusion,
)

# 6 events; calls at confidence 0.6: BREAK, BREAK, no call (0.5 < 0.6), BOUNCE, CHOP, no call (argmax BOUNCE 0.55)
PROBA = np.array([
    [0.70, 0.20, 0.10],
    [0.90, 0.05, 0.05],
    [0.50, 0.30, 0.20],
    [0.10, 0.80, 0.10],
    [0.10, 0.10, 0.80],
    [0.30, 0.55, 0.15],
])
Y = np.array([0, 1, 0, 1, 2, 1])


def test_calls_are_argmax_at_the_confidence() -> None:
    np.testing.assert_array_equal(class_calls(PROBA, confidence=0.6), [0, 0, NO_CALL, 1, 2, NO_CALL])
    np.testing.assert_array_equal(class_calls(PROBA, confidence=0.5), [0, 0, 0, 1, 2, 1])
    assert class_calls(np.empty((0, 3)), confidence=0.6).shape == (0,)


def test_confusion_rows_are_labels_and_columns_calls() -> None:
    m = confusion_at(PROBA, Y, confidence=0.6)
    expected = np.array([
        [1, 0, 0, 1],  # BREAK labels: called break, no call
        [1, 1, 0, 1],  # BOUNCE labels: called break (a FP of break), bounce, no call
        [0, 0, 1, 0],  # CHOP label: called chop
    ])
    np.testing.assert_array_equal(m, expected)
    assert m.sum() == len(Y)


def test_counts_and_scores_by_hand() -> None:
    out = per_class_at(PROBA, Y, confidence=0.6)
    assert set(out) == set(PER_CLASS_KEYS) and len(PER_CLASS_KEYS) == 21
    # break: called on events 0 (label break) and 1 (label bounce); label break on 0 and 2
    assert (out["tp_break"], out["fp_break"], out["fn_break"], out["tn_break"]) == (1, 1, 1, 3)
    assert out["precision_break"] == pytest.approx(0.5) and out["recall_break"] == pytest.approx(0.5)
    assert out["f1_break"] == pytest.approx(0.5)
    # bounce: called on event 3 only (right); labels bounce on 1, 3, 5
    assert (out["tp_bounce"], out["fp_bounce"], out["fn_bounce"], out["tn_bounce"]) == (1, 0, 2, 3)
    assert out["precision_bounce"] == 1.0 and out["recall_bounce"] == pytest.approx(1 / 3)
    assert out["f1_bounce"] == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert (out["tp_chop"], out["fp_chop"], out["fn_chop"], out["tn_chop"]) == (1, 0, 0, 5)
    assert out["f1_chop"] == 1.0


def test_no_call_and_no_label_give_zero_not_nan() -> None:
    proba = np.array([[0.4, 0.3, 0.3], [0.45, 0.45, 0.1]])
    out = per_class_at(proba, np.array([0, 0]), confidence=0.9)  # nothing called; no bounce/chop labels
    assert all(np.isfinite(v) for v in out.values())
    assert out["precision_break"] == 0.0 and out["recall_break"] == 0.0 and out["fn_break"] == 2
    assert out["precision_chop"] == 0.0 and out["recall_chop"] == 0.0 and out["tn_chop"] == 2
    empty = per_class_at(np.empty((0, 3)), np.empty(0, int), confidence=0.6)
    assert all(v == 0.0 for v in empty.values())


def test_pooled_is_recomputed_from_summed_counts_not_averaged() -> None:
    a = confusion_at(PROBA[:2], Y[:2], confidence=0.6)  # break: 1 TP, 1 FP -> precision 0.5
    b = confusion_at(PROBA[2:], Y[2:], confidence=0.6)  # break: never called -> precision 0
    pooled = per_class_metrics(pooled_confusion([a, b]))
    assert pooled == per_class_at(PROBA, Y, confidence=0.6)
    assert pooled["precision_break"] == pytest.approx(0.5)  # the mean of folds would say 0.25
    np.testing.assert_array_equal(pooled_confusion([]), np.zeros((3, 4), int))


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="proba"):
        class_calls(np.ones((2, 2)), confidence=0.5)
    with pytest.raises(ValueError, match="confidence"):
        class_calls(PROBA, confidence=1.5)
    with pytest.raises(ValueError, match="labels"):
        confusion_at(PROBA, Y + 1, confidence=0.6)
    with pytest.raises(ValueError, match="shape"):
        confusion_at(PROBA, Y[:3], confidence=0.6)
    with pytest.raises(ValueError, match="count matrix"):
        per_class_metrics(np.ones((3, 3)))


def test_confusion_csv_table(tmp_path: Path) -> None:
    table = pd.read_csv(write_confusion(confusion_at(PROBA, Y, confidence=0.6), tmp_path / "c.csv"))
    assert list(table.columns) == ["label", "break", "bounce", "chop", "no_call"]
    assert list(table["label"]) == ["break", "bounce", "chop"]
    assert table.loc[1, "break"] == 1 and table[["break", "bounce", "chop", "no_call"]].to_numpy().sum() == 6


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_matches_plain_counting(n: int, confidence: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(3), size=n)
    y = rng.integers(0, 3, size=n)
    out = per_class_at(proba, y, confidence=confidence)
    for c, name in enumerate(("break", "bounce", "chop")):
        called = (proba.argmax(axis=1) == c) & (proba[:, c] >= confidence)
        tp, fp, fn = int(np.sum(called & (y == c))), int(np.sum(called & (y != c))), int(np.sum(~called & (y == c)))
        assert (out[f"tp_{name}"], out[f"fp_{name}"], out[f"fn_{name}"]) == (tp, fp, fn)
        assert out[f"tn_{name}"] == n - tp - fp - fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        assert out[f"precision_{name}"] == pytest.approx(precision)
        assert out[f"recall_{name}"] == pytest.approx(recall)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert out[f"f1_{name}"] == pytest.approx(f1)
