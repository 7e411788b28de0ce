"""Level-touch events and their BREAK / BOUNCE / CHOP labels (DESIGN §5)."""

from __future__ import annotations

from opt.events._detect import detect_touches
from opt.events._labels import BOUNCE, BREAK, CHOP, LABELS, label_events
from opt.events._outcome import label_outcomes
from opt.events._params import EventParams, OutcomeParams, event_params, outcome_params
from opt.events._triple_barrier import triple_barrier_labels

__all__ = [
    "BOUNCE",
    "BREAK",
    "CHOP",
    "LABELS",
    "EventParams",
    "OutcomeParams",
    "detect_touches",
    "event_params",
    "label_events",
    "label_outcomes",
    "outcome_params",
    "triple_barrier_labels",
]
