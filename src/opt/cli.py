"""Command line: ``python -m opt <command> [hydra overrides]``.

Commands:
    run       run (or resume) a search stage: ``python -m opt run +stage=1``
    promote   validate the best stage-2 trial on the held-out part and register it
    list      table of the best trials of a study
    show      one trial in full
    ui        start the MLflow UI on the project's store

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
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from opt.config_rules import check_config
from opt.errors import USER_ERROR_EXIT_CODE, OptError
from opt.paths import conf_dir

__all__ = ["main", "COMMANDS", "normalize_overrides"]

#: command -> "module:function" taking the composed config
COMMANDS: dict[str, str] = {
    "run": "opt.search.runner:run_command",
    "promote": "opt.promote.command:promote_command",
    "list": "opt.inspect:list_command",
    "show": "opt.inspect:show_command",
    "ui": "opt.inspect:ui_command",
}

USAGE = """usage: python -m opt <command> [key=value ...] [--cfg job]

commands:
  run       run or resume a search stage        python -m opt run +stage=1
  promote   validate and register the winner    python -m opt promote
  list      best trials of a study              python -m opt list +stage=2
  show      one trial in full                   python -m opt show +stage=2 inspect.trial=3
  ui        MLflow UI on the project's store    python -m opt ui

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


def _load(target: str) -> Callable[[DictConfig], int | None]:
    module, func = target.split(":")
    return getattr(import_module(module), func)


def _user_error(message: str) -> None:
    print(f"opt: error: {message}", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT_CODE)


def _guarded(task: Callable[[DictConfig], int | None], cfg: DictConfig) -> None:
    """Run ``task`` and turn user errors into a message and exit status 2 (no traceback)."""
    try:
        check_config(cfg)
        code = task(cfg)
    except OptError as exc:
        _user_error(str(exc))
    except OmegaConfBaseException as exc:
        # e.g. data.path=??? (MissingMandatoryValue) or a bad interpolation: a config mistake
        key = getattr(exc, "full_key", None)
        _user_error(f"config key '{key}': {exc.msg if hasattr(exc, 'msg') else exc}")
    except KeyboardInterrupt:
        print("opt: interrupted", file=sys.stderr)
        sys.exit(130)
    if code:
        sys.exit(int(code))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m opt`` and the ``opt`` console script.

    Args:
        argv: arguments after the program name (default ``sys.argv[1:]``): the command, then Hydra
            overrides and flags.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        _user_error(f"unknown command '{command}'; choose one of: {', '.join(COMMANDS)}")
    task = _load(COMMANDS[command])

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
    def _app(cfg: DictConfig) -> None:
        _guarded(task, cfg)

    sys.argv = [f"opt-{command}", *normalize_overrides(rest)]
    _app()
