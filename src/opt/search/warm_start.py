"""Warm start: enqueue the K best parameter sets of an earlier study as the first trials of this one.

``search.warm_start.study=NAME search.warm_start.top_k=K`` reads study ``NAME-stage<N>`` (same stage)
from ``search.warm_start.storage`` (null: ``search.storage``), ranks its COMPLETE trials best first
(:func:`opt.studies.ranked_trials`, first objective), drops repeated parameter sets, and enqueues the
first K (``study.enqueue_trial``): the next K trials run exactly those Optuna parameters, and the
sampler takes it from there. Parameters the new space does not sample are ignored; parameters the
earlier study lacks are sampled. Uses: the plan's grid -> Bayesian refine (a grid study, then a TPE
study warm-started from it), and "last month's best on this month's data" (a new study bound to the
new data: :mod:`opt.search.binding` binds the new study only, the earlier one is just read).

Each enqueued trial carries user attribute ``warm_start_from`` = ``"<study>#<trial number>"``. The
study records what it enqueued (user attribute ``opt.warm_start``), so a resumed invocation does not
enqueue again.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from opt.config_rules import check_name
from opt.errors import ConfigError
from opt.search.grid import GridSearchSampler
from opt.studies import describe_storage, load_study, ranked_trials

__all__ = ["WARM_START_ATTR", "FROM_ATTR", "warm_start"]

log = logging.getLogger(__name__)

WARM_START_ATTR = "opt.warm_start"
"""Study user attribute: ``{"study": name, "trials": [numbers]}`` once the warm start is enqueued."""
FROM_ATTR = "warm_start_from"
"""Trial user attribute of an enqueued trial: ``"<earlier optuna study>#<trial number>"``."""


def warm_start(study: optuna.Study, cfg: DictConfig, stage: int) -> list[dict[str, Any]]:
    """Enqueue the ``search.warm_start.top_k`` best parameter sets of ``search.warm_start.study``.

    Args:
        study: the new study (its sampler decides whether a warm start fits).
        cfg: the config (``search.warm_start.*``, ``search.storage``).
        stage: the stage id (the earlier study is ``<name>-stage<stage>``).

    Returns:
        The enqueued Optuna parameter dicts, best first (empty when no warm start is configured or it
        was already enqueued).

    Raises:
        ConfigError: a bad name, no such study, the study itself, a grid sampler, or no COMPLETE trial.
    """
    ws = cfg.search.warm_start
    if not ws.study:
        return []
    if study.user_attrs.get(WARM_START_ATTR) is not None:
        log.info("warm start already enqueued in %s; not again", study.study_name)
        return []
    check_name("search.warm_start.study", ws.study)
    if isinstance(study.sampler, GridSearchSampler):
        raise ConfigError("search.warm_start does not combine with search.sampler=grid (the grid runs its own points): "
                          "warm-start the refine study from the grid study instead")
    source_cfg = cfg.copy()
    OmegaConf.update(source_cfg, "search.study_name", str(ws.study), merge=False)
    if ws.storage is not None:
        OmegaConf.update(source_cfg, "search.storage", ws.storage, merge=False)
    source = load_study(source_cfg, stage)
    where = describe_storage(source_cfg)
    if source is None:
        raise ConfigError(f"search.warm_start.study={ws.study!r}: no study '{ws.study}-stage{stage}' in {where} "
                          "(search.warm_start.storage names another storage)")
    if source.study_name == study.study_name and where == describe_storage(cfg):
        raise ConfigError(f"search.warm_start.study={ws.study!r} is this study itself: name an earlier study")
    k = int(ws.top_k)
    picked: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for t in ranked_trials(source):
        key = repr(sorted(t.params.items()))
        if key in seen or not t.params:
            continue
        seen.add(key)
        picked.append((t.number, dict(t.params)))
        if len(picked) == k:
            break
    if not picked:
        raise ConfigError(f"search.warm_start.study={ws.study!r}: study '{source.study_name}' has no COMPLETE trial "
                          "to start from")
    for number, params in picked:
        study.enqueue_trial(params, user_attrs={FROM_ATTR: f"{source.study_name}#{number}"})
    study.set_user_attr(WARM_START_ATTR, {"study": source.study_name, "trials": [n for n, _ in picked]})
    log.info("warm start: enqueued the %d best parameter sets of %s (trials %s)", len(picked), source.study_name,
             [n for n, _ in picked])
    return [p for _, p in picked]
