"""Real and synthetic bars and the default dataset config for the dataset tests."""

from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import DictConfig, OmegaConf

from tests.helpers.config import ES_CSV, REPO

GROUPS = ("levels", "events", "outcome", "features")


def default_cfg(**overrides: dict) -> DictConfig:
    """The default levels/events/outcome/features groups from conf/, merged with ``overrides``."""
    base = OmegaConf.create({g: OmegaConf.load(REPO / "conf" / g / "default.yaml") for g in GROUPS})
    return OmegaConf.merge(base, overrides) if overrides else base


def load_es() -> pd.DataFrame:
    """The shared ES 1-minute file (75,791 bars, UTC); skips the test when it is absent."""
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV} (../shared/data/ES_1min.csv beside the repo)")
    bars = pd.read_csv(ES_CSV)
    bars["timestamp"] = pd.to_datetime(bars["timestamp"], utc=True)
    return bars.astype({c: "float64" for c in ("open", "high", "low", "close", "volume")})


def synthetic(n_days: int = 20, seed: int = 3) -> pd.DataFrame:
    """Seeded synthetic Globex bars from opt.data."""
    from opt.data import generate_synthetic_bars

    return generate_synthetic_bars(
        seed=seed, first_day="2025-03-03", n_days=n_days, start_price=5000.0, annual_vol=0.2, tick_size=0.25
    )


def garbage_after(bars: pd.DataFrame, t: int, seed: int | None = None) -> pd.DataFrame:
    """``bars`` with every bar after row ``t`` replaced by seeded random (valid OHLC) garbage: what the
    no-look-ahead tests compare against (nothing at rows <= t may change). Seed: ``t`` by default."""
    import numpy as np

    rng = np.random.default_rng(t if seed is None else seed)
    out = bars.copy()
    k = len(bars) - t - 1
    mid = rng.uniform(1.0, 1e5, k)
    out.loc[t + 1 :, "open"] = mid
    out.loc[t + 1 :, "close"] = mid[::-1]
    out.loc[t + 1 :, "high"] = np.maximum(mid, mid[::-1]) + rng.uniform(0, 500, k)
    out.loc[t + 1 :, "low"] = np.minimum(mid, mid[::-1]) - rng.uniform(0, 500, k)
    out.loc[t + 1 :, "volume"] = rng.integers(0, 10**6, k).astype(float)
    return out
