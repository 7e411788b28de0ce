"""Triple-barrier labels (AFML ch. 3; ``outcome=triple_barrier``): cases, causality, the dataset and its config."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from opt.dataset import build_context, build_event_dataset
from opt.errors import ConfigError
from opt.events import (
    BOUNCE,
    BREAK,
    CHOP,
    label_events,
    label_outcomes,
    outcome_params,
    triple_barrier_labels,
)

from tests.helpers.config import REPO
from tests.helpers.dataset import default_cfg, synthetic

C, ATR = 100.0, 1.0  # touch close and ATR at u: barriers 100 + up x 1, 100 - down x 1


def _label(path: list[tuple[float, float]], side: int, *, up: float = 2.0, down: float = 2.0, horizon: int = 4,
           atr: float = ATR) -> int:
    """path: (high, low) of bars u+1 ..; bar u closes at C."""
    path = path + [(C, C)] * (horizon + 1 - len(path))
    high = np.array([C] + [p[0] for p in path])
    low = np.array([C] + [p[1] for p in path])
    close = np.full(high.shape, C)
    return int(triple_barrier_labels(high, low, close, np.full(high.shape, atr), np.array([0]), np.array([side]),
                                     upper_atr=up, lower_atr=down, horizon=horizon)[0])


@pytest.mark.parametrize(
    ("path", "side", "kw", "expected"),
    [
        ([(101, 99), (102.0, 99.5)], 1, {}, BOUNCE),  # support test: upper first -> bounce
        ([(101, 99), (100.5, 98.0)], 1, {}, BREAK),  # support test: lower first -> break
        ([(101, 99), (102.0, 99.5)], -1, {}, BREAK),  # resistance test: upper first -> break
        ([(101, 99), (100.5, 98.0)], -1, {}, BOUNCE),  # resistance test: lower first -> bounce
        ([(102.5, 97.5), (103, 99)], 1, {}, CHOP),  # both in one bar: tie -> chop
        ([(101.9, 98.1)] * 4, 1, {}, CHOP),  # vertical barrier first
        ([(101, 99)] * 4 + [(104, 99)], 1, {}, CHOP),  # upper hit on u+5, after the horizon of 4
        ([(101, 99)] * 4 + [(104, 99)], 1, {"horizon": 5}, BOUNCE),  # ... inside a horizon of 5
        ([(100.5, 99.4)], 1, {"up": 3.0, "down": 0.5}, BREAK),  # asymmetric: lower at 99.5
        ([(101.5, 99.6)], -1, {"up": 1.5, "down": 3.0}, BREAK),  # asymmetric: upper at 101.5 (>= counts)
        ([(103, 97)], 1, {"atr": float("nan")}, CHOP),  # no ATR: no barrier is reached
    ],
)
def test_first_barrier_decides(path, side, kw, expected) -> None:
    assert _label(path, side, **kw) == expected


def test_bad_arguments_are_refused() -> None:
    ones = np.ones(5)
    with pytest.raises(ValueError, match="past the last bar"):
        triple_barrier_labels(ones, ones, ones, ones, np.array([2]), np.array([1]), upper_atr=1, lower_atr=1,
                              horizon=3)
    with pytest.raises(ValueError, match="upper_atr > 0"):
        triple_barrier_labels(ones, ones, ones, ones, np.array([0]), np.array([1]), upper_atr=0, lower_atr=1,
                              horizon=2)


def test_a_label_whose_window_ends_by_t_ignores_bars_after_t() -> None:
    rng = np.random.default_rng(7)
    n, horizon = 400, 15
    close = 100 + np.cumsum(rng.normal(0, 0.5, n))
    high, low = close + rng.uniform(0, 0.6, n), close - rng.uniform(0, 0.6, n)
    atr = np.full(n, 1.0)
    bar = np.arange(5, n - horizon - 1, 3)
    side = np.where(rng.random(bar.size) < 0.5, 1, -1)
    full = triple_barrier_labels(high, low, close, atr, bar, side, upper_atr=1.5, lower_atr=1.0, horizon=horizon)
    assert set(np.unique(full)) == {BREAK, BOUNCE, CHOP}
    for t in (100, 211, 350):
        h2, l2, c2 = high.copy(), low.copy(), close.copy()
        h2[t + 1:] += rng.normal(0, 50, n - t - 1)  # garbage after t
        l2[t + 1:] = h2[t + 1:] - 100
        c2[t + 1:] = h2[t + 1:]
        other = triple_barrier_labels(h2, l2, c2, atr, bar, side, upper_atr=1.5, lower_atr=1.0, horizon=horizon)
        known = bar + horizon <= t
        assert known.sum() > 10 and np.array_equal(full[known], other[known])


def _triple(**kw: float) -> dict:
    node = OmegaConf.load(REPO / "conf" / "outcome" / "triple_barrier.yaml")
    return {"outcome": OmegaConf.merge(node, kw)}


def test_config_group_and_params() -> None:
    oc = outcome_params(OmegaConf.load(REPO / "conf" / "outcome" / "triple_barrier.yaml"))
    assert (oc.method, oc.upper_atr, oc.lower_atr, oc.lookforward, oc.threshold) == ("triple_barrier", 2.0, 2.0, 30, None)
    old = outcome_params({"threshold_mode": "atr", "threshold": 2.0, "lookforward": 30})  # saved before `method`
    assert old.method == "threshold"
    with pytest.raises(ConfigError, match="outcome.upper_atr"):
        outcome_params({"method": "triple_barrier", "upper_atr": -1.0, "lower_atr": 1.0, "horizon": 5})
    with pytest.raises(ConfigError, match="outcome.horizon is missing"):
        outcome_params({"method": "triple_barrier", "upper_atr": 1.0, "lower_atr": 1.0})
    with pytest.raises(ConfigError, match="outcome.method"):
        outcome_params({"method": "meta", "threshold_mode": "atr", "threshold": 2.0, "lookforward": 30})


def test_dataset_uses_the_triple_barrier_and_its_horizon_as_window() -> None:
    bars = synthetic(n_days=8)
    base = default_cfg()
    ctx = build_context(bars, base)
    cfg = OmegaConf.merge(base, _triple(upper_atr=1.5, lower_atr=1.0, horizon=20))
    ds = build_event_dataset(ctx, cfg)
    ev = ds.events
    assert len(ev) > 20 and set(np.unique(ds.y)) <= {BREAK, BOUNCE, CHOP}
    assert np.array_equal(ev["label_end_bar"], ev["bar"] + 20)  # the purge window is the horizon
    expected = triple_barrier_labels(ctx.high, ctx.low, ctx.close, ctx.atr, ev["bar"].to_numpy(), ev["side"].to_numpy(),
                                     upper_atr=1.5, lower_atr=1.0, horizon=20)
    assert np.array_equal(ds.y, expected)
    # the threshold method is unchanged: label_outcomes gives label_events' labels bit for bit
    oc = outcome_params(base.outcome)
    bar, price, side = ev["bar"].to_numpy(), ev["level_price"].to_numpy(), ev["side"].to_numpy()
    bar, price, side = bar[bar + 30 < ctx.n_bars], price[bar + 30 < ctx.n_bars], side[bar + 30 < ctx.n_bars]
    got = label_outcomes(oc, high=ctx.high, low=ctx.low, close=ctx.close, atr=ctx.atr, bar=bar, level_price=price,
                         side=side)
    assert np.array_equal(got, label_events(ctx.high, ctx.low, bar, price, side, 2.0 * ctx.atr[bar], lookforward=30))
