"""What every model consumes and promises: :class:`ModelData`, the :class:`Classifier` protocol.

Labels are ints ``BREAK=0``, ``BOUNCE=1``, ``CHOP=2``; probabilities are ``(n, 3)`` arrays in that
column order (DESIGN §7). A model always returns the 3 columns, even when a class is missing from its
training labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from opt.errors import ConfigError

__all__ = [
    "N_CLASSES",
    "CLASS_NAMES",
    "ReportFn",
    "Capacity",
    "ModelData",
    "Classifier",
    "check_labels",
    "class_weights",
]

N_CLASSES = 3
CLASS_NAMES: tuple[str, ...] = ("BREAK", "BOUNCE", "CHOP")

class Capacity(NamedTuple):
    """How much a fitted model trained: ``value`` of config key ``key`` (``n_estimators``: boosting rounds;
    ``epochs``: epochs), in ``unit`` (``rounds`` or ``epochs``)."""

    key: str
    unit: str
    value: int


ReportFn = Callable[[int, float], None]
"""``report(step, value)``: an intermediate validation value (higher is better); may raise."""


@dataclass(frozen=True, eq=False)
class ModelData:
    """Model inputs for a set of events.

    Attributes:
        features: ``(n_events, n_features)`` float32 tabular features at each event's touch bar.
        feature_names: ``n_features`` column names.
        bar_index: ``(n_events,)`` int64 row of each event's touch bar ``u`` in ``ohlcv``/``atr``.
        ohlcv: ``(n_bars, 5)`` float64 open/high/low/close/volume of the whole market (shared between
            subsets, never copied), or ``None`` for models that only read ``features``.
        atr: ``(n_bars,)`` float64 ATR per bar (points), or ``None``.
        sample_weight: ``(n_events,)`` float64 per-event training weights (e.g. label uniqueness,
            :func:`opt.evaluation.uniqueness.average_uniqueness` scaled to mean 1), or ``None`` (all 1).

    Raises:
        ValueError: if the shapes disagree or a ``bar_index`` is outside ``ohlcv``.
    """

    features: np.ndarray
    feature_names: tuple[str, ...]
    bar_index: np.ndarray
    ohlcv: np.ndarray | None = None
    atr: np.ndarray | None = None
    sample_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        features = np.asarray(self.features, dtype=np.float32)
        bar_index = np.asarray(self.bar_index, dtype=np.int64)
        names = tuple(str(n) for n in self.feature_names)
        if features.ndim != 2 or features.shape[1] != len(names):
            raise ValueError(
                f"ModelData.features must be (n_events, {len(names)}) for {len(names)} feature_names; "
                f"got shape {features.shape}"
            )
        if bar_index.shape != (features.shape[0],):
            raise ValueError(f"ModelData.bar_index must be ({features.shape[0]},); got {bar_index.shape}")
        ohlcv = None if self.ohlcv is None else np.asarray(self.ohlcv, dtype=np.float64)
        atr = None if self.atr is None else np.asarray(self.atr, dtype=np.float64)
        if ohlcv is not None:
            if ohlcv.ndim != 2 or ohlcv.shape[1] != 5:
                raise ValueError(f"ModelData.ohlcv must be (n_bars, 5); got {ohlcv.shape}")
            if bar_index.size and (bar_index.min() < 0 or bar_index.max() >= ohlcv.shape[0]):
                raise ValueError(f"ModelData.bar_index must lie in [0, {ohlcv.shape[0]}) (rows of ohlcv)")
        if atr is not None and ohlcv is not None and atr.shape != (ohlcv.shape[0],):
            raise ValueError(f"ModelData.atr must be ({ohlcv.shape[0]},) like ohlcv rows; got {atr.shape}")
        if self.sample_weight is not None:
            weight = np.asarray(self.sample_weight, dtype=np.float64)
            if weight.shape != (features.shape[0],) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
                raise ValueError(f"sample_weight must be finite, >= 0 and of shape ({features.shape[0]},); got "
                                 f"shape {weight.shape}")
            object.__setattr__(self, "sample_weight", weight)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "bar_index", bar_index)
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "ohlcv", ohlcv)
        object.__setattr__(self, "atr", atr)

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_events(self) -> int:
        """Number of events (rows of ``features``)."""
        return len(self)

    def subset(self, idx: np.ndarray | slice | list[int]) -> ModelData:
        """Return the events selected by ``idx`` (integer indices, boolean mask or slice).

        ``ohlcv`` and ``atr`` are shared with the result, not copied.
        """
        return ModelData(
            features=self.features[idx],
            feature_names=self.feature_names,
            bar_index=self.bar_index[idx],
            ohlcv=self.ohlcv,
            atr=self.atr,
            sample_weight=None if self.sample_weight is None else self.sample_weight[idx],
        )


@runtime_checkable
class Classifier(Protocol):
    """A 3-class model: ``fit`` on labelled events, then ``predict_proba`` on any events."""

    def fit(
        self,
        train: ModelData,
        y: np.ndarray,
        *,
        valid: ModelData | None = None,
        y_valid: np.ndarray | None = None,
        report: ReportFn | None = None,
    ) -> Classifier:
        """Train on ``train`` with labels ``y`` ``(n_train,)`` in {0, 1, 2}; return ``self``.

        ``valid``/``y_valid`` drive early stopping; ``report(step, value)`` receives intermediate
        validation values (higher is better) and any exception it raises propagates out of ``fit``.
        """
        ...

    def predict_proba(self, data: ModelData) -> np.ndarray:
        """Return ``(n_events, 3)`` float64 probabilities P(BREAK), P(BOUNCE), P(CHOP); rows sum to 1."""
        ...


def check_labels(y: np.ndarray, n: int, *, what: str = "y") -> np.ndarray:
    """Return ``y`` as an int64 ``(n,)`` array of labels in {0, 1, 2}.

    Raises:
        ValueError: if the length differs from ``n`` or a label is outside {0, 1, 2}.
    """
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},) to match the events; got {arr.shape}")
    if arr.size and (not np.all(np.isin(arr, np.arange(N_CLASSES)))):
        raise ValueError(
            f"{what} must hold labels in {{0, 1, 2}} (BREAK, BOUNCE, CHOP); got {np.unique(arr)}"
        )
    return arr.astype(np.int64)


def class_weights(y: np.ndarray, mode: str) -> np.ndarray | None:
    """Per-class loss weights ``(3,)`` from training labels, or ``None`` for ``mode='none'``.

    ``balanced`` gives class ``c`` the weight ``n / (n_present * n_c)`` (sklearn's rule over the classes
    present); a class absent from ``y`` gets weight 1.0 (it only matters for validation losses).

    Raises:
        ConfigError: if ``mode`` is not ``balanced`` or ``none`` (names ``model.class_weight``).
    """
    if mode == "none":
        return None
    if mode != "balanced":
        raise ConfigError(f"model.class_weight must be 'balanced' or 'none'; got {mode!r}")
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=N_CLASSES).astype(np.float64)
    present = counts > 0
    weights = np.ones(N_CLASSES)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def check_ranges(params: object, checks: Mapping[str, bool]) -> None:
    """Raise for the first ``model.<key>`` whose check is False (``checks``: key -> rule holds).

    Raises:
        ConfigError: naming ``model.<key>`` and its value.
    """
    for key, ok in checks.items():
        if not ok:
            raise ConfigError(f"model.{key} is out of range: {getattr(params, key)!r}")
