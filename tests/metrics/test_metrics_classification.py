"""Hand-computed cases for the stage-1 event metrics (DESIGN §7)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from opt.metrics import (
    knn_purity,
    label_shares,
    macro_auc,
    multiclass_brier,
    precision_coverage_at,
    silhouette,
)


def test_knn_purity_retrieves_from_train_only() -> None:
    train_X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    train_y = np.array([0, 0, 0, 1, 1, 1])
    eval_X = np.array([[0.5], [11.0]])
    eval_y = np.array([0, 0])
    # 0.5 -> neighbours 0, 1, 2 (all BREAK): 1; 11 -> neighbours 10, 11, 12 (all BOUNCE): 0.
    assert knn_purity(train_X, train_y, eval_X, eval_y, k=3) == pytest.approx(0.5)


def test_knn_purity_standardizes_with_the_train_scaler() -> None:
    # Train (0, 0) y=0 and (10, 1) y=1: mean (5, 0.5), std (5, 0.5) -> (-1, -1) and (1, 1).
    # Eval (6, 0) -> (0.2, -1): 1.2 from the BREAK point, 2.15 from the BOUNCE point (raw: 6 vs 4.1).
    train_X = np.array([[0.0, 0.0], [10.0, 1.0]])
    train_y = np.array([0, 1])
    eval_X, eval_y = np.array([[6.0, 0.0]]), np.array([1])
    assert knn_purity(train_X, train_y, eval_X, eval_y, k=1) == 0.0
    # k larger than the train set: both train events are neighbours -> 1 of 2 has the label.
    assert knn_purity(train_X, train_y, eval_X, eval_y, k=5) == pytest.approx(0.5)


def test_knn_purity_scores_a_seeded_subset_of_many_evaluation_events() -> None:
    """Years of bars give tens of thousands of evaluation events: at most ``max_samples`` are scored (the
    cost stays linear), an unbiased estimate of the full mean, the same for the same seed."""
    rng = np.random.default_rng(3)
    train_X, train_y = rng.normal(size=(2000, 3)), rng.integers(0, 3, 2000)
    eval_X, eval_y = rng.normal(size=(20000, 3)), rng.integers(0, 3, 20000)
    full = knn_purity(train_X, train_y, eval_X, eval_y, max_samples=20000)
    sub = knn_purity(train_X, train_y, eval_X, eval_y, max_samples=2000, seed=1)
    assert sub == knn_purity(train_X, train_y, eval_X, eval_y, max_samples=2000, seed=1)
    assert sub != full  # a subset was scored: 2,000 events' purities are multiples of 1/10,000
    assert abs(sub - full) < 4 * 0.5 / np.sqrt(2000)
    # every evaluation event scored below the cap: the exact mean, whatever the seed
    assert knn_purity(train_X, train_y, eval_X[:500], eval_y[:500], seed=9) == knn_purity(
        train_X, train_y, eval_X[:500], eval_y[:500], seed=0)
    with pytest.raises(ValueError, match="max_samples"):
        knn_purity(train_X, train_y, eval_X, eval_y, max_samples=0)


def test_knn_purity_rejects_empty_sets() -> None:
    with pytest.raises(ValueError):
        knn_purity(np.empty((0, 2)), np.empty(0, int), np.ones((1, 2)), np.array([0]))


def test_silhouette_two_clusters_by_hand() -> None:
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    y = np.array([0, 0, 1, 1])
    # s(0) = 1 - 1/10.5, s(1) = 1 - 1/9.5, and symmetrically for the other cluster (scale-invariant in 1-D).
    expected = ((1 - 1 / 10.5) + (1 - 1 / 9.5)) / 2
    assert silhouette(X, y) == pytest.approx(expected)


def test_silhouette_uses_the_given_train_scaler() -> None:
    rng = np.random.default_rng(1)
    X = np.column_stack([np.repeat([0.0, 3.0], 20), rng.normal(size=40)])
    y = np.repeat([0, 1], 20)
    train_scaler = StandardScaler().fit(np.column_stack([rng.normal(0, 50, 100), rng.normal(0, 1, 100)]))
    got = silhouette(X, y, scaler=train_scaler)
    assert got == pytest.approx(silhouette_score(train_scaler.transform(X), y))
    assert got < silhouette(X, y)  # the separating feature is shrunk by the wide train scale


def test_silhouette_undefined_cases_return_zero() -> None:
    assert silhouette(np.array([[0.0], [1.0], [2.0]]), np.array([1, 1, 1])) == 0.0
    assert silhouette(np.array([[0.0], [1.0]]), np.array([0, 1])) == 0.0


def test_silhouette_subsample_is_seeded() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) + np.repeat([[0, 0], [2, 2], [4, 0]], 100, axis=0)
    y = np.repeat([0, 1, 2], 100)
    a = silhouette(X, y, max_samples=50, seed=3)
    assert a == silhouette(X, y, max_samples=50, seed=3)
    assert a != silhouette(X, y, max_samples=50, seed=4)
    assert -1.0 <= a <= 1.0


def test_precision_coverage_at_80() -> None:
    proba = np.array(
        [
            [0.9, 0.05, 0.05],  # BREAK call, label BREAK: right
            [0.1, 0.85, 0.05],  # BOUNCE call, label BREAK: wrong
            [0.5, 0.4, 0.1],  # not confident
            [0.8, 0.1, 0.1],  # exactly at the threshold: BREAK call, label BOUNCE: wrong
            [0.05, 0.05, 0.9],  # CHOP is never called
        ]
    )
    y = np.array([0, 0, 0, 1, 2])
    precision, coverage = precision_coverage_at(proba, y, threshold=0.8)
    assert precision == pytest.approx(1 / 3)
    assert coverage == pytest.approx(3 / 5)


def test_precision_coverage_no_confident_call_is_zero() -> None:
    proba = np.full((4, 3), 1 / 3)
    assert precision_coverage_at(proba, np.array([0, 1, 2, 0])) == (0.0, 0.0)


def test_macro_auc_skips_absent_classes() -> None:
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.5, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    y = np.array([0, 0, 1, 1])
    # BREAK: 3 of 4 positive/negative pairs ordered; BOUNCE: 3 of 4; CHOP absent.
    assert macro_auc(proba, y) == pytest.approx(0.75)


def test_macro_auc_perfect_and_undefined() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    assert macro_auc(np.eye(3)[y], y) == pytest.approx(1.0)
    assert macro_auc(np.eye(3)[[0, 0]], np.array([0, 0])) == 0.5


def test_multiclass_brier_by_hand() -> None:
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert multiclass_brier(proba, np.array([0, 1])) == pytest.approx(0.25)
    assert multiclass_brier(np.full((3, 3), 1 / 3), np.array([0, 1, 2])) == pytest.approx(2 / 3)


def test_shape_and_label_checks() -> None:
    with pytest.raises(ValueError):
        multiclass_brier(np.ones((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError):
        multiclass_brier(np.ones((2, 3)) / 3, np.array([0, 3]))
    with pytest.raises(ValueError):
        multiclass_brier(np.empty((0, 3)), np.empty(0, int))


def test_label_shares() -> None:
    assert label_shares(np.array([0, 0, 1, 2])) == {"break_rate": 0.5, "bounce_rate": 0.25, "chop_rate": 0.25}
    assert label_shares(np.empty(0, int)) == {"break_rate": 0.0, "bounce_rate": 0.0, "chop_rate": 0.0}
