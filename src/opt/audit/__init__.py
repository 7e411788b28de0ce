"""Leakage audit of the user's data, config, custom features and champion (``python -m opt audit``).

Like freqtrade's ``lookahead-analysis`` and ``recursive-analysis``, for this pipeline: a look-ahead check
(nothing at bar t changes when the bars after t are removed or replaced) and a warm-up measurement (how
many bars each state needs before it no longer depends on where the data starts), see
:mod:`opt.audit.command`.
"""

from __future__ import annotations

from opt.audit._champion import compare_signals
from opt.audit._lookahead import Difference, agree, choose_cuts, garbage_after
from opt.audit._warmup import WarmupRow, measure_warmup, settled_after
from opt.audit.command import (
           AUDIT_FAILED_EXIT_CODE,
           AuditParams,
           AuditResult,
           audit_command,
           audit_params,
           run_audit,
)

__all__ = ["AUDIT_FAILED_EXIT_CODE", "AuditParams", "AuditResult", "Difference", "WarmupRow", "agree",
           "audit_command", "audit_params", "choose_cuts", "compare_signals", "garbage_after", "measure_warmup",
           "run_audit", "settled_after"]
