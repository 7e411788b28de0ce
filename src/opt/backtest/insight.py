"""What a span's classifier called, and why: the per-class confusion table and the CNN's Grad-CAM images.

- :func:`span_gradcam`: Grad-CAM maps of a span's most confident BREAK and BOUNCE calls
  (:func:`opt.models.gradcam.gradcam_maps`) when the configured model is the CNN; nothing otherwise, so
  XGBoost runs never import torch for it.
- :func:`write_confusion`: the labels x calls count table (:mod:`opt.metrics.per_class`) as CSV, rows
  ``break, bounce, chop`` (label), columns ``break, bounce, chop, no_call`` (call at the confidence).
- :func:`plot_gradcam` / :func:`write_gradcam`: one PNG per call class, ``gradcam/<prefix>_<class>.png``
  (``fold<k>`` in a stage-2 trial, ``test`` in promote): the Grad-CAM over the window's bars, the mean
  ``|Guided Grad-CAM|`` by channel and bar, and the mean input window of the attributed calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from opt.dataset import EventDataset, MarketContext
from opt.metrics.per_class import confusion_frame
from opt.models import Classifier
from opt.models.gradcam import GRADCAM_TOP, GradCamMap
from opt.schema import CLASS_NAMES

__all__ = ["GRADCAM_FOLDER", "span_gradcam", "write_confusion", "plot_gradcam", "write_gradcam"]

GRADCAM_FOLDER = "gradcam"
"""Artifact sub-folder of the Grad-CAM images."""


def span_gradcam(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, model: Classifier, idx: np.ndarray,
                 proba: np.ndarray, *, top_n: int = GRADCAM_TOP) -> dict[str, GradCamMap]:
    """Grad-CAM maps of the span's events ``idx`` when ``cfg.model.name == "cnn"``, else ``{}``.

    Args:
        cfg: the trial or promoted config (``model.name``, ``bracket.confidence``).
        ds: the event dataset.
        ctx: its market context.
        model: the classifier fitted for the span.
        idx: int64 ``(n,)`` positions in ``ds`` of the span's events.
        proba: float ``(n, 3)`` the model's probabilities of those events.
        top_n: calls attributed per class.

    Returns:
        ``{"break": GradCamMap, "bounce": GradCamMap}`` for a CNN span with events, else ``{}``.
    """
    if str(cfg.model.name) != "cnn":
        return {}
    from opt.models.fitting import model_input
    from opt.models.gradcam import gradcam_maps

    return gradcam_maps(model, model_input(ds, ctx, idx), proba, ds.y[idx],
                        confidence=float(cfg.bracket.confidence), top_n=top_n)


def write_confusion(confusion: np.ndarray, path: Path) -> Path:
    """Write the ``(3, 4)`` labels x calls counts as CSV at ``path`` (module docstring); return ``path``."""
    confusion_frame(confusion).reset_index().to_csv(path, index=False)
    return path


def plot_gradcam(m: GradCamMap, path: Path, title: str = "") -> Path:
    """One call class's Grad-CAM as a PNG at ``path`` (three panels sharing the bar axis); return ``path``.

    x: bars before the touch (0 = the block ending at the touch bar, on every timeframe); top: Grad-CAM
    of each attributed call (thin) and their mean (thick); middle: mean ``|Guided Grad-CAM|``, y = input
    channel; bottom: mean input window (z-scored channels), y = input channel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_ch, length = m.window.shape
    x = np.arange(-length + 1, 1)
    extent = (-length + 0.5, 0.5, n_ch - 0.5, -0.5)
    height = 2.4 + 0.32 * n_ch * 2  # inches; margins below are fixed in inches (no tight_layout: 2x faster)
    fig = plt.figure(figsize=(9, height), dpi=80)
    grid = fig.add_gridspec(3, 2, width_ratios=[40, 1], height_ratios=[1.2, n_ch / 5, n_ch / 5], left=0.11,
                            right=0.93, top=1 - 0.35 / height, bottom=0.6 / height,
                            hspace=0.45 / ((height - 2.0) / 3), wspace=0.03)  # ~0.45 in between panels
    a1 = fig.add_subplot(grid[0, 0])
    a2 = fig.add_subplot(grid[1, 0], sharex=a1)
    a3 = fig.add_subplot(grid[2, 0], sharex=a1)
    for row in m.cam:
        a1.plot(x, row, color="#1f77b4", alpha=0.35, linewidth=0.8)
    a1.plot(x, m.cam.mean(axis=0), color="#1f77b4", linewidth=2.0)
    a1.set_ylabel("Grad-CAM")
    a1.grid(alpha=0.3)
    im2 = a2.imshow(m.attribution, aspect="auto", cmap="viridis", extent=extent, interpolation="nearest")
    fig.colorbar(im2, cax=fig.add_subplot(grid[1, 1]))
    bound = float(np.max(np.abs(m.window))) or 1.0
    im3 = a3.imshow(m.window, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, extent=extent,
                    interpolation="nearest")
    fig.colorbar(im3, cax=fig.add_subplot(grid[2, 1]))
    for ax, what in ((a2, "|guided Grad-CAM|"), (a3, "mean input (z)")):
        ax.set_yticks(range(n_ch), m.channels, fontsize=7)
        ax.set_title(what, fontsize=9, loc="left")
    for ax in (a1, a2):
        ax.tick_params(labelbottom=False)
    a3.set_xlabel("bars before the touch (per timeframe; 0 = block ending at the touch bar)")
    counts = ", ".join(f"{int(np.sum(m.labels == c))} {n.lower()}" for c, n in enumerate(CLASS_NAMES)
                       if np.any(m.labels == c))
    what = "calls" if m.from_calls else "events (no call at the confidence)"
    name = CLASS_NAMES[m.call]
    a1.set_title(f"{title + ': ' if title else ''}{name} {what}, top {len(m.events)} by P({name}) "
                 f"{m.proba.min():.2f}-{m.proba.max():.2f}; labels: {counts}", fontsize=9)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_gradcam(maps: dict[str, GradCamMap], folder: Path, prefix: str, title: str = "") -> list[Path]:
    """Write ``folder/gradcam/<prefix>_<class>.png`` for each map (none, and no folder, for ``{}``)."""
    if not maps:
        return []
    out = folder / GRADCAM_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    return [plot_gradcam(m, out / f"{prefix}_{name}.png", title or prefix) for name, m in maps.items()]

