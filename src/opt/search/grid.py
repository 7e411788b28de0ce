"""Grid search over the values declared with ``grid: [...]`` in the stage space (``search.sampler=grid``).

The grid is the product of the declared values, built leaf by leaf in declaration order, with two
rules that keep every point a distinct trial config:

- a leaf with ``when: P`` is expanded only in the points where ``P`` is true; in the others it is left
  out (the trial does not sample it and the config keeps its default), so ``levels.use.pm=[true,
  false]`` with ``events.monitor_band.pm=[1, 3]`` gives 3 points, not 4 (no point is run twice);
- leaves without ``grid`` are not searched (:class:`opt.stages.space.PartialSampler`): they keep their
  config values in every trial.

A leaf with ``grid`` values whose ``when`` or ``offset_of`` parameter has none is refused (its
condition or base would never be sampled), as is an ``offset_of`` leaf without values whose base has
some (the order constraint would not hold). Stage 2 grids cover one model family's ``model_space``
and ``stage.space``; ``stage.models`` with several families and ``stage.knn_blend.search`` are refused.

:class:`GridSearchSampler` assigns each new trial a point that is neither finished (COMPLETE or PRUNED)
nor running (``opt_grid_id`` system attribute); a FAIL point is run again. The runner sets the study's
target ``search.n_trials`` to the number of points (:func:`fit_target`), so the study runs the whole
grid and stops: Optuna's own ``GridSampler`` calls ``study.stop()``, which raises under ask-and-tell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError
from opt.stages.space import condition_holds, iter_space, param_name, resolve_only_if

__all__ = ["GRID_ATTR", "GridSearchSampler", "grid_points", "stage_grid", "fit_target"]

log = logging.getLogger(__name__)

GRID_ATTR = "opt_grid_id"
"""The trial system attribute holding the index of the trial's grid point."""


def grid_points(space: Mapping[str, Any] | DictConfig, *, where: str) -> list[dict[str, Any]]:
    """The grid points of one space: ``{optuna parameter name: value}`` dicts (see the module docstring).

    Args:
        space: a stage space (leaves with optional ``grid``, ``when``, ``offset_of``).
        where: the space's config path, for messages (``stage.space``).

    Returns:
        The distinct points in declaration order (``[{}]`` when no leaf declares ``grid`` values).

    Raises:
        ConfigError: a gridded leaf whose ``when``/``offset_of`` parameter has no grid values, or an
            ``offset_of`` leaf without values whose base has some (naming the keys).
    """
    points: list[dict[str, Any]] = [{}]
    gridded: set[str] = set()
    for name, spec in iter_space(space):
        values = spec.get("grid")
        base, when = spec.get("offset_of"), spec.get("when")
        if values is None:
            if base is not None and base in gridded:
                raise ConfigError(f"{where}.{name} has no grid values but its base {base} has: add {where}.{name}.grid "
                                  "(differences) so the order holds")
            continue
        cond = str(when).partition("=")[0].strip() if when is not None else None
        for other, what in ((cond, "condition"), (base, "base")):
            if other is not None and other not in gridded:
                raise ConfigError(f"{where}.{name}.grid: its {what} {other} has no grid values, so {name} would never "
                                  f"be searched: add {where}.{other}.grid")
        gridded.add(name)
        pname = param_name(name, spec)
        expanded: list[dict[str, Any]] = []
        for point in points:
            if not condition_holds(when, point):
                expanded.append(point)
            else:
                expanded.extend({**point, pname: value} for value in values)
        points = expanded
    return points


