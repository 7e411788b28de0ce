"""Stage-1 event metrics: neighbourhood purity, cluster separation, confident-call precision, AUC, Brier.

Exact definitions are in DESIGN.md §7. Labels are ints ``BREAK=0, BOUNCE=1, CHOP=2``; class
probabilities are arrays of shape ``(n, 3)`` in that column order. Evaluation is chronological and
every scaler is fit on the TRAIN part only (DESIGN §7), so functions that standardize take either the
train features or a fitted :class:`~sklearn.preprocessing.StandardScaler`.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from opt.schema import BOUNCE, BREAK, CHOP, N_CLASSES

__all__ = [
    "BREAK",
    "BOUNCE",
    "CHOP",
    "N_CLASSES",
    "knn_purity",
    "silhouette",
    "precision_coverage_at",
    "macro_auc",
    "multiclass_brier",
    "label_shares",
]


def _check_labels(y: np.ndarray, n: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"{name} must hold labels in 0..{N_CLASSES - 1} (BREAK, BOUNCE, CHOP)")
    return y.astype(np.int64, copy=False)


def _check_proba(proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise ValueError(f"proba must have shape (n, {N_CLASSES}), got {proba.shape}")
    return proba, _check_labels(y, proba.shape[0])


def knn_purity(
    train_X: np.ndarray, train_y: np.ndarray, eval_X: np.ndarray, eval_y: np.ndarray, *, k: int = 5,
    max_samples: int = 5000, seed: int = 0,
) -> float:
    """Mean share of each evaluation event's k nearest TRAIN events that carry its label.

    Retrieval from history, as the use case does (DESIGN §7 ``knn5_purity``): features are standardized
    with a :class:`~sklearn.preprocessing.StandardScaler` fit on ``train_X`` only, neighbours are found
    by Euclidean distance with :class:`~sklearn.neighbors.NearestNeighbors`, and the purity of one
    evaluation event is ``#{neighbours with the same label} / k``. With fewer than ``k`` train events,
    all of them are the neighbours. With more than ``max_samples`` evaluation events the mean is taken
    over a seeded random subset of that size (as :func:`silhouette` does): its standard error is at
    most 0.5 / sqrt(max_samples), 0.007 at 5,000, and the cost stays linear in the events when years
    of bars give tens of thousands of them.

    Args:
        train_X: Train features, shape ``(n_train, n_features)``.
        train_y: Train labels, shape ``(n_train,)``.
        eval_X: Evaluation features, shape ``(n_eval, n_features)``.
        eval_y: Evaluation labels, shape ``(n_eval,)``.
        k: Number of neighbours.
        max_samples: Most evaluation events scored (a seeded subset above it); must be >= 1.
        seed: Seed of that subset.

    Returns:
        Purity in ``[0, 1]``.

    Raises:
        ValueError: ``k < 1``, an empty train or evaluation set, or mismatched shapes.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    train_X = np.asarray(train_X, dtype=np.float64)
    eval_X = np.asarray(eval_X, dtype=np.float64)
    train_y = _check_labels(train_y, train_X.shape[0], "train_y")
    eval_y = _check_labels(eval_y, eval_X.shape[0], "eval_y")
    if train_X.shape[0] == 0 or eval_X.shape[0] == 0:
        raise ValueError("knn_purity needs at least one train and one evaluation event")
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    if eval_X.shape[0] > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(eval_X.shape[0], size=max_samples, replace=False))
        eval_X, eval_y = eval_X[keep], eval_y[keep]
    scaler = StandardScaler().fit(train_X)
    n_neighbors = min(k, train_X.shape[0])
    index = NearestNeighbors(n_neighbors=n_neighbors).fit(scaler.transform(train_X))
    neighbours = index.kneighbors(scaler.transform(eval_X), return_distance=False)
    return float(np.mean(train_y[neighbours] == eval_y[:, None]))


