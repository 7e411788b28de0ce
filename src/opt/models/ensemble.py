"""An average of fitted classifiers: the walk-forward fold models as one model (``promote.retrain=ensemble``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from opt.models.base import Classifier, ModelData, ReportFn

__all__ = ["AveragedClassifier"]


class AveragedClassifier:
    """``predict_proba`` = the mean of the members' probabilities; the members are already fitted.

    Args:
        members: fitted classifiers (e.g. one per walk-forward fold), at least one.

    Raises:
        ValueError: no member.
    """

    def __init__(self, members: Sequence[Classifier]) -> None:
        if not members:
            raise ValueError("AveragedClassifier needs at least one fitted member")
        self.members = list(members)

    def fit(self, train: ModelData, y: np.ndarray, *, valid: ModelData | None = None,
            y_valid: np.ndarray | None = None, report: ReportFn | None = None) -> AveragedClassifier:
        """Members are fitted where they were made (their folds); fitting the average again is refused.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("AveragedClassifier averages fitted members; fit each member instead")

    def predict_proba(self, data: ModelData) -> np.ndarray:
        """``(n_events, 3)`` mean of the members' probabilities (rows sum to 1)."""
        return np.mean([np.asarray(m.predict_proba(data), dtype=np.float64) for m in self.members], axis=0)
