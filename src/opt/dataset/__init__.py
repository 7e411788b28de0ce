"""Study market context (built once) and per-trial labelled event datasets (DESIGN §4-§6)."""

from __future__ import annotations

from opt.dataset._builder import EventDataset, build_event_dataset
from opt.dataset._context import MarketContext, build_context
from opt.events import LABELS

__all__ = ["LABELS", "EventDataset", "MarketContext", "build_context", "build_event_dataset"]
