"""``features.custom``: user functions' per-bar columns, read at the touch bar only, and their checks."""

from __future__ import annotations

import numpy as np
import pytest

from opt.dataset import build_context, build_event_dataset
from opt.errors import ConfigError
from opt.features._custom import custom_columns

from tests.helpers.dataset import default_cfg, synthetic

HELPERS = "tests.helpers.planted_features"


@pytest.fixture(scope="module")
def bars():
    return synthetic(n_days=3)


def _dataset(bars, *custom: dict):
    cfg = default_cfg(events={"warmup_bars": 0}, features={"custom": list(custom)})
    return build_event_dataset(build_context(bars, cfg), cfg)


def test_custom_columns_are_read_at_the_touch_bar_only(bars) -> None:
    """custom_bar_number is the event's own touch bar u: the row of u, not of any bar before or after."""
    ds = _dataset(bars, {"_target_": f"{HELPERS}.bar_number"}, {"_target_": f"{HELPERS}.mostly_nan", "every": 3})
    assert len(ds) > 20
    u = ds.events["bar"].to_numpy()
    np.testing.assert_array_equal(ds.features["custom_bar_number"].to_numpy(), u.astype(float))
    sparse = ds.features["custom_sparse"].to_numpy()
    np.testing.assert_array_equal(sparse, np.where(u % 3 == 0, u, 0.0))  # NaN at u -> 0, as the built-ins
    assert np.isfinite(ds.features.to_numpy()).all()
    assert list(ds.features.columns[-2:]) == ["custom_bar_number", "custom_sparse"]


def test_no_custom_features_leaves_the_built_in_columns(bars) -> None:
    plain = _dataset(bars)
    with_one = _dataset(bars, {"_target_": f"{HELPERS}.close_change", "lag": 2})
    assert list(with_one.features.columns) == [*plain.features.columns, "custom_close_change"]
    np.testing.assert_array_equal(with_one.features[plain.features.columns].to_numpy(), plain.features.to_numpy())


@pytest.mark.parametrize("spec, message", [
    ({"_target_": "nowhere.gap"}, r"features.custom\[1\]: cannot import _target_ 'nowhere.gap'"),
    ({"_target_": f"{HELPERS}.nothing"}, r"features.custom\[1\]: cannot import .* has no 'nothing'"),
    ({"_target_": f"{HELPERS}.pd"}, r"features.custom\[1\]: _target_ '.*\.pd' is not callable"),
    ({"lag": 3}, r"features.custom\[1\] must be a node with a _target_"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "short"}, r"features.custom\[1\] .* returned \d+ rows for \d+ bars"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "reindexed"}, r"features.custom\[1\] .* index is not the bars'"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "text"}, r"features.custom\[1\] .* column 'x' is \w+, not numeric"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "inf"}, r"features.custom\[1\] .* column 'x' is infinite at bar 0"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "array"}, r"features.custom\[1\] .* returned ndarray"),
    ({"_target_": f"{HELPERS}.bad_output", "kind": "empty"}, r"features.custom\[1\] .* returned no columns"),
    ({"_target_": f"{HELPERS}.close_change", "lag": 9}, r"features.custom\[1\] .* repeats feature 'custom_close_change'"),
])
def test_invalid_custom_features_name_the_entry_and_the_rule(bars, spec: dict, message: str) -> None:
    first = {"_target_": f"{HELPERS}.close_change"}
    with pytest.raises(ConfigError, match=message):
        custom_columns(bars, [first, spec])


def test_a_bad_kwarg_is_a_config_error(bars) -> None:
    with pytest.raises(ConfigError, match=r"features.custom\[0\]: .*close_change.* 'nonsense'"):
        _dataset(bars, {"_target_": f"{HELPERS}.close_change", "nonsense": 1})


def test_features_custom_must_be_a_list() -> None:
    from opt.config_rules import check_config

    from tests.helpers.config import compose_config

    with pytest.raises(ConfigError, match=r"features.custom='gap' must be a list"):
        check_config(compose_config(["features.custom=gap"]))
    check_config(compose_config([f"features.custom=[{{_target_: {HELPERS}.close_change, lag: 3}}]"]))
