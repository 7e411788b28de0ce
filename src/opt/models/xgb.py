"""Gradient-boosted trees (XGBoost, ``multi:softprob`` with 3 classes) on the tabular features."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from opt.config_rules import cfg_value
from opt.errors import ConfigError
from opt.models.base import (
    N_CLASSES,
    Capacity,
    ModelData,
    ReportFn,
    check_labels,
    check_ranges,
    class_weights,
)
from opt.models.device import DEVICES

__all__ = ["XGBParams", "XGBoostClassifier", "gpu_visible", "xgb_device"]


@dataclass(frozen=True)
class XGBParams:
    """Hyperparameters from ``conf/model/xgboost.yaml`` (see that file for units and ranges)."""

    n_estimators: int
    learning_rate: float
    max_depth: int
    subsample: float
    colsample_bytree: float
    min_child_weight: float
    reg_lambda: float
    class_weight: str
    early_stopping_rounds: int | None
    n_jobs: int
    device: str
    max_bin: int
    report_every: int

    def __post_init__(self) -> None:
        checks = {
            "n_estimators": self.n_estimators >= 1,
            "learning_rate": self.learning_rate > 0,
            "max_depth": self.max_depth >= 1,
            "subsample": 0 < self.subsample <= 1,
            "colsample_bytree": 0 < self.colsample_bytree <= 1,
            "min_child_weight": self.min_child_weight >= 0,
            "reg_lambda": self.reg_lambda >= 0,
            "class_weight": self.class_weight in ("balanced", "none"),
            "early_stopping_rounds": self.early_stopping_rounds is None or self.early_stopping_rounds >= 1,
            "n_jobs": self.n_jobs >= 1,
            "max_bin": self.max_bin >= 2,
            "report_every": self.report_every >= 1,
        }
        check_ranges(self, checks)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> XGBParams:
        """Read the ``model`` config group (``name: xgboost``).

        Raises:
            ConfigError: if a key is missing or out of range.
        """
        esr = cfg_value(cfg, "early_stopping_rounds", where="model", nullable=True)
        return cls(
            n_estimators=int(cfg_value(cfg, "n_estimators", where="model")),
            learning_rate=float(cfg_value(cfg, "learning_rate", where="model")),
            max_depth=int(cfg_value(cfg, "max_depth", where="model")),
            subsample=float(cfg_value(cfg, "subsample", where="model")),
            colsample_bytree=float(cfg_value(cfg, "colsample_bytree", where="model")),
            min_child_weight=float(cfg_value(cfg, "min_child_weight", where="model")),
            reg_lambda=float(cfg_value(cfg, "reg_lambda", where="model")),
            class_weight=str(cfg_value(cfg, "class_weight", where="model")),
            early_stopping_rounds=None if esr is None else int(esr),
            n_jobs=int(cfg_value(cfg, "n_jobs", where="model")),
            device=str(cfg_value(cfg, "device", where="model")),
            max_bin=int(cfg_value(cfg, "max_bin", where="model")),
            report_every=int(cfg_value(cfg, "report_every", where="model")),
        )


@functools.cache
def gpu_visible() -> bool:
    """Whether the CUDA driver sees a device, asked through ``libcuda`` itself (no torch import).

    XGBoost needs only the driver; importing torch to look for a GPU cost an XGBoost study 1.8-2.2 s at
    every start. ``CUDA_VISIBLE_DEVICES`` is honoured by the driver. Cached for the process.
    """
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    try:
        return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    except AttributeError:  # not a CUDA driver
        return False


def xgb_device(requested: str) -> str:
    """``model.device`` for XGBoost: ``auto`` = cuda when this build has CUDA and the driver sees a device.

    Raises:
        ConfigError: an unknown device, or ``cuda`` without a CUDA build or a visible device (naming
            ``model.device``).
    """
    if requested not in DEVICES:
        raise ConfigError(f"model.device must be one of {list(DEVICES)}; got {requested!r}")
    if requested == "cpu":
        return "cpu"
    cuda_build = bool(xgb.build_info().get("USE_CUDA", False))
    if requested == "cuda":
        if not cuda_build:
            raise ConfigError("model.device=cuda but this xgboost build has no CUDA support")
        if not gpu_visible():
            raise ConfigError("model.device=cuda but no CUDA device is visible; use model.device=auto or cpu")
        return "cuda"
    return "cuda" if cuda_build and gpu_visible() else "cpu"


class _Report(xgb.callback.TrainingCallback):
    """Calls ``report(round, -valid_mlogloss)`` every ``every`` boosting rounds."""

    def __init__(self, report: ReportFn, every: int) -> None:
        super().__init__()
        self._report = report
        self._every = every

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        step = epoch + 1
        if step % self._every == 0:
            self._report(step, -float(evals_log["valid"]["mlogloss"][-1]))
        return False


class XGBoostClassifier:
    """3-class XGBoost (``tree_method=hist``), seeded, with early stopping on the validation set.

    Always trains ``num_class=3``, so a class missing from the training labels still gets its column
    (its probability is learned towards ~0). Early stopping (``early_stopping_rounds``) watches the
    validation multiclass log-loss, weighted with the training class weights; without ``valid`` all
    ``n_estimators`` rounds are trained. ``report(round, -valid_logloss)`` is called every
    ``report_every`` rounds when ``valid`` is given (higher is better).

    Args:
        params: hyperparameters.
        seed: random seed (row/column subsampling).
    """

    def __init__(self, params: XGBParams, *, seed: int) -> None:
        self.params = params
        self.seed = int(seed)
        self.booster: xgb.Booster | None = None
        self.best_iteration: int | None = None
        self.feature_names: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, seed: int) -> XGBoostClassifier:
        """Build from the ``model`` config group; see :meth:`XGBParams.from_config`."""
        return cls(XGBParams.from_config(cfg), seed=seed)

    @classmethod
    def from_params(cls, *, seed: int, **hyperparameters: Any) -> XGBoostClassifier:
        """The ``_target_`` of ``conf/model``: build from keyword hyperparameters (:meth:`XGBParams.from_config`).

        Raises:
            ConfigError: a hyperparameter missing or out of range.
        """
        return cls(XGBParams.from_config(hyperparameters), seed=seed)

    def _booster_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "multi:softprob",
            "num_class": N_CLASSES,
            "eval_metric": "mlogloss",
            "tree_method": "hist",
            "device": xgb_device(p.device),
            "learning_rate": p.learning_rate,
            "max_depth": p.max_depth,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "min_child_weight": p.min_child_weight,
            "reg_lambda": p.reg_lambda,
            "max_bin": p.max_bin,
            "nthread": p.n_jobs,
            "seed": self.seed,
            "verbosity": 0,
        }

    def fit(
        self,
        train: ModelData,
        y: np.ndarray,
        *,
        valid: ModelData | None = None,
        y_valid: np.ndarray | None = None,
        report: ReportFn | None = None,
    ) -> XGBoostClassifier:
        """Train on ``train.features`` ``(n, n_features)``; see the class docstring.

        Raises:
            ValueError: on label shape/values, or ``valid`` without ``y_valid``.
            Exception: whatever ``report`` raises (e.g. ``optuna.TrialPruned``) propagates.
        """
        p = self.params
        y = check_labels(y, len(train))
        weights = class_weights(y, p.class_weight)
        event_weight = None if weights is None else weights[y]
        if train.sample_weight is not None:  # per-event weights (model.sample_weight) times the class weights
            event_weight = train.sample_weight * (1.0 if event_weight is None else event_weight)
        dtrain = xgb.DMatrix(train.features, label=y, weight=event_weight, nthread=p.n_jobs)
        evals: list[tuple[xgb.DMatrix, str]] = []
        if valid is not None:
            if y_valid is None:
                raise ValueError("y_valid is required when valid is given")
            yv = check_labels(y_valid, len(valid), what="y_valid")
            dvalid = xgb.DMatrix(
                valid.features, label=yv, weight=None if weights is None else weights[yv], nthread=p.n_jobs
            )
            if len(valid):
                evals.append((dvalid, "valid"))
        callbacks = [_Report(report, p.report_every)] if (report is not None and evals) else []
        booster = xgb.train(
            self._booster_params(),
            dtrain,
            num_boost_round=p.n_estimators,
            evals=evals,
            early_stopping_rounds=p.early_stopping_rounds if evals else None,
            callbacks=callbacks,
            verbose_eval=False,
        )
        self.booster = booster
        self.best_iteration = (
            int(booster.best_iteration)
            if evals and p.early_stopping_rounds
            else booster.num_boosted_rounds() - 1
        )
        self.feature_names = train.feature_names
        return self

    def trained_capacity(self) -> Capacity:
        """The boosting rounds the fitted model uses: the best iteration + 1 (all rounds without early stopping).

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self.best_iteration is None:
            raise RuntimeError("XGBoostClassifier.trained_capacity called before fit()")
        return Capacity(key="n_estimators", unit="rounds", value=int(self.best_iteration) + 1)

    def predict_proba(self, data: ModelData) -> np.ndarray:
        """Return ``(n_events, 3)`` float64 probabilities from the best iteration.

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self.booster is None or self.best_iteration is None:
            raise RuntimeError("XGBoostClassifier.predict_proba called before fit()")
        dmat = xgb.DMatrix(data.features, nthread=self.params.n_jobs)
        proba = self.booster.predict(dmat, iteration_range=(0, self.best_iteration + 1))
        proba = np.asarray(proba, dtype=np.float64).reshape(len(data), N_CLASSES)
        return proba / proba.sum(axis=1, keepdims=True)

    def gain_importance(self) -> dict[str, float]:
        """Average split gain per feature name (XGBoost ``gain``; 0.0 for features never split on).

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self.booster is None:
            raise RuntimeError("XGBoostClassifier.gain_importance called before fit()")
        score = self.booster.get_score(importance_type="gain")
        return {name: float(np.sum(score.get(f"f{i}", 0.0))) for i, name in enumerate(self.feature_names)}
