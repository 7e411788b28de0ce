"""What a stage's parent run shows in the MLflow UI: a distinct name, the study's settings, its dataset.

* :func:`parent_run_name`: ``stage1-<study> <UTC start>Z from #<first trial>``, so two invocations of the
  same study (a resumed study, another host) are told apart in the runs table;
* :func:`study_params`: the settings of the search (``search.*``, ``data.*``, ``split.*``, the stage's
  settings without its search space), passwords in URLs masked, as the parent run's params;
* :func:`log_dataset`: the data as an MLflow run input (name, fingerprint, source, size and span).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from opt.secrets import mask_url, masked_config
from opt.tracking.artifacts import flatten_config

__all__ = ["STUDY_SECTIONS", "parent_run_name", "study_params", "dataset_name", "log_dataset"]

#: config sections logged as the parent run's params (the stage's search spaces are left out: they are
#: the trials' params, and in config.yaml)
STUDY_SECTIONS = ("search", "data", "split", "stage")
_SPACES = (".space.", ".model_space.")


def parent_run_name(stage: int, study: str, first_trial: int, now: float | None = None) -> str:
    """``stage<N>-<study> <mm-dd HH:MM:SS>Z from #<first_trial>``: the stage, the study, the UTC start and
    the first trial number of this invocation (``now``: epoch seconds, default now)."""
    stamp = time.strftime("%m-%d %H:%M:%S", time.gmtime(time.time() if now is None else now))
    return f"stage{stage}-{study} {stamp}Z from #{first_trial}"


def study_params(cfg: DictConfig) -> dict[str, object]:
    """The study's settings as ``{"search.n_trials": 200, ...}`` (resolved, URL passwords masked).

    Sections :data:`STUDY_SECTIONS`; ``stage.space.*`` and ``stage.model_space.*`` are left out.
    """
    flat = flatten_config(masked_config(cfg), STUDY_SECTIONS)
    return {k: v for k, v in flat.items() if not any(s in f"{k}." for s in _SPACES)}


def dataset_name(cfg: DictConfig) -> str:
    """The data's name: the file name, or ``synthetic-seed<S>-<N>d`` for the generator's bars."""
    data = cfg.data
    if data.get("path"):
        return Path(str(data.path)).name
    syn = data.get("synthetic") or {}
    return f"{data.get('source', 'data')}-seed{syn.get('seed', '')}-{syn.get('n_days', '')}d"


def log_dataset(tracker: Any, run_id: str, cfg: DictConfig, market: Any, context: str = "search") -> None:
    """Log the study's data as an input of run ``run_id`` (:meth:`opt.tracking.Tracker.log_input`).

    Args:
        tracker: the :class:`opt.tracking.Tracker`.
        run_id: the run (a stage's parent run).
        cfg: the config (``data.*``).
        market: the :class:`opt.stages.PreparedMarket` (its ``fingerprint``, ``n_bars_total``,
            ``test_start`` and the search part's timestamps).
        context: the input's role in the run.
    """
    stamps = market.ctx.timestamps
    profile = {"fingerprint": market.fingerprint, "bars": int(market.n_bars_total),
               "search_bars": int(market.test_start), "test_bars": int(market.n_bars_total - market.test_start),
               "first_bar": str(stamps[0]) if len(stamps) else "", "last_search_bar": str(stamps[-1]) if len(stamps) else ""}
    source = str(Path(str(cfg.data.path)).resolve()) if cfg.data.get("path") else f"{cfg.data.source} (opt generator)"
    tracker.log_input(run_id, name=dataset_name(cfg), digest=market.fingerprint, source=mask_url(source),
                      profile=profile, context=context)
