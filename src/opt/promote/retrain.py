"""Retrain the promoted configuration on the whole search part and evaluate it once on the test part.

The market context and the event dataset are built on ALL bars: every level, ATR and feature at bar t
reads bars <= t only, so the search-part rows equal those the search computed. With ``h`` the first
test bar (:func:`opt.evaluation.holdout_split`, ``split.test_fraction``) and ``e`` =
``split.embargo_bars`` (purging and embargo as in M. Lopez de Prado, *Advances in Financial Machine
Learning*, 2018, ch. 7):

- train: events whose label window ends before the test part (``label_end_bar < h``);
- test: events with ``bar >= h + e`` (their label windows end inside the data).

The champion is trained the way the walk-forward validated it (``promote.retrain``):

- ``folds`` (default): the walk-forward folds are refitted exactly as the stage-2 trial fitted them
  (inner validation, early stopping); the champion is fitted on the whole search part with the median
  of the folds' trained capacity (XGBoost: boosting rounds kept; CNN: best epochs) and no new
  early-stopping tail. A new tail can be dominated by a handful of events (on ES, XGBoost stopped after
  one tree while the folds kept 10-142 rounds).
- ``ensemble``: the fold models themselves, their probabilities averaged.
- ``early_stopping``: one fit on the search part with a new inner validation tail (the old behaviour).

The test part is scored, traded and measured with :func:`opt.backtest.evaluate_span`, trades allowed
until the last bar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig, OmegaConf

from opt.backtest import SpanResult, atr_on, evaluate_span
from opt.backtest.evaluate import MIN_FOLD_TRAIN_EVENTS
from opt.data import data_fingerprint, load_bars_from_config
from opt.dataset import EventDataset, MarketContext, build_context, build_event_dataset
from opt.errors import ConfigError, StageError
from opt.evaluation import Fold, holdout_split, walk_forward_folds
from opt.models import AveragedClassifier, Capacity, Classifier, trained_capacity
from opt.models.fitting import fit_model

__all__ = ["MIN_TRAIN_EVENTS", "Retrained", "retrain", "walk_forward_days"]

log = logging.getLogger(__name__)

RETRAIN_MODES = ("folds", "ensemble", "early_stopping")
"""``promote.retrain`` choices (module docstring)."""

MIN_TRAIN_EVENTS = MIN_FOLD_TRAIN_EVENTS
"""Fewest training events (the stage-2 walk-forward skips folds with fewer)."""


@dataclass
class Retrained:
    """The retrained model and its single evaluation on the test part.

    Attributes:
        cfg: the promoted configuration.
        ctx: market context of all bars.
        ds: event dataset of all bars (labelled events only).
        model: classifier fitted on ``train``.
        atr: float64 ``(n_bars,)`` ATR of ``bracket.atr_timeframe``-minute bars, points.
        train: positions in ``ds`` of the training events.
        test: positions in ``ds`` of the test events.
        test_start: first bar of the test part.
        fingerprint: :func:`opt.data.data_fingerprint` of all bars.
        result: metrics, trades and probabilities of the test part.
        mode: ``promote.retrain``.
        capacity: what the champion trained (None for the fold ensemble).
        fold_capacities: what each walk-forward fold model trained (rounds or epochs), in fold order.
    """

    cfg: DictConfig
    ctx: MarketContext
    ds: EventDataset
    model: Classifier
    atr: np.ndarray
    train: np.ndarray
    test: np.ndarray
    test_start: int
    fingerprint: str
    result: SpanResult
    mode: str = "early_stopping"
    capacity: Capacity | None = None
    fold_capacities: tuple[int, ...] = ()

    @property
    def test_days(self) -> np.ndarray:
        """Trading days of the test part (int64 day codes, ascending)."""
        return np.unique(self.ctx.calendar.trading_day[self.test_start:])


def retrain(cfg: DictConfig, *, expected_fingerprint: str | None = None) -> Retrained:
    """Load the data, retrain on the search part, evaluate once on the test part (module docstring).

    Args:
        cfg: the promoted configuration (:func:`opt.promote.study.trial_config`).
        expected_fingerprint: :func:`opt.data.data_fingerprint` of the data the study searched; None
            skips the check.

    Raises:
        DataError, ConfigError: bad data or config.
        StageError: data other than the study's, too few training events or no test event.
    """
    bars = load_bars_from_config(cfg)
    fingerprint = data_fingerprint(bars)
    if expected_fingerprint is not None and fingerprint != expected_fingerprint:
        raise StageError(
            f"these bars are not the data study '{cfg.search.study_name}' searched (fingerprint {fingerprint} != "
            f"{expected_fingerprint}): pass the same data=... overrides as for the search")
    ctx = build_context(bars, cfg)
    test_start = holdout_split(bars["timestamp"].to_numpy(), ctx.calendar.trading_day,
                               test_fraction=float(cfg.split.test_fraction))
    if test_start >= ctx.n_bars:
        raise StageError("split.test_fraction=0 leaves no held-out test part to promote on")
    ds = build_event_dataset(ctx, cfg)
    bar = ds.events["bar"].to_numpy(np.int64)
    label_end = ds.events["label_end_bar"].to_numpy(np.int64)
    train = np.flatnonzero(label_end < test_start)
    test = np.flatnonzero(bar >= test_start + int(cfg.split.embargo_bars))
    if len(train) < MIN_TRAIN_EVENTS or len(test) == 0:
        raise StageError(f"{len(train)} training events (need {MIN_TRAIN_EVENTS}) and {len(test)} test events: "
                         "too little data to promote on")
    log.info("promote: %d bars, test part from bar %d (%s); %d training and %d test events", ctx.n_bars,
             test_start, bars["timestamp"].iloc[test_start], len(train), len(test))
    mode = str(cfg.promote.retrain)
    if mode not in RETRAIN_MODES:
        raise ConfigError(f"promote.retrain={mode!r} is not one of {list(RETRAIN_MODES)}")
    fold_models: list[Classifier] = []
    if mode in ("folds", "ensemble"):
        fold_models = [fit_model(cfg, ds, ctx, f.train) for f in _search_folds(cfg, ds, test_start)
                       if len(f.train) >= MIN_TRAIN_EVENTS]
        if not fold_models:
            raise StageError(f"no walk-forward fold has {MIN_TRAIN_EVENTS} training events to retrain like")
    capacities = tuple(c.value for c in (trained_capacity(m) for m in fold_models) if c is not None)
    if mode == "ensemble":
        model: Classifier = AveragedClassifier(fold_models)
    elif mode == "folds" and capacities:
        key = trained_capacity(fold_models[0])
        assert key is not None
        n = max(1, int(round(float(np.median(capacities)))))
        sized = cfg.copy()
        OmegaConf.update(sized, f"model.{key.key}", n, merge=False)
        model = fit_model(sized, ds, ctx, train, early_stopping=False)
        log.info("promote: retrained with the folds' median capacity: %d %s (folds: %s)", n, key.unit,
                 ", ".join(map(str, capacities)))
    else:
        model = fit_model(cfg, ds, ctx, train)
    atr = atr_on({}, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
    result = evaluate_span(cfg, ds, ctx, atr, model, test, test_start, ctx.n_bars)
    return Retrained(cfg=cfg, ctx=ctx, ds=ds, model=model, atr=atr, train=train, test=test, test_start=test_start,
                     fingerprint=fingerprint, result=result, mode=mode, capacity=trained_capacity(model),
                     fold_capacities=capacities)


def _search_folds(cfg: DictConfig, ds: EventDataset, test_start: int) -> list[Fold]:
    """The stage-2 walk-forward folds of the search-part events (``label_end_bar < test_start``)."""
    search = ds.events["label_end_bar"].to_numpy(np.int64) < test_start
    positions = np.flatnonzero(search)
    folds = walk_forward_folds(
        ds.events["bar"].to_numpy(np.int64)[search], ds.events["label_end_bar"].to_numpy(np.int64)[search],
        test_start, n_folds=int(cfg.split.n_folds), min_train_fraction=float(cfg.split.min_train_fraction),
        embargo_bars=int(cfg.split.embargo_bars))
    return [Fold(index=f.index, train=positions[f.train], eval=positions[f.eval], eval_start_bar=f.eval_start_bar,
                 eval_end_bar=f.eval_end_bar) for f in folds]


def walk_forward_days(r: Retrained) -> np.ndarray:
    """Trading days of the stage-2 walk-forward evaluation windows (as its combined ``sharpe`` counts them).

    The folds are rebuilt from the search-part events (``label_end_bar < test_start``, the events the
    search had) with the promoted ``split`` settings; like :func:`opt.backtest.evaluate_walk_forward`, a
    fold with fewer than :data:`MIN_FOLD_TRAIN_EVENTS` training events or no evaluation event is left out.
    """
    folds = [f for f in _search_folds(r.cfg, r.ds, r.test_start)  # the folds the walk-forward evaluated
             if len(f.train) >= MIN_FOLD_TRAIN_EVENTS and len(f.eval) > 0]
    if not folds:
        return np.empty(0, np.int64)
    days = r.ctx.calendar.trading_day
    return np.unique(np.concatenate([days[f.eval_start_bar:f.eval_end_bar] for f in folds]))
