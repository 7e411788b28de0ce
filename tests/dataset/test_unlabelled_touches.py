"""``build_event_dataset(..., keep_unlabelled=True)``: touches of the last bars for live prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opt.dataset import EventDataset, build_context, build_event_dataset

from tests.helpers.dataset import default_cfg, synthetic


@pytest.fixture(scope="module")
def datasets() -> tuple[int, EventDataset, EventDataset]:
    """Bars cut 5 bars after a touch in the middle, so the tail holds touches without a full window."""
    bars = synthetic(n_days=8)
    middle = build_event_dataset(build_context(bars, default_cfg()), default_cfg()).events["bar"]
    bars = bars.iloc[: int(middle.iloc[len(middle) // 2]) + 5]
    ctx = build_context(bars, default_cfg())
    return ctx.n_bars, build_event_dataset(ctx, default_cfg()), build_event_dataset(
        ctx, default_cfg(), keep_unlabelled=True)


def test_default_drops_touches_without_a_complete_label_window(datasets) -> None:
    n_bars, labelled, _ = datasets
    assert (labelled.events["label_end_bar"] < n_bars).all()
    assert labelled.events["label"].isin([0, 1, 2]).all()


def test_keep_unlabelled_adds_only_the_tail_with_label_minus_one(datasets) -> None:
    n_bars, labelled, everything = datasets
    complete = (everything.events["label_end_bar"] < n_bars).to_numpy()
    assert (~complete).sum() > 0
    assert (everything.events.loc[~complete, "label"] == -1).all()
    assert (everything.events.loc[complete, "label"] != -1).all()
    # the complete part is exactly the default dataset (events and features)
    pd.testing.assert_frame_equal(everything.events[complete].reset_index(drop=True), labelled.events)
    pd.testing.assert_frame_equal(everything.features[complete].reset_index(drop=True), labelled.features)
    assert np.isfinite(everything.features.to_numpy()).all()


def test_unlabelled_features_do_not_read_later_bars() -> None:
    """A touch kept at the end of a short frame has the features it has in the longer frame."""
    bars = synthetic(n_days=8)
    full_ctx = build_context(bars, default_cfg())
    full = build_event_dataset(full_ctx, default_cfg())
    t = int(full.events["bar"].iloc[len(full) // 2])
    cut = build_event_dataset(build_context(bars.iloc[: t + 1], default_cfg()), default_cfg(),
                              keep_unlabelled=True)
    at_t = cut.events["bar"] == t
    assert at_t.any() and (cut.events.loc[at_t, "label"] == -1).all()
    same = (full.events["bar"] == t).to_numpy()
    np.testing.assert_array_equal(cut.features[at_t.to_numpy()].to_numpy(), full.features[same].to_numpy())
