"""Price levels known at each bar: ON, PM, OR, previous day, SMAs and VWAPs (DESIGN §4)."""

from __future__ import annotations

from opt.levels._compute import compute_levels
from opt.levels._levelset import LEVEL_NAMES, LEVEL_TYPES, LevelSet, level_names

__all__ = ["LEVEL_NAMES", "LEVEL_TYPES", "LevelSet", "compute_levels", "level_names"]
