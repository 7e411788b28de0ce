"""Promotion (DESIGN §9): retrain the best stage-2 trial, test it once, guard against overfitting, register it.

``python -m opt promote`` is :func:`opt.promote.command.promote_command`; the registered MLflow model
wraps :class:`opt.promote.policy.SignalPolicy` (bars in, bracket orders out).
"""

from __future__ import annotations

from opt.promote.gates import Gate, check_gates
from opt.promote.policy import SIGNAL_COLUMNS, SignalPolicy, order_prices

__all__ = ["SIGNAL_COLUMNS", "Gate", "SignalPolicy", "check_gates", "order_prices"]
