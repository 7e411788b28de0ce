"""``python -m opt audit``: look-ahead and warm-up audit of your data, config, custom features and champion.

Reads the bars as ``opt run`` does (``data=...``, :func:`opt.data.load_bars_from_config`; all of them,
the held-out part included) and runs

1. the look-ahead check (:mod:`opt.audit._lookahead`) at ``audit.n_cuts`` seeded cut bars after
   ``events.warmup_bars``: states, events, features (built-in and ``features.custom``), labels and, when
   checked (``audit.champion``), the registered champion's probabilities and signals
   (:mod:`opt.audit._champion`) must not change when the bars after the cut are removed or replaced;
2. the warm-up measurement (:mod:`opt.audit._warmup`) over the start offsets ``audit.offsets``: every
   state the events read must settle within ``events.warmup_bars`` bars.

It prints the differences and a warm-up table, writes ``<paths.experiments>/<search.study_name>/audit.json``
and returns 0 when both pass, :data:`AUDIT_FAILED_EXIT_CODE` otherwise (the last line on stderr names the
first look-ahead column and time, and the ``events.warmup_bars`` the states need).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.audit._champion import Champion, champion_outputs, compare_champion, find_champion
from opt.audit._lookahead import Difference, choose_cuts, compare_built, garbage_after, place
from opt.audit._states import build, format_time
from opt.audit._warmup import WarmupRow, measure_warmup
from opt.config_rules import cfg_value
from opt.events import event_params
from opt.levels import LEVEL_TYPES

__all__ = ["AUDIT_FAILED_EXIT_CODE", "AuditParams", "AuditResult", "audit_command", "audit_params", "run_audit"]

AUDIT_FAILED_EXIT_CODE = 4
"""Exit status of ``audit`` when a look-ahead difference is found or the warm-up is not covered."""

#: differences printed on stdout (all of them go to audit.json)
_PRINTED = 40


@dataclass(frozen=True)
class AuditParams:
    """The ``audit`` config group (``conf/audit/default.yaml``).

    Attributes:
        n_cuts: cut bars of the look-ahead check.
        seed: seed of the cut bars and the replacement bars.
        offsets: start offsets (bars dropped) of the warm-up measurement.
        atr_timeframes: bracket ATR timeframes (minutes) measured besides ``bracket.atr_timeframe``.
        champion: ``auto``, True or False.
        tolerance: float tolerance of the look-ahead check (0 = bit-exact).
        warmup_tolerance: relative tolerance that defines "settled".
    """

    n_cuts: int
    seed: int
    offsets: tuple[int, ...]
    atr_timeframes: tuple[int, ...]
    champion: str | bool
    tolerance: float
    warmup_tolerance: float


def audit_params(cfg: DictConfig) -> AuditParams:
    """Read and check the ``audit`` group (rules ``audit.*`` in :data:`opt.config_rules.RULES`).

    Raises:
        ConfigError: a missing key or a value that breaks its rule, naming the key.
    """
    node = cfg_value(cfg, "audit", where="config")

    def get(key: str) -> Any:
        return cfg_value(node, key, where="audit")

    return AuditParams(n_cuts=get("n_cuts"), seed=get("seed"), offsets=tuple(int(s) for s in get("offsets")),
                       atr_timeframes=tuple(int(m) for m in get("atr_timeframes")), champion=get("champion"),
                       tolerance=get("tolerance"), warmup_tolerance=get("warmup_tolerance"))


@dataclass
class AuditResult:
    """What :func:`run_audit` found.

    Attributes:
        n_bars: bars audited; ``first``/``last`` their times.
        warmup_bars: ``events.warmup_bars``.
        cuts: the cut bars.
        differences: every look-ahead difference (earliest bar per column, comparison and cut).
        warmup: the warm-up table; ``offsets`` the start offsets measured.
        champion: ``models:/...`` and version of the champion checked, or None.
        n_events: events of the full data; ``seconds`` the wall time.
    """

    n_bars: int
    first: str
    last: str
    warmup_bars: int
    cuts: list[int]
    differences: list[Difference]
    warmup: list[WarmupRow]
    offsets: list[int]
    champion: dict[str, str] | None
    n_events: int
    seconds: float = 0.0

    @property
    def uncovered(self) -> list[WarmupRow]:
        """States whose warm-up ``events.warmup_bars`` does not cover, most bars first."""
        rows = [r for r in self.warmup if not r.covered(self.warmup_bars)]
        return sorted(rows, key=lambda r: -r.bars)

    @property
    def passed(self) -> bool:
        """No look-ahead difference and every used state settles within ``events.warmup_bars``."""
        return not self.differences and not self.uncovered

    def columns(self) -> list[dict[str, Any]]:
        """Look-ahead differences per column: kind, column, first time and bar, number of cuts, first message."""
        out: dict[str, dict[str, Any]] = {}
        for d in sorted(self.differences, key=lambda d: (d.bar, d.cut)):
            row = out.setdefault(d.name, {"kind": d.kind, "column": d.column, "bar": d.bar, "time": d.time,
                                          "cuts": set(), "message": d.message()})
            row["cuts"].add(d.cut)
        return [{**r, "cuts": len(r["cuts"])} for r in out.values()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        return {"passed": self.passed, "n_bars": self.n_bars, "first": self.first, "last": self.last,
                "n_events": self.n_events, "events.warmup_bars": self.warmup_bars, "seconds": round(self.seconds, 2),
                "lookahead": {"cuts": [{"cut": k, "bar": t} for k, t in enumerate(self.cuts, 1)],
                              "columns": self.columns(), "differences": [d.to_dict() for d in self.differences]},
                "champion": self.champion,
                "warmup": {"offsets": self.offsets, "rows": [r.to_dict(self.warmup_bars) for r in self.warmup]}}

    def failure(self) -> str:
        """The one-line reason of a failed audit (empty when it passed)."""
        parts = []
        cols = self.columns()
        if cols:
            c = cols[0]
            more = f" and {len(cols) - 1} more column(s)" if len(cols) > 1 else ""
            parts.append(f"look-ahead in {c['kind']} {c['column']} at {c['time']} ({c['cuts']} cut(s)){more}")
        never = [r.state for r in self.uncovered if r.never]
        if never:
            parts.append(f"{', '.join(never)} never settle(s): still different at the end of the data when it starts "
                         "later (a value that depends on where the data starts)")
        finite = [r for r in self.uncovered if not r.never]
        if finite:
            worst = finite[0]
            parts.append(f"set events.warmup_bars >= {int(math.ceil(worst.bars / 100.0)) * 100} ({worst.state} needs "
                         f"{worst.bars:,} bars, events.warmup_bars is {self.warmup_bars:,})")
        return "; ".join(parts)


def _timeframes(cfg: DictConfig, params: AuditParams, champion: Champion | None) -> list[int]:
    minutes = {int(cfg.bracket.atr_timeframe), *params.atr_timeframes}
    if champion is not None:
        minutes.add(int(champion.policy.cfg["bracket"]["atr_timeframe"]))
    return sorted(minutes)


def run_audit(cfg: DictConfig, bars: pd.DataFrame, params: AuditParams, *, champion: Champion | None = None
              ) -> AuditResult:
    """Run the look-ahead check and the warm-up measurement (module docstring) on ``bars``.

    Args:
        cfg: the composed config.
        bars: validated 1-minute bars ``(n,)`` (``timestamp`` UTC, OHLCV), RangeIndex.
        params: the ``audit`` settings.
        champion: the champion to check too, or None.

    Returns:
        The :class:`AuditResult`.

    Raises:
        ConfigError: an invalid config value or ``features.custom`` entry.
    """
    start = time.perf_counter()
    bars = bars.reset_index(drop=True)
    warmup_bars = event_params(cfg.events, LEVEL_TYPES).warmup_bars
    timeframes = _timeframes(cfg, params, champion)
    full = build(bars, cfg, timeframes=timeframes)
    ts = full.ctx.timestamps
    cuts = choose_cuts(len(bars), full.ds.events["bar"].to_numpy(np.int64), n_cuts=params.n_cuts,
                       first=warmup_bars, seed=params.seed)
    champ_full = champion_outputs(champion.policy, bars) if champion is not None else None
    diffs: list[Difference] = []
    for k, t in enumerate(cuts, 1):
        for variant, other_bars in (("removed", bars.iloc[: t + 1]),
                                    ("replaced", garbage_after(bars, t, seed=params.seed + k))):
            raw = compare_built(full, build(other_bars, cfg, timeframes=timeframes), t, tolerance=params.tolerance)
            if champion is not None and champ_full is not None:
                other = champion_outputs(champion.policy, other_bars.reset_index(drop=True))
                raw += compare_champion(champ_full, other, t, tolerance=params.tolerance)
            diffs.extend(place(raw, cut=k, cut_bar=t, variant=variant, timestamps=ts))
    rows, offsets = measure_warmup(bars, cfg, offsets=params.offsets, timeframes=timeframes,
                                   rtol=params.warmup_tolerance)
    return AuditResult(n_bars=len(bars), first=format_time(ts[0]), last=format_time(ts[-1]), warmup_bars=warmup_bars,
                       cuts=cuts, differences=diffs, warmup=rows, offsets=offsets, n_events=len(full.ds),
                       champion=None if champion is None else {"uri": champion.uri, "version": champion.version},
                       seconds=time.perf_counter() - start)


def _print(result: AuditResult, params: AuditParams, report_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True, width=max(Console().width, 120))
    out = console.print
    out(f"audit: {result.n_bars:,} bars {result.first} .. {result.last}, {result.n_events:,} events; "
        f"events.warmup_bars={result.warmup_bars:,}", markup=False)
    checked = "states, events, features, labels" + (" and the champion" if result.champion else "")
    head = (f"look-ahead: {len(result.cuts)} cuts after bar {result.warmup_bars:,}, bars after each removed and "
            f"replaced; {checked} compared (audit.tolerance={params.tolerance:g})")
    out(f"{head}: {'no difference' if not result.differences else f'{len(result.differences)} difference(s)'}",
        markup=False)
    for d in sorted(result.differences, key=lambda d: (d.cut, d.bar))[:_PRINTED]:
        out(f"  {d.message()}", markup=False)
    if len(result.differences) > _PRINTED:
        out(f"  ... {len(result.differences) - _PRINTED} more in {report_path}", markup=False)
    if result.champion:
        out(f"champion: {result.champion['uri']} (version {result.champion['version']})", markup=False)
    table = Table(title=f"warm-up: bars after the start until each state settles (start offsets "
                        f"{', '.join(map(str, result.offsets))}; audit.warmup_tolerance={params.warmup_tolerance:g})")
    for col, justify in (("state", "left"), ("kind", "left"), ("bars needed", "right"), ("worst start", "right"),
                         (f"covered by {result.warmup_bars:,}", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    settled = [r for r in result.warmup if r.kind == "feature" and r.bars == 0]
    for r in result.warmup:
        if r in settled:
            continue
        cover = ("yes" if r.covered(result.warmup_bars) else "NO") if r.used else "- (type off)"
        needed = f"{r.bars:,}" + (" (never)" if r.never else "")
        table.add_row(r.state, r.kind, needed, "-" if r.offset is None else f"{r.offset:,}", cover)
    if settled:
        table.add_row(f"{len(settled)} other features", "feature", "0", "-", "yes")
    out(table)
    out(f"audit {'passed' if result.passed else 'FAILED'} in {result.seconds:.1f} s; report: {report_path}",
        markup=False)


def _report_path(cfg: DictConfig) -> Path:
    return Path(str(cfg.paths.experiments)) / str(cfg.search.study_name) / "audit.json"


def audit_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt audit`` (module docstring); returns the exit status.

    Raises:
        ConfigError: a bad ``audit``, data or feature setting.
        DataError: bad input bars.
        OptError: ``audit.champion=true`` and no champion is registered.
    """
    from opt.data import load_bars_from_config

    params = audit_params(cfg)
    bars = load_bars_from_config(cfg)
    champion = find_champion(cfg, params.champion)
    if champion is None and params.champion == "auto":
        print("audit: no registered champion for this study (audit.champion=auto): its signals are not checked",
              flush=True)
    result = run_audit(cfg, bars, params, champion=champion)
    path = _report_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"study": str(cfg.search.study_name), **result.to_dict()}, indent=1, default=str))
    _print(result, params, path)
    if result.passed:
        return 0
    print(f"opt: audit failed: {result.failure()}", file=sys.stderr)
    return AUDIT_FAILED_EXIT_CODE
