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

Two optional keys on any leaf:

- ``when: <parameter>`` or ``when: <parameter>=<choice>`` makes the leaf conditional: it is sampled
  only when that parameter (a categorical declared earlier in the same space) was sampled in this
  trial and is true (or equals the choice), e.g. ``events.monitor_band.pm`` only while
  ``levels.use.pm`` is true, ``bracket.expiry_bars`` only when ``bracket.entry_mode=limit``. Otherwise
  the leaf is not sampled (absent from ``trial.params``) and its config value stays the default.
- ``grid: [v1, v2, ...]`` lists the values ``search.sampler=grid`` tries (:mod:`opt.search.grid`);
  other samplers ignore it. For an ``offset_of`` leaf the values are the differences (``__delta``).
  With the grid sampler, leaves without ``grid`` are not searched (they keep their config values).

A third, ``only_if: <config key>=<value>`` (or ``only_if: <config key>`` for a boolean), is a fixed
condition on the base config, not on a sampled parameter: :func:`resolve_only_if` drops the leaves
whose condition is false and keeps the others (without the key) before a stage plans, so
``outcome.threshold`` is searched only with ``outcome.method=threshold`` and ``outcome.upper_atr``
only with ``outcome=triple_barrier``. The other functions here treat ``only_if`` as an unknown key.

Ranges can be changed from the command line, e.g. ``stage.space.events.k_atr.high=2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import optuna
from omegaconf import DictConfig, OmegaConf

from opt.config_rules import check_range
from opt.errors import ConfigError

__all__ = ["iter_space", "suggest", "apply_params", "validate_space", "param_name", "condition_holds", "resolve_only_if",
           "PartialSampler"]

_TYPES = ("float", "int", "categorical")


@runtime_checkable
class PartialSampler(Protocol):
    """A sampler that searches only some parameters of a space (e.g. the grid); the rest keep their config values."""

    def searches(self, name: str) -> bool:
        """Whether the Optuna parameter ``name`` is searched by this sampler."""
        ...


def _split_when(when: str) -> tuple[str, str | None]:
    """``"P"`` -> ``(P, None)``; ``"P=choice"`` -> ``(P, "choice")``."""
    name, sep, choice = str(when).partition("=")
    return name.strip(), choice.strip() if sep else None


def condition_holds(when: str | None, params: Mapping[str, Any]) -> bool:
    """Whether a leaf's ``when`` condition holds for the values ``params`` sampled so far.

    ``when`` is None (always), ``"P"`` (``params[P]`` is sampled and true) or ``"P=choice"``
    (``params[P]`` is sampled and equals the choice, compared as text: ``P=limit``, ``P=5``).
    """
    if when is None:
        return True
    name, choice = _split_when(when)
    if name not in params:
        return False
    return bool(params[name]) if choice is None else str(params[name]) == choice


