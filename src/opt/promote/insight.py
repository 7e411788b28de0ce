"""The promoted model's per-class view of the test part: its confusion table and, for a CNN, its Grad-CAM.

Files (logged with the promote run's artifacts by :func:`opt.promote.command.promote_command`):

- ``test_confusion_matrix.csv``: labels (rows ``break, bounce, chop``) x calls at ``bracket.confidence``
  (columns ``break, bounce, chop, no_call``) of the test events (:mod:`opt.metrics.per_class`); the
  ``precision_<c>``, ``recall_<c>``, ``f1_<c>`` metrics of the run are computed from it;
- ``gradcam/test_break.png``, ``gradcam/test_bounce.png``: the Grad-CAM of the test part's most
  confident calls when the champion is the CNN (:mod:`opt.backtest.insight`); none for XGBoost.
"""

from __future__ import annotations

from pathlib import Path

from opt.backtest.insight import span_gradcam, write_confusion, write_gradcam
from opt.promote.retrain import Retrained

__all__ = ["write_test_insight"]


def write_test_insight(folder: Path, r: Retrained) -> list[Path]:
    """Write the test part's confusion table and Grad-CAM images into ``folder``; return the files written."""
    written = [write_confusion(r.result.confusion, folder / "test_confusion_matrix.csv")]
    maps = span_gradcam(r.cfg, r.ds, r.ctx, r.model, r.test, r.result.proba)
    return written + write_gradcam(maps, folder, "test", title="test part")
