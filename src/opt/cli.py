"""Command line: ``python -m opt <command> [hydra overrides]``.

Commands:
    run       run (or resume) a search stage: ``python -m opt run +stage=1``
    promote   validate the best stage-2 trial on the held-out part and register it
    list      table of the best trials of a study
    show      one trial in full
    ui        start the MLflow UI on the project's store
    audit     look-ahead and warm-up audit of the data, config, custom features and champion
    playback  one self-contained HTML page replaying a trial's or the champion's trades bar by bar

Every command composes the Hydra config in ``conf/`` (found from any working directory, see
:func:`opt.paths.conf_dir`) with the overrides given, so ``--cfg job``, ``--help`` and ``key=value``
overrides work the same everywhere. User errors (:class:`opt.errors.OptError`, missing or bad config
values) print one clear line on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from importlib import import_module

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from opt.config_rules import check_config
from opt.errors import USER_ERROR_EXIT_CODE, OptError
from opt.paths import conf_dir
from opt.secrets import apply_telemetry

__all__ = ["main", "COMMANDS", "normalize_overrides"]

#: command -> "module:function" taking the composed config
COMMANDS: dict[str, str] = {
    "run": "opt.search.runner:run_command",
    "promote": "opt.promote.command:promote_command",
    "list": "opt.inspect:list_command",
    "show": "opt.inspect:show_command",
    "ui": "opt.inspect:ui_command",
    "audit": "opt.audit.command:audit_command",
    "playback": "opt.playback.command:playback_command",
}

USAGE = """usage: python -m opt <command> [key=value ...] [--cfg job]

commands:
  run       run or resume a search stage        python -m opt run +stage=1
  promote   validate and register the winner    python -m opt promote
  list      best trials of a study              python -m opt list +stage=2
  show      one trial in full                   python -m opt show +stage=2 inspect.trial=3
  ui        MLflow UI on the project's store    python -m opt ui
  audit     look-ahead and warm-up audit        python -m opt audit data=csv data.path=bars.csv instrument=es
            (exit 4: a look-ahead difference, or events.warmup_bars too short; report in experiments/<study>/audit.json)
  playback  trades replayed bar by bar (HTML)   python -m opt playback +stage=2 playback.trial=3
            (playback.champion=true: the registered champion on the data given; page in experiments/<study>/)

examples:
  python -m opt run +stage=1 data=csv data.path=../shared/data/ES_1min.csv instrument=es search.n_trials=5
  python -m opt run +stage=1 --cfg job          # print the composed config