def silhouette(
    eval_X: np.ndarray,
    eval_y: np.ndarray,
    *,
    scaler: StandardScaler | None = None,
    max_samples: int = 5000,
    seed: int = 0,
) -> float:
    """Silhouette score of standardized evaluation features grouped by label (DESIGN §7 ``silhouette``).

    Rousseeuw (1987), computed by :func:`sklearn.metrics.silhouette_score` (Euclidean). Above
    ``max_samples`` events a seeded uniform subsample without replacement of that size is scored.

    Args:
        eval_X: Evaluation features, shape ``(n_eval, n_features)``.
        eval_y: Evaluation labels, shape ``(n_eval,)``.
        scaler: A scaler fit on the TRAIN part; ``None`` fits one on ``eval_X`` itself.
        max_samples: Largest number of events scored.
        seed: Seed of the subsample.

    Returns:
        Score in ``[-1, 1]``; ``0.0`` (no separation) where the score is undefined: fewer than 3
        events or fewer than 2 distinct labels (after subsampling), or every event in its own class.
    """
    if max_samples < 3:
        raise ValueError(f"max_samples must be >= 3, got {max_samples}")
    eval_X = np.asarray(eval_X, dtype=np.float64)
    eval_y = _check_labels(eval_y, eval_X.shape[0], "eval_y")
    if eval_X.shape[0] > max_samples:
        keep = np.random.default_rng(seed).choice(eval_X.shape[0], size=max_samples, replace=False)
        eval_X, eval_y = eval_X[keep], eval_y[keep]
    n_labels = np.unique(eval_y).size
    if eval_X.shape[0] < 3 or not 2 <= n_labels <= eval_X.shape[0] - 1:
        return 0.0
    scaler = scaler if scaler is not None else StandardScaler().fit(eval_X)
    value = float(silhouette_score(scaler.transform(eval_X), eval_y))
    return value if np.isfinite(value) else 0.0


def precision_coverage_at(proba: np.ndarray, y: np.ndarray, *, threshold: float = 0.8) -> tuple[float, float]:
    """Precision and coverage of confident BREAK/BOUNCE calls (DESIGN §7 ``precision_at_80``).

    An event is called when ``P(BREAK) >= threshold`` or ``P(BOUNCE) >= threshold``; the call is the
    larger of those two probabilities (BREAK on a tie, possible only for ``threshold <= 0.5``).
    CHOP is never called.

    Args:
        proba: Class probabilities, shape ``(n, 3)``.
        y: Labels, shape ``(n,)``.
        threshold: Confidence threshold in ``[0, 1]``.

    Returns:
        ``(precision, coverage)``: share of called events whose label is the call, and share of all
        events that are called. Both are ``0.0`` when nothing is called (or ``n == 0``), as in the
        research plan.
    """
    proba, y = _check_proba(proba, y)
    p_break, p_bounce = proba[:, BREAK], proba[:, BOUNCE]
    confident = (p_break >= threshold) | (p_bounce >= threshold)
    if not confident.any():
        return 0.0, 0.0
    call = np.where(p_break >= p_bounce, BREAK, BOUNCE)
    precision = float(np.mean(call[confident] == y[confident]))
    return precision, float(np.mean(confident))


def macro_auc(proba: np.ndarray, y: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC over the classes (DESIGN §7 ``auc``).

    For every class ``c`` that occurs in ``y`` but not in every event, the binary AUC of
    ``proba[:, c]`` for ``y == c`` (:func:`sklearn.metrics.roc_auc_score`, Hand & Till 2001 macro
    average); the unweighted mean over those classes. Classes absent from ``y`` are skipped.

    Args:
        proba: Class probabilities, shape ``(n, 3)``.
        y: Labels, shape ``(n,)``.

    Returns:
        AUC in ``[0, 1]``; ``0.5`` (chance) when no class is defined, i.e. fewer than 2 labels occur.
    """
    proba, y = _check_proba(proba, y)
    aucs = [
        roc_auc_score(y == c, proba[:, c]) for c in range(N_CLASSES) if 0 < np.count_nonzero(y == c) < y.size
    ]
    return float(np.mean(aucs)) if aucs else 0.5


def multiclass_brier(proba: np.ndarray, y: np.ndarray) -> float:
    """Multiclass Brier score (Brier 1950): mean over events of ``sum_c (proba[i, c] - onehot[i, c])**2``.

    Args:
        proba: Class probabilities, shape ``(n, 3)``.
        y: Labels, shape ``(n,)``.

    Returns:
        Score in ``[0, 2]``; 0 is perfect.

    Raises:
        ValueError: No events (the score of nothing is undefined), or mismatched shapes.
    """
    proba, y = _check_proba(proba, y)
    if y.size == 0:
        raise ValueError("multiclass_brier needs at least one event")
    onehot = np.eye(N_CLASSES)[y]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def label_shares(y: np.ndarray) -> dict[str, float]:
    """Label shares (DESIGN §7 ``break_rate``, ``bounce_rate``, ``chop_rate``); all ``0.0`` for no events.

    Args:
        y: Labels, shape ``(n,)``.
    """
    y = _check_labels(y, len(y))
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    shares = counts / y.size if y.size else counts
    return {
        "break_rate": float(shares[BREAK]),
        "bounce_rate": float(shares[BOUNCE]),
        "chop_rate": float(shares[CHOP]),
    }