def param_name(name: str, spec: Mapping[str, Any]) -> str:
    """The Optuna parameter name of the space leaf ``name``: ``<name>__delta`` for an ``offset_of`` leaf."""
    return f"{name}__delta" if spec.get("offset_of") is not None else name


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

    Leaves whose ``only_if`` is false on ``cfg`` are not checked (:func:`resolve_only_if`).

    Raises:
        ConfigError: naming ``<where>.<path>`` and the rule broken.
    """
    space = resolve_only_if(space, cfg, where=where)
    seen: set[str] = set()
    categoricals: dict[str, list[Any]] = {}
    conditions: dict[str, str | None] = {}
    for name, spec in iter_space(space):
        key = f"{where}.{name}"
        kind = spec.get("type")
        if kind not in _TYPES:
            raise ConfigError(f"{key}.type must be one of {_TYPES}, got {kind!r}")
        if OmegaConf.select(cfg, name, default="__missing__") == "__missing__":
            raise ConfigError(f"{key}: the config has no key '{name}' for this parameter to set")
        when = spec.get("when")
        if when is not None:
            cond, choice = _split_when(when)
            if cond not in categoricals:
                raise ConfigError(f"{key}.when={when!r} must name a categorical parameter declared before it in "
                                  f"{where}")
            if choice is not None and choice not in [str(c) for c in categoricals[cond]]:
                raise ConfigError(f"{key}.when={when!r}: {choice!r} is not one of the choices of {cond}: "
                                  f"{list(categoricals[cond])}")
        if kind == "categorical":
            seen.add(name)
            categoricals[name] = list(spec.get("choices") or [])
            conditions[name] = when
            if not spec.get("choices"):
                raise ConfigError(f"{key}.choices must be a non-empty list")
            choices = list(spec["choices"])
            _check_grid(key, spec, lambda v, c=choices: v in c, f"one of the choices {choices}")
            continue
        base = spec.get("offset_of")
        if base is not None and base not in seen:
            raise ConfigError(f"{key}.offset_of={base!r} must name a parameter declared before it")
        if base is not None and conditions.get(base) not in (None, when):
            raise ConfigError(f"{key}: its base {base!r} is conditional (when: {conditions[base]}); give {key} the "
                              "same `when`")
        seen.add(name)
        conditions[name] = when
        low, high = spec.get("low"), spec.get("high")
        if low is None or high is None or not low <= high:
            raise ConfigError(f"{key} needs low <= high, got low={low!r} high={high!r}")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{key}: a log-scale range needs low > 0, got {low!r}")
        if base is not None and low <= 0:
            raise ConfigError(f"{key}: an offset needs low > 0 so the order holds, got {low!r}")
        if base is None:
            check_range(name, low, high, where=key)
        _check_grid(key, spec, lambda v, lo=low, hi=high: isinstance(v, int | float) and not isinstance(v, bool)
                    and lo <= v <= hi, f"a number in [low, high] = [{low}, {high}]")


def _check_grid(key: str, spec: Mapping[str, Any], allowed: Callable[..., bool], rule: str) -> None:
    """Check a leaf's optional ``grid`` values: a non-empty list of distinct allowed values.

    Raises:
        ConfigError: naming ``<key>.grid`` and the rule broken.
    """
    grid = spec.get("grid")
    if grid is None:
        return
    if not isinstance(grid, list | tuple) or not grid:
        raise ConfigError(f"{key}.grid must be a non-empty list of values, got {grid!r}")
    bad = [v for v in grid if not allowed(v)]
    if bad:
        raise ConfigError(f"{key}.grid values must each be {rule}, got {bad}")
    if len({repr(v) for v in grid}) != len(grid):
        raise ConfigError(f"{key}.grid values must be distinct, got {list(grid)}")


def suggest(trial: optuna.Trial, space: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """Sample the parameters of ``space`` that apply on ``trial``.

    A leaf with ``when: P`` is skipped unless parameter ``P`` was sampled in this call and is true; with
    a :class:`PartialSampler` (the grid) a leaf it does not search is skipped. A skipped leaf is absent
    from ``trial.params`` and from the result, so its config value stays the default.

    Returns:
        ``{dotted_name: config value}`` of the sampled leaves, in declaration order (offsets already
        added to their base).
    """
    sampler = trial.study.sampler
    partial = sampler if isinstance(sampler, PartialSampler) else None
    params: dict[str, Any] = {}
    for name, spec in iter_space(space):
        kind = spec["type"]
        base = spec.get("offset_of")
        pname = param_name(name, spec)
        if not condition_holds(spec.get("when"), params):
            continue
        if partial is not None and not partial.searches(pname):
            continue
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


def resolve_only_if(space: Mapping[str, Any] | DictConfig, cfg: DictConfig, *, where: str) -> dict[str, Any]:
    """``space`` without the leaves whose ``only_if`` condition is false on ``cfg`` (module docstring).

    ``only_if: K=V`` holds when config key ``K`` has the value ``V`` (compared as text); ``only_if: K``
    when ``K`` is true. Leaves that hold lose the ``only_if`` key; branches left empty are dropped.

    Returns:
        A plain nested mapping (leaves without ``only_if`` are unchanged).

    Raises:
        ConfigError: an ``only_if`` naming a key the config does not have (naming ``<where>.<path>``).
    """
    plain = OmegaConf.to_container(space, resolve=True) if isinstance(space, DictConfig) else space
    if not isinstance(plain, Mapping):
        raise ConfigError(f"search space '{where}' must be a mapping, got {plain!r}")
    out: dict[str, Any] = {}
    for raw_key, value in plain.items():
        key = str(raw_key)
        name = f"{where}.{key}"
        if isinstance(value, Mapping) and "type" in value:
            cond = value.get("only_if")
            if cond is None:
                out[key] = value
                continue
            ckey, sep, choice = str(cond).partition("=")
            actual = OmegaConf.select(cfg, ckey.strip(), default="__missing__")
            if actual == "__missing__":
                raise ConfigError(f"{name}.only_if={cond!r}: the config has no key {ckey.strip()!r}")
            holds = str(actual) == choice.strip() if sep else bool(actual)
            if holds:
                out[key] = {k: v for k, v in value.items() if k != "only_if"}
        elif isinstance(value, Mapping):
            inner = resolve_only_if(value, cfg, where=name)
            if inner:
                out[key] = inner
        else:
            out[key] = value
    return out
