"""Timing of one model trial on CPU with the default configs (``python benchmarks/bench_models.py``).

Events are random bars of the real ES sample (``../shared/data/ES_1min.csv`` next to the repository)
with random labels: the numbers measure cost, not skill. The CNN timing is fit (80% of the events, with
the other 20% as validation) + predict on the validation events, with early stopping disabled
(patience = epochs) so every configured epoch runs: the worst case of a default trial. XGBoost is timed
without validation (fit + predict on all events), i.e. all ``n_estimators`` rounds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from opt.models import ModelData, make_model

REPO_ROOT = Path(__file__).resolve().parents[1]
ES_CSV = REPO_ROOT.parent / "shared" / "data" / "ES_1min.csv"
CONF_MODEL = REPO_ROOT / "conf" / "model"
N_FEATURES = 40


def _load_ohlcv(path: Path = ES_CSV) -> np.ndarray:
    """``(n_bars, 5)`` float64 open/high/low/close/volume of the ES sample."""
    frame = pd.read_csv(path, usecols=["open", "high", "low", "close", "volume"])
    return frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=np.float64)


def _events(ohlcv: np.ndarray, n_events: int, seed: int) -> tuple[ModelData, np.ndarray]:
    """Random event bars (sorted), random features and labels."""
    rng = np.random.default_rng(seed)
    bars = np.sort(rng.choice(np.arange(1_000, ohlcv.shape[0]), size=n_events, replace=False))
    features = rng.normal(size=(n_events, N_FEATURES)).astype(np.float32)
    names = tuple(f"f{i}" for i in range(N_FEATURES))
    labels = rng.integers(0, 3, size=n_events)
    return ModelData(features, names, bars, ohlcv=ohlcv), labels


def _time_trial(cfg: Any, data: ModelData, y: np.ndarray, repeats: int, *, with_valid: bool) -> float:
    """Best-of-``repeats`` seconds of fit + predict.

    ``with_valid``: fit on the first 80% with the last 20% as validation and predict those; otherwise
    fit on all events (no early stopping) and predict them all.
    """
    cut = int(0.8 * len(data)) if with_valid else len(data)
    train, valid = data.subset(slice(0, cut)), data.subset(slice(cut, None))
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        model = make_model(cfg, seed=r)
        if with_valid:
            model.fit(train, y[:cut], valid=valid, y_valid=y[cut:])
            model.predict_proba(valid)
        else:
            model.fit(train, y)
            model.predict_proba(train)
        best = min(best, time.perf_counter() - start)
    return best


def bench_cnn_trial(n_events: int = 5000, repeats: int = 1) -> dict[str, float]:
    """Seconds for one default-config CNN trial on CPU (all epochs), ``{"cnn_trial_s": ...}``."""
    cfg = OmegaConf.load(CONF_MODEL / "cnn.yaml")
    cfg.device = "cpu"
    cfg.early_stopping_patience = cfg.epochs
    data, y = _events(_load_ohlcv(), n_events, seed=0)
    return {"cnn_trial_s": round(_time_trial(cfg, data, y, repeats, with_valid=True), 3)}


def bench_xgb_trial(n_events: int = 5000, repeats: int = 3) -> dict[str, float]:
    """Seconds for a default-config XGBoost fit (all ``n_estimators`` rounds, 40 features) + predict on CPU.

    Returns ``{"xgb_trial_s": ...}``.
    """
    cfg = OmegaConf.load(CONF_MODEL / "xgboost.yaml")
    cfg.device = "cpu"
    data, y = _events(_load_ohlcv(), n_events, seed=0)
    return {"xgb_trial_s": round(_time_trial(cfg, data, y, repeats, with_valid=False), 3)}


if __name__ == "__main__":
    print(json.dumps({**bench_cnn_trial(), **bench_xgb_trial()}))
