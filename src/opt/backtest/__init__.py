"""The backtest engine: model calls -> bracket orders -> simulated OCO brackets -> span metrics.

- :mod:`opt.backtest.signals`: confident BREAK/BOUNCE calls into orders (:func:`calls_to_orders`) and
  their live bracket prices (:func:`order_prices`, the simulator's own price function).
- :mod:`opt.backtest.evaluate`: one span (a walk-forward fold or the test part) and the purged
  walk-forward evaluation of a configuration; intermediate values go to a ``report(step, value)``
  callback, so the engine knows nothing of Optuna or studies.
- :mod:`opt.backtest.report`: the equity and drawdown plot and the trial's backtest files.
- :mod:`opt.backtest.insight`: the per-class confusion table and the CNN's Grad-CAM images of a span.

Used by the search stages, by ``promote`` and by the registered policy; it imports data, dataset,
models, brackets and metrics only (never :mod:`opt.search`).
"""

from __future__ import annotations

from opt.backtest.evaluate import (
    EPOCH_STEP_OFFSET,
    SpanResult,
    WalkForwardResult,
    atr_on,
    evaluate_span,
    evaluate_walk_forward,
)
from opt.backtest.signals import calls_to_orders, order_prices

__all__ = ["EPOCH_STEP_OFFSET", "SpanResult", "WalkForwardResult", "atr_on", "calls_to_orders", "evaluate_span",
           "evaluate_walk_forward", "order_prices"]
