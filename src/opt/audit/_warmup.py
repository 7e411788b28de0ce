"""Warm-up measurement (recursive analysis): how many bars each state needs before it is settled.

For each start offset s the pipeline is rebuilt on ``bars[s:]`` (the data as if it started s bars
later) with ``events.warmup_bars=0`` and compared with the full history at the same bars. The warm-up
of a state for that start is the number of bars after the start until it agrees and keeps agreeing
(:func:`settled_after`); the table keeps the maximum over the offsets.

Agreement (``audit.warmup_tolerance`` = ``rtol``):

- per-bar levels and ATRs: ``|late - full| <= rtol x |full|``; a late value that is NaN (not known
  yet) agrees, since no event uses an unknown level or ATR; a late value where the full history has
  NaN does not;
- ``events``: an event (bar, level) in one build only, or a different ``entry_bar``, ``side``,
  ``level_price`` or ``atr``, is a disagreement at its bar; ``labels``: a different label;
- features (built-in and ``custom_*``): the feature rows of the events of both builds (features have no
  NaN: an undefined value is 0, which differs from the settled value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.audit._states import Built, build
from opt.levels import LEVEL_TYPES

__all__ = ["WarmupRow", "measure_warmup", "settled_after"]


@dataclass(frozen=True)
class WarmupRow:
    """The measured warm-up of one state.

    Attributes:
        state: state name (``onh``, ``vwap_weekly``, ``atr_15m``, ``events``, ``labels``, a feature).
        kind: ``level``, ``ATR``, ``events``, ``labels`` or ``feature``.
        bars: bars needed after the start, max over the offsets.
        offset: the start offset that needed them (None when no offset needed any).
        used: whether events or orders of this config read the state (a level whose type is off does not).
        never: it still differs at the last bar (or event) for that offset: it depends on where the data
            starts and never settles (e.g. a running count from the first bar).
    """

    state: str
    kind: str
    bars: int
    offset: int | None
    used: bool
    never: bool = False

    def covered(self, warmup_bars: int) -> bool:
        """Whether ``events.warmup_bars`` covers it (an unused state always is)."""
        return not self.used or (not self.never and self.bars <= warmup_bars)

    def to_dict(self, warmup_bars: int) -> dict[str, Any]:
        """JSON-ready fields plus ``covered``."""
        return {**asdict(self), "covered": self.covered(warmup_bars)}


def settled_after(full: np.ndarray, late: np.ndarray, *, rtol: float, unknown_ok: bool = True) -> int:
    """Bars after the start until ``late`` agrees with ``full`` and keeps agreeing.

    Args:
        full: float ``(m,)``, the state from the full history at the late data's bars.
        late: float ``(m,)``, the state computed from the late start.
        rtol: relative tolerance, ``|late - full| <= rtol x |full|``.
        unknown_ok: a NaN ``late`` value (not known yet) agrees (NaN vs NaN always does).

    Returns:
        ``k`` such that rows ``>= k`` all agree: 0 when every row does; ``m`` when the last does not.

    Raises:
        ValueError: if the shapes differ.
    """
    full, late = np.asarray(full, dtype=np.float64), np.asarray(late, dtype=np.float64)
    if full.shape != late.shape:
        raise ValueError(f"full {full.shape} and late {late.shape} differ in shape")
    with np.errstate(invalid="ignore"):
        ok = (np.isnan(full) & np.isnan(late)) | (np.abs(late - full) <= rtol * np.abs(full))
    if unknown_ok:
        ok |= np.isnan(late)
    bad = np.flatnonzero(~ok)
    return int(bad[-1]) + 1 if bad.size else 0


def _event_warmups(full: Built, late: Built, s: int, *, rtol: float) -> dict[tuple[str, str], tuple[int, bool]]:
    """Warm-up of ``events``, ``labels`` and every feature column for the start offset ``s``: (bars, never)."""
    f = full.ds.events
    keep = f["bar"].to_numpy() >= s
    left = pd.DataFrame({"bar": f["bar"].to_numpy()[keep] - s, "level_name": f["level_name"].to_numpy()[keep],
                         "i_full": np.flatnonzero(keep)})
    right = pd.DataFrame({"bar": late.ds.events["bar"].to_numpy(), "level_name": late.ds.events["level_name"],
                          "i_late": np.arange(len(late.ds))})
    m = left.merge(right, on=["bar", "level_name"], how="outer", sort=True)
    lone = m["i_full"].isna() | m["i_late"].isna()
    both = m[~lone]
    i_f, i_l = both["i_full"].to_numpy(np.int64), both["i_late"].to_numpy(np.int64)
    rel = both["bar"].to_numpy(np.int64)
    event_bad = m.loc[lone, "bar"].to_numpy(np.int64)
    for col in ("entry_bar", "side", "level_price", "atr"):
        a = f[col].to_numpy(np.float64)[i_f] - (s if col == "entry_bar" else 0)
        b = late.ds.events[col].to_numpy(np.float64)[i_l]
        with np.errstate(invalid="ignore"):
            event_bad = np.r_[event_bad, rel[~(np.abs(b - a) <= rtol * np.abs(a))]]
    labels_bad = rel[f["label"].to_numpy()[i_f] != late.ds.events["label"].to_numpy()[i_l]]
    last = int(m["bar"].max()) if len(m) else -1

    def worst(bad: np.ndarray) -> tuple[int, bool]:
        return (int(bad.max()) + 1, int(bad.max()) == last) if bad.size else (0, False)

    out = {("events", "events"): worst(event_bad), ("labels", "labels"): worst(labels_bad)}
    for col in full.ds.features.columns:
        a = full.ds.features[col].to_numpy()[i_f]
        b = late.ds.features[col].to_numpy()[i_l]
        k = settled_after(a, b, rtol=rtol, unknown_ok=False)
        out[("feature", str(col))] = (int(rel[k - 1]) + 1, k == rel.shape[0]) if k else (0, False)
    return out


def measure_warmup(bars: pd.DataFrame, cfg: DictConfig, *, offsets: Sequence[int], timeframes: Sequence[int],
                   rtol: float) -> tuple[list[WarmupRow], list[int]]:
    """Measure the warm-up of every state over the start ``offsets`` (module docstring).

    Args:
        bars: the validated 1-minute bars ``(n,)``, RangeIndex.
        cfg: the composed config (``events.warmup_bars`` is set to 0 for the measurement).
        offsets: start offsets, bars dropped; offsets that leave fewer than 2 bars are skipped.
        timeframes: bracket ATR timeframes to measure, minutes.
        rtol: ``audit.warmup_tolerance``.

    Returns:
        ``(rows, offsets used)``: one :class:`WarmupRow` per level, ATR, ``events``, ``labels`` and feature
        column, in that order.

    Raises:
        ConfigError: an invalid config value or custom feature.
    """
    cfg0 = _no_warmup(cfg)
    full = build(bars, cfg0, timeframes=timeframes, keep_unlabelled=False)
    used_types = {t for t in LEVEL_TYPES if bool(OmegaConf.select(cfg, f"levels.use.{t}"))}
    per_bar = {n: st for n, st in full.states.items() if st.kind in ("level", "ATR")}
    kinds = {n: st.kind for n, st in per_bar.items()}
    used = {n: (kinds[n] != "level" or full.ctx.levels.types[full.ctx.levels.names.index(n)] in used_types)
            for n in per_bar}
    best: dict[tuple[str, str], tuple[int, int | None, bool]] = {}

    def note(key: tuple[str, str], bars_needed: int, never: bool, s: int) -> None:
        old = best.get(key, (0, None, False))
        if (never, bars_needed) > (old[2], old[0]):
            best[key] = (bars_needed, s if bars_needed > 0 else None, never)

    done: list[int] = []
    for s in sorted({int(x) for x in offsets}):
        if len(bars) - s < 2:
            continue
        late = build(bars.iloc[s:], cfg0, timeframes=timeframes, keep_unlabelled=False)
        for name, (kind, values) in per_bar.items():
            k = settled_after(values[s:], late.states[name].values, rtol=rtol)
            note((kind, name), k, k == late.ctx.n_bars, s)
        for key, (k, never) in _event_warmups(full, late, s, rtol=rtol).items():
            note(key, k, never, s)
        done.append(s)

    def row(kind: str, name: str) -> WarmupRow:
        bars_needed, offset, never = best.get((kind, name), (0, None, False))
        return WarmupRow(state=name, kind=kind, bars=bars_needed, offset=offset, used=used.get(name, True),
                         never=never)

    keys = [*((k, n) for n, k in kinds.items()), ("events", "events"), ("labels", "labels"),
            *(("feature", str(c)) for c in full.ds.features.columns)]
    rows = [row(kind, name) for kind, name in keys]
    return rows, done


def _no_warmup(cfg: DictConfig) -> DictConfig:
    """``cfg`` with ``events.warmup_bars=0`` (a copy)."""
    out = cfg.copy()
    OmegaConf.set_struct(out, False)
    out.events.warmup_bars = 0
    return out