def stage_grid(cfg: DictConfig) -> list[dict[str, Any]]:
    """The grid points of the selected stage (``[{}]`` when no stage is selected).

    Raises:
        ConfigError: a bad grid (:func:`grid_points`), no leaf with grid values, or (stage 2) several
            model families or ``stage.knn_blend.search=true``.
    """
    stage = cfg.get("stage")
    if stage is None:
        return [{}]
    spaces: list[tuple[Any, str]] = [(resolve_only_if(stage.space, cfg, where="stage.space"), "stage.space")]
    if int(stage.id) == 2:
        from opt.stages.stage2 import model_families

        families = model_families(cfg)
        if len(families) > 1:
            raise ConfigError(f"search.sampler=grid searches one model family, stage.models={families}: choose one "
                              "with model=<family> and stage.models=null")
        if stage.knn_blend.search:
            raise ConfigError("search.sampler=grid cannot search stage.knn_blend.search=true (no grid values): set it "
                              "to false")
        spaces.insert(0, (stage.model_space.get(families[0]) or {}, f"stage.model_space.{families[0]}"))
    points: list[dict[str, Any]] = [{}]
    for space, where in spaces:
        points = [{**a, **b} for a in points for b in grid_points(space, where=where)]
    if points == [{}]:
        raise ConfigError("search.sampler=grid: no parameter of the stage space declares grid values; add some, "
                          "e.g. stage.space.events.k_atr.grid=[0.25,0.75]")
    return points


class GridSearchSampler(optuna.samplers.BaseSampler):
    """Run each grid point once (see the module docstring); built by ``conf/search/sampler/grid.yaml``.

    Args:
        points: the grid points; None = ``[{}]`` (the runner passes :func:`stage_grid` of the stage).
        seed: accepted for the common sampler interface; the grid has no randomness.
    """

    def __init__(self, points: Sequence[Mapping[str, Any]] | None = None, seed: int | None = None) -> None:
        self.points = [dict(p) for p in (points if points is not None else [{}])]
        self._names = frozenset(k for p in self.points for k in p)

    def searches(self, name: str) -> bool:
        """Whether the Optuna parameter ``name`` has grid values (the others keep their config values)."""
        return name in self._names

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """No joint sampling: every value comes from the trial's point."""
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """No joint sampling: every value comes from the trial's point."""
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Give ``trial`` a point neither finished nor running elsewhere (a FAIL point is free again)."""
        if GRID_ATTR in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return
        done: set[int] = set()
        running: set[int] = set()
        for t in study.get_trials(deepcopy=False):
            gid = t.system_attrs.get(GRID_ATTR)
            if gid is None or t.number == trial.number:
                continue
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                done.add(int(gid))
            elif t.state == TrialState.RUNNING:
                running.add(int(gid))
        every = range(len(self.points))
        free = [i for i in every if i not in done and i not in running] or [i for i in every if i not in done]
        if not free:
            log.warning("the grid of %d points is complete; trial %d runs point 0 again", len(self.points), trial.number)
            free = [0]
        gid = free[trial.number % len(free)]  # workers that ask at once mostly get different points
        study._storage.set_trial_system_attr(trial._trial_id, GRID_ATTR, gid)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """The value of ``param_name`` at the trial's point.

        Raises:
            ConfigError: the parameter has no grid value at this point (it is sampled outside the space).
        """
        gid = trial.system_attrs.get(GRID_ATTR)
        point = self.points[int(gid)] if gid is not None else {}
        if param_name not in point:
            raise ConfigError(f"search.sampler=grid has no value for parameter {param_name!r}: declare grid values for "
                              "it in the stage space, or use another sampler")
        return point[param_name]


def fit_target(cfg: DictConfig, sampler: optuna.samplers.BaseSampler, target: int) -> int:
    """The study's target: the number of grid points for :class:`GridSearchSampler`, else ``target``.

    With the grid, ``cfg.search.n_trials`` is set to the number of points too (the trial loop and the
    per-trial target check read it).
    """
    if not isinstance(sampler, GridSearchSampler):
        return target
    n = len(sampler.points)
    if n != target:
        log.info("search.sampler=grid: %d grid points, so search.n_trials=%d becomes %d", n, target, n)
        OmegaConf.update(cfg, "search.n_trials", n, merge=False)
    return n
