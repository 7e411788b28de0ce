"""A study is bound to its data, its split and (stage 2) its model families and search space.

The first invocation records on the study (user attribute ``opt.binding``) what its trials were scored
on: the data fingerprint (:func:`opt.data.data_fingerprint`), the held-out test cut and the bar count,
and, in stage 2, the model families and a hash of the searched spaces. A later invocation of the same
study name with other data, another ``data.start``/``data.end``, another ``split.test_fraction``, another
model family or another space is refused, so a best trial is never ranked against trials scored on
something else (and ``best_stage*.yaml``, stage 2's hand-off and promote's trial count never mix).
``search.resume_mismatch=true`` resumes anyway, on purpose; the new binding is then recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError
from opt.stages import PreparedMarket, Stage

__all__ = ["BINDING_ATTR", "study_binding", "bind_study", "check_handoff"]

log = logging.getLogger(__name__)

BINDING_ATTR = "opt.binding"
"""The study user attribute that holds the binding."""


def _space_hash(cfg: DictConfig, stage: Stage) -> str:
    if stage.id == 2:
        families = sorted(str(m) for m in cfg.stage.models) if cfg.stage.models else [str(cfg.model.name)]
        node: Any = {"space": cfg.stage.space, "model_space": {f: cfg.stage.model_space.get(f) for f in families},
                     "knn_blend": cfg.stage.knn_blend}
    else:
        node = {"space": cfg.stage.space}
    text = json.dumps(OmegaConf.to_container(OmegaConf.create(node), resolve=True), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def study_binding(cfg: DictConfig, stage: Stage, market: PreparedMarket) -> dict[str, Any]:
    """What the trials of this invocation are scored on (see the module docstring)."""
    out: dict[str, Any] = {"data_fingerprint": market.fingerprint, "test_start": int(market.test_start),
                           "n_bars": int(market.n_bars_total), "space_hash": _space_hash(cfg, stage)}
    if stage.id == 2:
        out["model_families"] = sorted(str(m) for m in cfg.stage.models) if cfg.stage.models else [str(cfg.model.name)]
    return out


_WHAT = {"data_fingerprint": "the data (fingerprint)", "test_start": "the held-out test cut (bar)",
         "n_bars": "the number of bars", "model_families": "the model families", "space_hash": "the search space"}


def bind_study(study: optuna.Study, binding: dict[str, Any], *, resume_mismatch: bool) -> None:
    """Record ``binding`` on a new study, or check it against the recorded one.

    Raises:
        ConfigError: the study was run on other data, split, model families or space, naming what
            differs and how to start a new study or resume on purpose.
    """
    recorded = study.user_attrs.get(BINDING_ATTR)
    if recorded is None:
        study.set_user_attr(BINDING_ATTR, binding)
        return
    differs = [k for k in binding if recorded.get(k) != binding[k]]
    if not differs:
        return
    listed = "; ".join(f"{_WHAT.get(k, k)}: study {recorded.get(k)!r}, now {binding[k]!r}" for k in differs)
    if resume_mismatch:
        log.warning("study %s resumed on purpose with other %s (search.resume_mismatch=true)", study.study_name, listed)
        study.set_user_attr(BINDING_ATTR, binding)
        return
    name = study.study_name.rsplit("-stage", 1)[0]
    raise ConfigError(
        f"study '{study.study_name}' was run on something else: {listed}. Its trials would be ranked against "
        f"these. Start a new study (search.study_name={name}-2, or any new name) or resume this one on purpose "
        "(search.resume_mismatch=true)")


def check_handoff(stage1_fingerprint: str | None, fingerprint: str, *, resume_mismatch: bool) -> None:
    """Refuse a stage-2 study planned from a stage-1 result that was found on other data.

    Raises:
        ConfigError: the fingerprints differ (and ``search.resume_mismatch`` is off).
    """
    if not stage1_fingerprint or stage1_fingerprint == fingerprint or resume_mismatch:
        return
    raise ConfigError(
        f"the stage-1 result (stage.from_stage1 or best_stage1.yaml) was found on other data (fingerprint "
        f"{stage1_fingerprint}, these bars {fingerprint}): run stage 1 on these bars first, or pass "
        "search.resume_mismatch=true to use it anyway")
