"""Level names and the :class:`LevelSet` container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opt.config_rules import check_value

__all__ = ["LEVEL_NAMES", "LEVEL_TYPES", "LevelSet", "level_names"]

LEVEL_TYPES: tuple[str, ...] = ("on", "pm", "or", "pd", "sma", "vwap", "vwap_rth")
"""Level types in column order; each is one stage-1 switch ``levels.use.<type>``."""

_DEFAULT_SMA_PERIODS = (200, 400)  # conf/levels' sma_periods, for LEVEL_NAMES only (never a fallback)

LEVEL_NAMES: dict[str, tuple[str, ...]] = {
    "on": ("onh", "onl"),
    "pm": ("pmh", "pml"),
    "or": ("orh", "orl"),
    "pd": ("pdh", "pdl", "pdc"),
    "sma": tuple(f"sma_{p}" for p in _DEFAULT_SMA_PERIODS),
    "vwap": ("vwap_session", "vwap_weekly"),
    "vwap_rth": ("vwap_rth",),
}
"""Level names per type with the default ``levels.sma_periods``; see :func:`level_names`."""


def level_names(sma_periods: Sequence[int]) -> dict[str, tuple[str, ...]]:
    """Level names per type for the configured SMA periods (``sma_<period>``).

    Args:
        sma_periods: ``levels.sma_periods``, bars of ``levels.sma_timeframe_min`` minutes.

    Returns:
        Level type -> level names, for every type in :data:`LEVEL_TYPES`.

    Raises:
        ConfigError: if a period is < 1, not an integer or repeated (rule ``levels.sma_periods``).
    """
    periods = [int(p) for p in check_value("levels.sma_periods", sma_periods)]
    return {**LEVEL_NAMES, "sma": tuple(f"sma_{p}" for p in periods)}


@dataclass(frozen=True, eq=False)
class LevelSet:
    """Price levels per bar.

    Attributes:
        names: level names, ``(n_levels,)``, e.g. ``("onh", "onl", ...)``.
        types: level type of each name (an entry of :data:`LEVEL_TYPES`), ``(n_levels,)``.
        values: float64 ``(n_bars, n_levels)``, points; NaN while the level is not known yet.
            Row ``t`` depends on bars ``<= t`` only. Column-major (Fortran order) when built by
            :func:`~opt.levels.compute_levels`: each level is one contiguous column, read in place by
            every trial (``values[:, j]`` is a view, ``values.T`` is C-contiguous).
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        if (
            len(self.names) != len(self.types)
            or self.values.ndim != 2
            or self.values.shape[1] != len(self.names)
        ):
            raise ValueError("LevelSet: names, types and values columns must match")

    def column(self, name: str) -> np.ndarray:
        """Values of level ``name``, float64 ``(n_bars,)``.

        Raises:
            KeyError: if there is no such level.
        """
        if name not in self.names:
            raise KeyError(f"no level {name!r}; levels are {self.names}")
        return self.values[:, self.names.index(name)]

    def indices_of_types(self, types: Sequence[str]) -> np.ndarray:
        """Column indices (int64) of the levels whose type is in ``types``, in column order."""
        wanted = set(types)
        return np.array([i for i, t in enumerate(self.types) if t in wanted], dtype=np.int64)
