"""Grad-CAM of the 1D CNN over its input window: which bars and channels drove its most confident calls.

For the ``top_n`` most confident calls of each call class (BREAK, BOUNCE; a call as in
:mod:`opt.metrics.per_class`: argmax class with ``P >= confidence``) the fitted net is attributed to
that class's logit with captum (N. Kokhlikyan et al., *Captum: A unified and generic model
interpretability library for PyTorch*, 2020):

- ``cam``: Grad-CAM (R. R. Selvaraju et al., *Grad-CAM: Visual Explanations from Deep Networks via
  Gradient-based Localization*, ICCV 2017; :class:`captum.attr.LayerGradCam`) on the last
  ``Conv1d`` of the net: ``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the time-mean gradient of the
  logit with respect to that layer's feature map ``A_k``, upsampled (nearest) from the layer's length
  to the window's ``length`` bars; one row per attributed event;
- ``attribution``: the mean over those events of ``|Guided Grad-CAM|`` (:class:`captum.attr.GuidedGradCam`:
  Grad-CAM upsampled to the input times guided backpropagation), which resolves the bars by input
  channel (5 per timeframe, :mod:`opt.models.windows`);
- ``window``: the mean input window of those events (z-scored channels).

When a class has no call at ``confidence`` in the span, its most probable events are attributed
instead (``from_calls`` is False), so every CNN span has a picture of both classes. The window's bars
are aligned by position, not by clock: column ``length - 1`` is the block ending at the touch bar on
every timeframe, column ``j`` the block ``length - 1 - j`` blocks of that timeframe earlier.

Only the CNN has this (:func:`cnn_members` finds it inside a :class:`~opt.models.KNNBlend` or an
:class:`~opt.models.AveragedClassifier`, whose members' attributions are averaged); for any other model
:func:`gradcam_maps` returns an empty dict. Cost on CPU: two backward passes over ``2 x top_n`` windows,
a few milliseconds per span. This module imports torch and captum only inside its functions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from opt.models.base import Classifier, ModelData
from opt.models.ensemble import AveragedClassifier
from opt.models.knn_blend import KNNBlend
from opt.schema import BOUNCE, BREAK, CLASS_NAMES, N_CLASSES

if TYPE_CHECKING:
    from opt.models.cnn import CNNClassifier

__all__ = ["GRADCAM_TOP", "CHANNEL_FIELDS", "GradCamMap", "channel_names", "cnn_members", "gradcam_maps",
           "top_events"]

GRADCAM_TOP = 3
"""Calls attributed per class and span by default (the most confident ones)."""
CHANNEL_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
"""The 5 channels of each timeframe, in order (:mod:`opt.models.windows`: log ratios to the previous close
and log1p volume)."""


@dataclass(frozen=True)
class GradCamMap:
    """Grad-CAM of one call class over one span's most confident calls (module docstring).

    Attributes:
        call: class code (BREAK=0, BOUNCE=1).
        events: int64 ``(k,)`` positions, in the span's event arrays, of the attributed events, most
            confident first (``k <= top_n``; 0 when the span has no events).
        proba: float64 ``(k,)`` their probability of ``call``.
        labels: int64 ``(k,)`` their labels (BREAK=0, BOUNCE=1, CHOP=2).
        from_calls: True when the events are calls at the confidence, False when there was none and the
            most probable events were taken.
        cam: float64 ``(k, length)`` Grad-CAM (>= 0) of the last conv layer over the window's bars.
        attribution: float64 ``(n_channels, length)`` mean ``|Guided Grad-CAM|`` over the events.
        window: float64 ``(n_channels, length)`` mean input window over the events.
        channels: ``n_channels`` names, e.g. ``"5m close"``.
    """

    call: int
    events: np.ndarray
    proba: np.ndarray
    labels: np.ndarray
    from_calls: bool
    cam: np.ndarray
    attribution: np.ndarray
    window: np.ndarray
    channels: tuple[str, ...]

    @property
    def name(self) -> str:
        """The call class in lower case (``break``, ``bounce``): the artifact's file name part."""
        return CLASS_NAMES[self.call].lower()


def channel_names(timeframes: Sequence[int]) -> tuple[str, ...]:
    """Names of the window channels, grouped by timeframe: ``("1m open", ..., "5m volume", ...)``."""
    return tuple(f"{m}m {f}" for m in timeframes for f in CHANNEL_FIELDS)


def cnn_members(model: Classifier) -> list[CNNClassifier]:
    """The fitted CNNs inside ``model``: itself, a :class:`KNNBlend`'s base, an average's members.

    Returns:
        The :class:`~opt.models.cnn.CNNClassifier` objects found (empty for XGBoost).
    """
    if isinstance(model, KNNBlend):
        return cnn_members(model.base)
    if isinstance(model, AveragedClassifier):
        return [c for m in model.members for c in cnn_members(m)]
    from opt.models.cnn import CNNClassifier

    return [model] if isinstance(model, CNNClassifier) and model.net is not None else []


