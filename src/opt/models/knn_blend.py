"""Blend a model with retrieval from history: ``P = alpha * P_kNN + (1 - alpha) * P_model``."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from opt.errors import ConfigError
from opt.models.base import N_CLASSES, Classifier, ModelData, ReportFn, check_labels

__all__ = ["KNNBlend"]


class KNNBlend:
    """A :class:`~opt.models.base.Classifier` mixing ``base`` with a k-nearest-neighbour vote.

    ``P_kNN`` of an event is the share of each class among its ``k`` nearest TRAIN events (Euclidean
    distance in feature space standardized with a scaler fit on the train features only; NaN features
    are set to the train mean, i.e. 0 after scaling). ``k`` is capped at the number of train events.
    Predicting on the train events themselves counts each event among its own neighbours.

    Args:
        base: the model to blend (fit together with the kNN index in :meth:`fit`).
        alpha: weight of the kNN vote in [0, 1] (0 = ``base`` alone, 1 = kNN alone).
        k: number of neighbours (>= 1).

    Raises:
        ConfigError: if ``alpha`` is outside [0, 1] or ``k < 1``.
    """

    def __init__(self, base: Classifier, *, alpha: float, k: int = 25) -> None:
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"kNN blend alpha must be in [0, 1]; got {alpha!r}")
        if int(k) < 1:
            raise ConfigError(f"kNN blend k must be >= 1; got {k!r}")
        self.base = base
        self.alpha = float(alpha)
        self.k = int(k)
        self._scaler: StandardScaler | None = None
        self._index: NearestNeighbors | None = None
        self._y_train: np.ndarray | None = None

    def fit(
        self,
        train: ModelData,
        y: np.ndarray,
        *,
        valid: ModelData | None = None,
        y_valid: np.ndarray | None = None,
        report: ReportFn | None = None,
    ) -> KNNBlend:
        """Fit ``base`` (passing ``valid``/``report`` through) and index the train features.

        Raises:
            ValueError: on label shape/values or an empty ``train``.
        """
        y = check_labels(y, len(train))
        if len(train) == 0:
            raise ValueError("KNNBlend.fit needs at least one train event")
        self.base.fit(train, y, valid=valid, y_valid=y_valid, report=report)
        self._scaler = StandardScaler().fit(train.features.astype(np.float64))
        z = self._standardize(train.features)
        self._index = NearestNeighbors(n_neighbors=min(self.k, len(train))).fit(z)
        self._y_train = y
        return self

    def _standardize(self, features: np.ndarray) -> np.ndarray:
        assert self._scaler is not None
        z = self._scaler.transform(features.astype(np.float64))
        return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)

    def knn_proba(self, data: ModelData) -> np.ndarray:
        """Return ``(n_events, 3)`` class shares among each event's nearest train events.

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self._index is None or self._y_train is None:
            raise RuntimeError("KNNBlend.knn_proba called before fit()")
        if len(data) == 0:
            return np.zeros((0, N_CLASSES))
        neighbours = self._index.kneighbors(self._standardize(data.features), return_distance=False)
        labels = self._y_train[neighbours]  # (n_events, k)
        return (labels[..., None] == np.arange(N_CLASSES)).mean(axis=1)

    def predict_proba(self, data: ModelData) -> np.ndarray:
        """Return ``alpha * P_kNN + (1 - alpha) * P_model``, ``(n_events, 3)`` float64.

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        knn = self.knn_proba(data)
        model = np.asarray(self.base.predict_proba(data), dtype=np.float64)
        return self.alpha * knn + (1.0 - self.alpha) * model
