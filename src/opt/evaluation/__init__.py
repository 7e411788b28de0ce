"""Chronological evaluation: hold-out, walk-forward folds and the stage-1 split (DESIGN §7, §9)."""

from __future__ import annotations

from opt.evaluation.splits import Fold, holdout_split, single_split, walk_forward_folds

__all__ = ["Fold", "holdout_split", "walk_forward_folds", "single_split"]
