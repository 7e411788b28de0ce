"""Benchmark: study context + one trial's event dataset on a year of 1-minute bars.

``python benchmarks/bench_dataset.py`` prints ``bench_dataset_build()`` as JSON. Numba functions are
compiled (or loaded from the cache) by a warm-up call before timing.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.dataset import build_context, build_event_dataset

CONF = Path(__file__).resolve().parents[1] / "conf"
_GROUPS = ("levels", "events", "outcome", "features")


def default_config() -> DictConfig:
    """The default ``levels``/``events``/``outcome``/``features`` groups from ``conf/``."""
    return OmegaConf.create({g: OmegaConf.load(CONF / g / "default.yaml") for g in _GROUPS})


def _random_walk_bars(n_days: int, seed: int) -> pd.DataFrame:
    """Fallback Globex-calendar random walk (18:00-17:00 ET weekdays) when opt.data is unavailable."""
    days = pd.bdate_range("2024-01-02", periods=n_days)
    opens = (days - pd.Timedelta(days=1)).tz_localize("America/New_York") + pd.Timedelta(hours=18)
    minutes = np.arange(23 * 60) * np.timedelta64(60, "s")
    stamps = (opens.tz_convert("UTC").as_unit("ns").to_numpy()[:, None] + minutes[None, :]).ravel()
    rng = np.random.default_rng(seed)
    close = 5000.0 + np.round(np.cumsum(rng.standard_t(5, stamps.size) * 0.6) * 4) / 4
    open_ = np.r_[close[0], close[:-1]]
    ext = np.round(rng.exponential(0.3, (2, stamps.size)) * 4) / 4
    return pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(stamps).tz_localize("UTC"),
            "open": open_,
            "high": np.maximum(open_, close) + ext[0],
            "low": np.minimum(open_, close) - ext[1],
            "close": close,
            "volume": rng.poisson(300, stamps.size).astype(np.float64) + 1.0,
        }
    )


def synthetic_year(n_days: int = 250, seed: int = 7) -> pd.DataFrame:
    """``n_days`` trading days of 1-minute bars (opt.data's generator, else a random walk)."""
    try:
        from opt.data import generate_synthetic_bars
    except ImportError:
        return _random_walk_bars(n_days, seed)
    return generate_synthetic_bars(
        seed=seed, first_day="2024-01-02", n_days=n_days, start_price=5000.0, annual_vol=0.16, tick_size=0.25
    )


def bench_dataset_build(n_days: int = 250, repeats: int = 3) -> dict[str, Any]:
    """Time ``build_context`` + ``build_event_dataset`` with the default config.

    Args:
        n_days: trading days of synthetic bars (250 ~ one year, ~345,000 bars).
        repeats: timed repetitions after one warm-up.

    Returns:
        ``dataset_build_1y_s`` (median seconds of both calls), ``trial_build_s`` (median seconds of
        ``build_event_dataset`` alone), ``n_bars``, ``n_events``, ``events_per_day``.
    """
    cfg = default_config()
    bars = synthetic_year(n_days)
    build_event_dataset(build_context(bars.iloc[:5000], cfg), cfg)  # numba warm-up / cache load
    total, trial = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ctx = build_context(bars, cfg)
        t1 = time.perf_counter()
        ds = build_event_dataset(ctx, cfg)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        trial.append(t2 - t1)
    return {
        "dataset_build_1y_s": round(statistics.median(total), 4),
        "trial_build_s": round(statistics.median(trial), 4),
        "n_bars": int(ctx.n_bars),
        "n_events": len(ds),
        "events_per_day": round(len(ds) / ctx.n_trading_days, 2),
    }


if __name__ == "__main__":
    print(json.dumps(bench_dataset_build(), indent=2))