"""


_NUMERIC_GROUP = re.compile(r"^(\+{0,2}|~)?(stage)=(\d+)$")
_NESTED_GROUP = re.compile(r"^(search)\.(sampler|pruner)=([A-Za-z0-9_]+)$")


def normalize_overrides(args: list[str]) -> list[str]:
    """Rewrite the two group-choice shorthands Hydra would refuse; other arguments pass through.

    - ``+stage=1`` -> ``+stage='1'``: Hydra parses ``1`` as an int, which it refuses as a config group
      choice; the quoted form selects ``conf/stage/1.yaml``.
    - ``search.sampler=random`` -> ``search/sampler=random`` (and ``search.pruner=...``): the sampler and
      the pruner are config groups under ``conf/search/``; the dotted form reads like every other key.
    """
    out = [_NUMERIC_GROUP.sub(r"\1\2='\3'", a) for a in args]
    return [_NESTED_GROUP.sub(r"\1/\2=\3", a) for a in out]


def added_keys(overrides: list[str], cfg: DictConfig) -> list[str]:
    """The ``+key=value`` overrides that add a key opt does not read (``+stage=N`` and other groups excepted).

    Hydra suggests ``+search.ntrials=5`` for a typo of ``search.n_trials=5``; that would run with the
    default target, so such additions are refused instead.
    """
    groups = {str(p.relative_to(conf_dir())) for p in conf_dir().rglob("*") if p.is_dir()}
    out = []
    for override in overrides:
        if not override.startswith("+") or override.startswith("++"):
            continue
        key = override[1:].split("=", 1)[0]
        if key not in groups:
            out.append(key)
    return out


def _suggest(key: str, cfg: DictConfig) -> str:
    import difflib

    def leaves(node: object, prefix: str = "") -> list[str]:
        if isinstance(node, dict):
            return [k for name, v in node.items() for k in leaves(v, f"{prefix}{name}.")]
        return [prefix.rstrip(".")]

    known = [k for k in leaves(OmegaConf.to_container(cfg, resolve=False)) if k != key]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _refusing_added_keys(task: Callable[[DictConfig], int | None]) -> Callable[[DictConfig], int | None]:
    def run(cfg: DictConfig) -> int | None:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
        for key in added_keys(overrides, cfg):
            raise OptError(f"+{key}=...: opt has no config key '{key}'{_suggest(key, cfg)}; unknown keys are "
                           "refused so that a typo cannot silently run with the default")
        return task(cfg)

    return run


def _load(target: str) -> Callable[[DictConfig], int | None]:
    module, func = target.split(":")
    return getattr(import_module(module), func)


def _user_error(message: str) -> None:
    print(f"opt: error: {message}", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT_CODE)


def _guarded(task: Callable[[DictConfig], int | None], cfg: DictConfig) -> None:
    """Run ``task`` and turn user errors, and a full disk, into a message and exit status 2 (no traceback)."""
    try:
        check_config(cfg)
        code = task(cfg)
    except OptError as exc:
        from opt.stores import disk_full_message

        _user_error(disk_full_message(exc, cfg) or str(exc))
    except OmegaConfBaseException as exc:
        # e.g. data.path=??? (MissingMandatoryValue) or a bad interpolation: a config mistake
        key = getattr(exc, "full_key", None)
        _user_error(f"config key '{key}': {exc.msg if hasattr(exc, 'msg') else exc}")
    except KeyboardInterrupt:
        print("opt: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # a full disk (ENOSPC, SQLite's "database or disk is full"): one line naming the place, no traceback
        from opt.stores import disk_full_message

        message = disk_full_message(exc, cfg)
        if message is None:
            raise
        _user_error(message)
    if code:
        sys.exit(int(code))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m opt`` and the ``opt`` console script.

    Args:
        argv: arguments after the program name (default ``sys.argv[1:]``): the command, then Hydra
            overrides and flags.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(USAGE, file=sys.stderr)
        print("opt: error: no command given; choose one of: " + ", ".join(COMMANDS), file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    if argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        _user_error(f"unknown command '{command}'; choose one of: {', '.join(COMMANDS)}")
    task = _load(COMMANDS[command])

    composed = False

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
    def _app(cfg: DictConfig) -> None:
        nonlocal composed
        composed = True
        apply_telemetry(bool(OmegaConf.select(cfg, "tracking.telemetry")))
        _guarded(_refusing_added_keys(task), cfg)

    overrides = normalize_overrides(rest)
    sys.argv = [f"opt-{command}", *overrides]
    try:
        _app()
    except SystemExit as exc:
        if composed or exc.code in (0, None):
            raise
        _explain_composition_error([o for o in overrides if not o.startswith("-")])
        raise


def _explain_composition_error(overrides: list[str]) -> None:
    """After Hydra refused to compose the config (it printed why), name the unknown key with a suggestion.

    Exits with status 2 when an override names a key the config does not have (``search.ntrials=5``:
    did you mean ``search.n_trials``?); returns otherwise (Hydra's own exit status stands).
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    def attempt(args: list[str]) -> DictConfig | str:
        try:
            with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
                return compose(config_name="config", overrides=args)
        except HydraException as exc:
            return str(exc)

    failed = attempt(overrides)
    match = re.search(r"Could not override '([^']+)'", failed) if isinstance(failed, str) else None
    if match is None:
        return
    key = match.group(1)
    base = attempt([o for o in overrides if not o.lstrip("+~").startswith(f"{key}=")])
    hint = _suggest(key, base) if isinstance(base, DictConfig) else ""
    _user_error(f"{key}: opt has no config key '{key}'{hint}; adding it with '+' would be refused too")
