"""A small 1D CNN (PyTorch) on causal multi-timeframe bar windows (see :mod:`opt.models.windows`).

Architecture: ``depth`` blocks of Conv1d(``kernel_size``, ``channels`` filters, same padding) ->
BatchNorm -> ReLU -> MaxPool(2) (while the sequence is >= 4 long) -> Dropout, then global mean and max
pooling over time, concatenated, -> Linear(3 logits). Trained with AdamW and cross-entropy (class
weights per ``class_weight``); a class missing from the training labels keeps its logit and is learned
towards ~0 probability.

Reproducibility: ``torch.manual_seed(seed)`` plus a private ``torch.Generator`` for batch order. On CPU,
``fit``/``predict_proba`` run with ``torch.use_deterministic_algorithms(True)`` and
``torch.set_num_threads(num_threads)`` (both process-wide, restored on exit), so the same seed and
thread count give bit-identical probabilities. On CUDA, training uses ``torch.autocast`` (float16 with
a gradient scaler) and is not guaranteed bit-identical.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from opt.config_rules import cfg_value
from opt.models.base import (
    N_CLASSES,
    Capacity,
    ModelData,
    ReportFn,
    check_labels,
    check_ranges,
    class_weights,
)
from opt.models.device import resolve_device
from opt.models.windows import CHANNELS_PER_TIMEFRAME, extract_windows, parse_timeframes

__all__ = ["CNNParams", "CNNClassifier"]

_PREDICT_BATCH = 2048  # events per inference batch (memory only; does not change results)


@dataclass(frozen=True)
class CNNParams:
    """Hyperparameters from ``conf/model/cnn.yaml`` (see that file for units and ranges)."""

    window_length: int
    timeframes: tuple[int, ...]
    channels: int
    kernel_size: int
    depth: int
    dropout: float
    learning_rate: float
    weight_decay: float
    epochs: int
    batch_size: int
    early_stopping_patience: int
    class_weight: str
    device: str
    num_threads: int

    def __post_init__(self) -> None:
        checks = {
            "window_length": self.window_length >= 2,
            "channels": self.channels >= 1,
            "kernel_size": self.kernel_size >= 1,
            "depth": self.depth >= 1,
            "dropout": 0 <= self.dropout < 1,
            "learning_rate": self.learning_rate > 0,
            "weight_decay": self.weight_decay >= 0,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 2,
            "early_stopping_patience": self.early_stopping_patience >= 1,
            "class_weight": self.class_weight in ("balanced", "none"),
            "num_threads": self.num_threads >= 1,
        }
        check_ranges(self, checks)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> CNNParams:
        """Read the ``model`` config group (``name: cnn``).

        Raises:
            ConfigError: if a key is missing or out of range.
        """
        return cls(
            window_length=int(cfg_value(cfg, "window_length", where="model")),
            timeframes=parse_timeframes(cfg_value(cfg, "timeframes", where="model")),
            channels=int(cfg_value(cfg, "channels", where="model")),
            kernel_size=int(cfg_value(cfg, "kernel_size", where="model")),
            depth=int(cfg_value(cfg, "depth", where="model")),
            dropout=float(cfg_value(cfg, "dropout", where="model")),
            learning_rate=float(cfg_value(cfg, "learning_rate", where="model")),
            weight_decay=float(cfg_value(cfg, "weight_decay", where="model")),
            epochs=int(cfg_value(cfg, "epochs", where="model")),
            batch_size=int(cfg_value(cfg, "batch_size", where="model")),
            early_stopping_patience=int(cfg_value(cfg, "early_stopping_patience", where="model")),
            class_weight=str(cfg_value(cfg, "class_weight", where="model")),
            device=str(cfg_value(cfg, "device", where="model")),
            num_threads=int(cfg_value(cfg, "num_threads", where="model")),
        )


class _Net(nn.Module):
    """Conv blocks -> global mean+max pooling -> linear head; input ``(batch, in_channels, length)``."""

    def __init__(self, in_channels: int, p: CNNParams) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width, length = in_channels, p.window_length
        for _ in range(p.depth):
            layers += [
                nn.Conv1d(width, p.channels, p.kernel_size, padding="same"),
                nn.BatchNorm1d(p.channels),
                nn.ReLU(),
            ]
            if length >= 4:
                layers.append(nn.MaxPool1d(2))
                length //= 2
            layers.append(nn.Dropout(p.dropout))
            width = p.channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * p.channels, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return self.head(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1))


@contextlib.contextmanager
def _torch_settings(device: str, num_threads: int) -> Iterator[None]:
    """On CPU: fixed thread count and deterministic algorithms, restored afterwards."""
    if device != "cpu":
        yield
        return
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


class CNNClassifier:
    """1D CNN over bar windows of each event (reads ``ModelData.ohlcv``/``bar_index``, not ``features``).

    Early stopping: after each epoch with ``valid`` given, the validation cross-entropy (same class
    weights as training) is computed; training stops after ``early_stopping_patience`` epochs without a
    new minimum and the weights of the best epoch are restored. ``report(epoch, -valid_loss)`` is called
    once per epoch (1-based; higher is better) when ``valid`` is given; whatever it raises propagates.
    Without ``valid`` all ``epochs`` are trained and ``report`` is not called.

    Args:
        params: hyperparameters.
        seed: random seed (weights init, dropout, batch order).
    """

    def __init__(self, params: CNNParams, *, seed: int) -> None:
        self.params = params
        self.seed = int(seed)
        self.net: _Net | None = None
        self.device: str | None = None
        self.history: list[float] = []  # validation loss per epoch
        self.best_epoch = 0  # the epoch whose weights the net keeps (set by fit)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, seed: int) -> CNNClassifier:
        """Build from the ``model`` config group; see :meth:`CNNParams.from_config`."""
        return cls(CNNParams.from_config(cfg), seed=seed)

    @classmethod
    def from_params(cls, *, seed: int, **hyperparameters: Any) -> CNNClassifier:
        """The ``_target_`` of ``conf/model``: build from keyword hyperparameters (:meth:`CNNParams.from_config`).

        Raises:
            ConfigError: a hyperparameter missing or out of range.
        """
        return cls(CNNParams.from_config(hyperparameters), seed=seed)

    def _windows(self, data: ModelData) -> np.ndarray:
        if data.ohlcv is None:
            raise ValueError("CNNClassifier needs ModelData.ohlcv (the market bars) to build its windows")
        p = self.params
        return extract_windows(data.ohlcv, data.bar_index, length=p.window_length, timeframes=p.timeframes)

    def fit(
        self,
        train: ModelData,
        y: np.ndarray,
        *,
        valid: ModelData | None = None,
        y_valid: np.ndarray | None = None,
        report: ReportFn | None = None,
    ) -> CNNClassifier:
        """Train on windows of ``train``; see the class docstring.

        Raises:
            ValueError: on label shape/values, missing ``ohlcv``, or ``valid`` without ``y_valid``.
            ConfigError: if ``model.device=cuda`` and no CUDA device is visible.
            Exception: whatever ``report`` raises (e.g. ``optuna.TrialPruned``) propagates.
        """
        p = self.params
        y = check_labels(y, len(train))
        if valid is not None and y_valid is None:
            raise ValueError("y_valid is required when valid is given")
        device = resolve_device(p.device)
        weights = class_weights(y, p.class_weight)
        x_train = torch.from_numpy(self._windows(train))
        y_train = torch.from_numpy(y)
        val = None
        if valid is not None and y_valid is not None and len(valid):
            yv = check_labels(y_valid, len(valid), what="y_valid")
            val = (torch.from_numpy(self._windows(valid)), torch.from_numpy(yv))
        with _torch_settings(device, p.num_threads):
            torch.manual_seed(self.seed)
            net = _Net(CHANNELS_PER_TIMEFRAME * len(p.timeframes), p).to(device)
            weight = None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)
            loss_fn = nn.CrossEntropyLoss(weight=weight)
            self.net, self.device, self.history = net, device, []
            self._train(net, loss_fn, x_train, y_train, val, report)
        return self

    def _train(
        self,
        net: _Net,
        loss_fn: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        val: tuple[torch.Tensor, torch.Tensor] | None,
        report: ReportFn | None,
    ) -> None:
        p, device = self.params, str(self.device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)
        use_amp = device == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        generator = torch.Generator().manual_seed(self.seed)
        x, y = x.to(device), y.to(device)
        best_loss, best_state, stale = float("inf"), None, 0
        self.best_epoch = p.epochs  # without a validation set every epoch is kept
        for epoch in range(1, p.epochs + 1):
            net.train()
            order = torch.randperm(len(x), generator=generator).to(device)
            for start in range(0, len(x), p.batch_size):
                idx = order[start : start + p.batch_size]
                if len(idx) < 2:  # BatchNorm cannot train on a single event
                    continue
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                    logits = net(x[idx])
                loss = loss_fn(logits.float(), y[idx])
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            if val is None:
                continue
            val_loss = self._loss(net, loss_fn, *val)
            self.history.append(val_loss)
            if val_loss < best_loss:
                best_loss, best_state, stale = val_loss, copy.deepcopy(net.state_dict()), 0
                self.best_epoch = epoch
            else:
                stale += 1
            if report is not None:
                report(epoch, -val_loss)
            if stale >= p.early_stopping_patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    def _logits(self, net: _Net, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits ``(n, 3)`` float32 on the model device, in batches."""
        device = str(self.device)
        net.eval()
        out = []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=device == "cuda"):
            for start in range(0, len(x), _PREDICT_BATCH):
                out.append(net(x[start : start + _PREDICT_BATCH].to(device)).float())
        return torch.cat(out) if out else torch.empty((0, N_CLASSES), device=device)

    def _loss(self, net: _Net, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        return float(loss_fn(self._logits(net, x), y.to(str(self.device))).item())

    def trained_capacity(self) -> Capacity:
        """The epochs the fitted net kept: the best validation epoch (all epochs without validation).

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self.net is None:
            raise RuntimeError("CNNClassifier.trained_capacity called before fit()")
        return Capacity(key="epochs", unit="epochs", value=int(self.best_epoch))

    def predict_proba(self, data: ModelData) -> np.ndarray:
        """Return ``(n_events, 3)`` float64 softmax probabilities.

        Raises:
            RuntimeError: if called before :meth:`fit`.
        """
        if self.net is None or self.device is None:
            raise RuntimeError("CNNClassifier.predict_proba called before fit()")
        x = torch.from_numpy(self._windows(data))
        with _torch_settings(self.device, self.params.num_threads):
            proba = torch.softmax(self._logits(self.net, x), dim=1).cpu().numpy().astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)
