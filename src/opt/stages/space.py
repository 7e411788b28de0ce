"""Turn the search space declared in config into ``trial.suggest_*`` calls.

A space is a nested mapping that mirrors the config; every leaf that has a ``type`` key is one
Optuna parameter, named by its dotted config path (``events.k_atr``), and the sampled value replaces
that config value for the trial. Leaf forms::

    {type: float, low: 0.1, high: 2.0, log: false, step: null}
    {type: int, low: 10, high: 60, step: 5, log: false}
    {type: categorical, choices: [true, false]}
    {type: int, low: 5, high: 25, offset_of: features.window_short}

A leaf with ``offset_of`` is searched as a positive difference (the Optuna parameter is named
``<name>__delta``) and its config value is ``value of offset_of + delta``, so an order constraint such
as ``window_short < window_mid < window_long`` holds for every trial (freqtrade's habit). The base
must come earlier in the space.

Ranges can be changed from the command line, e.g. ``stage.space.events.k_atr.high=2``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from opt.config_rules import check_range
from opt.errors import ConfigError

__all__ = ["iter_space", "suggest", "apply_params", "validate_space"]

_TYPES = ("float", "int", "categorical")


def iter_space(space: Mapping[str, Any] | DictConfig, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """Yield ``(dotted_name, spec)`` for every parameter leaf of ``space``, in declaration order."""
    plain = OmegaConf.to_container(space) if isinstance(space, DictConfig) else space
    if not isinstance(plain, Mapping):
        raise ConfigError(f"search space '{prefix.rstrip('.') or 'space'}' must be a mapping, got {plain!r}")
    for key, value in plain.items():
        name = f"{prefix}{key!s}"
        if isinstance(value, Mapping) and "type" in value:
            yield name, dict(value)
        elif isinstance(value, Mapping):
            yield from iter_space(value, prefix=f"{name}.")
        else:
            raise ConfigError(f"search space entry '{name}' must be a mapping with a 'type' key, got {value!r}")


def validate_space(space: Mapping[str, Any] | DictConfig, cfg: DictConfig, *, where: str) -> None:
    """Check every leaf of ``space`` (type, bounds) and that its config path exists in ``cfg``.

    Raises:
        ConfigError: naming ``<where>.<path>`` and the rule broken.
    """
    seen: set[str] = set()
    for name, spec in iter_space(space):
        key = f"{where}.{name}"
        kind = spec.get("type")
        if kind not in _TYPES:
            raise ConfigError(f"{key}.type must be one of {_TYPES}, got {kind!r}")
        if OmegaConf.select(cfg, name, default="__missing__") == "__missing__":
            raise ConfigError(f"{key}: the config has no key '{name}' for this parameter to set")
        if kind == "categorical":
            seen.add(name)
            if not spec.get("choices"):
                raise ConfigError(f"{key}.choices must be a non-empty list")
            continue
        base = spec.get("offset_of")
        if base is not None and base not in seen:
            raise ConfigError(f"{key}.offset_of={base!r} must name a parameter declared before it")
        seen.add(name)
        low, high = spec.get("low"), spec.get("high")
        if low is None or high is None or not low <= high:
            raise ConfigError(f"{key} needs low <= high, got low={low!r} high={high!r}")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{key}: a log-scale range needs low > 0, got {low!r}")
        if base is not None and low <= 0:
            raise ConfigError(f"{key}: an offset needs low > 0 so the order holds, got {low!r}")
        if base is None:
            check_range(name, low, high, where=key)


def suggest(trial: optuna.Trial, space: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """Sample every parameter of ``space`` on ``trial``.

    Returns:
        ``{dotted_name: config value}`` in declaration order (offsets already added to their base).
    """
    params: dict[str, Any] = {}
    for name, spec in iter_space(space):
        kind = spec["type"]
        base = spec.get("offset_of")
        pname = f"{name}__delta" if base is not None else name
        if kind == "float":
            params[name] = trial.suggest_float(
                pname, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False)),
                step=spec.get("step"),
            )
        elif kind == "int":
            params[name] = trial.suggest_int(
                pname, int(spec["low"]), int(spec["high"]), step=int(spec.get("step") or 1),
                log=bool(spec.get("log", False)),
            )
        else:
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        if base is not None:
            params[name] = params[base] + params[name]
    return params


def apply_params(cfg: DictConfig, params: Mapping[str, Any]) -> DictConfig:
    """Return a copy of ``cfg`` with each dotted ``params`` key set to its value (``cfg`` is untouched)."""
    out = cfg.copy()
    for name, value in params.items():
        OmegaConf.update(out, name, value, merge=False)
    return out
