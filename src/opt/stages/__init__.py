"""Search stages, registered by id: stage 1 (dataset and zone geometry), stage 2 (model and OCO brackets).

Each stage implements :class:`opt.stages.base.Stage`; :func:`get_stage` is how the runner finds the
one selected with ``+stage=N``. A new stage is a class and one line in :data:`STAGES`.
"""

from __future__ import annotations

from opt.errors import ConfigError
from opt.stages.base import Stage, StagePlan, TrialContext, TrialPrunedWithReason, TrialResult
from opt.stages.market import PreparedMarket, prepare_market
from opt.stages.stage1 import DatasetStage
from opt.stages.stage2 import BracketStage

__all__ = ["STAGES", "BracketStage", "DatasetStage", "PreparedMarket", "Stage", "StagePlan", "TrialContext",
           "TrialPrunedWithReason", "TrialResult", "get_stage", "prepare_market"]

STAGES: dict[int, Stage] = {1: DatasetStage(), 2: BracketStage()}
"""Stage id -> stage."""


def get_stage(stage_id: int) -> Stage:
    """The stage registered as ``stage_id``.

    Raises:
        ConfigError: no stage has that id.
    """
    try:
        return STAGES[int(stage_id)]
    except KeyError:
        raise ConfigError(f"stage.id must be one of {sorted(STAGES)}, got {stage_id}") from None