def top_events(proba: np.ndarray, call: int, *, confidence: float, top_n: int) -> tuple[np.ndarray, bool]:
    """The ``top_n`` most confident calls of class ``call`` (module docstring), most confident first.

    Args:
        proba: float ``(n, 3)`` class probabilities.
        call: class code.
        confidence: minimum probability of a call.
        top_n: most events returned (>= 1).

    Returns:
        (int64 positions, True) when there are calls; else (the ``top_n`` events of largest ``P(call)``,
        False). Ties go to the earlier event.

    Raises:
        ValueError: ``proba`` not ``(n, 3)``, ``call`` not a class code or ``top_n < 1``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != N_CLASSES:
        raise ValueError(f"proba must have shape (n, {N_CLASSES}), got {proba.shape}")
    if call not in range(N_CLASSES) or top_n < 1:
        raise ValueError(f"call must be a class code 0..{N_CLASSES - 1} and top_n >= 1; got {call}, {top_n}")
    p = proba[:, call]
    called = np.flatnonzero((np.argmax(proba, axis=1) == call) & (p >= confidence)) if len(p) else np.empty(0, int)
    pool, from_calls = (called, True) if called.size else (np.arange(len(p)), False)
    order = np.lexsort((pool, -p[pool]))  # confidence down, then event order
    return pool[order][:top_n].astype(np.int64), from_calls


def gradcam_maps(model: Classifier, data: ModelData, proba: np.ndarray, y: np.ndarray, *, confidence: float,
                 top_n: int = GRADCAM_TOP, calls: Sequence[int] = (BREAK, BOUNCE)) -> dict[str, GradCamMap]:
    """Grad-CAM of ``model``'s CNN(s) for the most confident calls of each class in ``calls``.

    Args:
        model: a fitted classifier (the trial's, possibly a kNN blend or an average of fold models).
        data: the span's model input (``ohlcv`` and ``bar_index`` are read).
        proba: float ``(n, 3)`` the model's probabilities of the span's events (ranks the calls).
        y: int ``(n,)`` the events' labels (recorded with the map).
        confidence: minimum probability of a call (``bracket.confidence``).
        top_n: calls attributed per class.
        calls: the classes drawn.

    Returns:
        ``{class name: GradCamMap}`` per class in ``calls``; empty when ``model`` holds no CNN or the
        span has no event.

    Raises:
        ValueError: shapes that disagree, or as :func:`top_events`.
    """
    nets = cnn_members(model)
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if not nets or not len(proba):
        return {}
    if len(y) != len(proba) or len(data) != len(proba):
        raise ValueError(f"proba ({len(proba)}), y ({len(y)}) and data ({len(data)}) must have one row per event")
    if data.ohlcv is None:
        raise ValueError("gradcam_maps needs ModelData.ohlcv (the market bars) to build the windows")
    from opt.models.windows import extract_windows

    p = nets[0].params
    out: dict[str, GradCamMap] = {}
    for call in calls:
        idx, from_calls = top_events(proba, call, confidence=confidence, top_n=top_n)
        x = extract_windows(data.ohlcv, data.bar_index[idx], length=p.window_length, timeframes=p.timeframes)
        parts = [_attribute(net, x, call) for net in nets]
        cam = np.mean([c for c, _ in parts], axis=0)
        guided = np.mean([g for _, g in parts], axis=0)
        m = GradCamMap(call=int(call), events=idx, proba=proba[idx, call], labels=y[idx], from_calls=from_calls,
                       cam=cam, attribution=np.abs(guided).mean(axis=0), window=x.astype(np.float64).mean(axis=0),
                       channels=channel_names(p.timeframes))
        out[m.name] = m
    return out


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's CPU thread count set to ``n`` (the model's ``num_threads``), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _attribute(cnn: CNNClassifier, x: np.ndarray, call: int) -> tuple[np.ndarray, np.ndarray]:
    """(Grad-CAM ``(k, length)``, Guided Grad-CAM ``(k, channels, length)``) of one CNN for class ``call``."""
    import torch
    from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam

    net: Any = cnn.net
    device = str(cnn.device)
    layer = _last_conv_activation(net)
    net.eval()
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    with _threads(cnn.params.num_threads), torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum notes that it hooks the ReLU modules for guided backprop
        cam = LayerGradCam(net, layer).attribute(inputs, target=int(call), relu_attributions=True)
        cam = LayerAttribution.interpolate(cam, (x.shape[-1],), interpolate_mode="nearest")
        guided = GuidedGradCam(net, layer).attribute(inputs, target=int(call))
    return (cam[:, 0].detach().cpu().numpy().astype(np.float64),
            guided.detach().cpu().numpy().astype(np.float64))


def _last_conv_activation(net: Any) -> Any:
    """The ``ReLU`` module right after the last ``Conv1d`` (and its BatchNorm) in ``net.body``.

    Raises:
        ValueError: the net has no Conv1d followed by a ReLU.
    """
    from torch import nn

    modules = list(net.body)
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv1d)]
    relus = [m for m in modules[convs[-1]:] if isinstance(m, nn.ReLU)] if convs else []
    if not relus:
        raise ValueError("the CNN has no Conv1d followed by a ReLU to attribute")
    return relus[0]
