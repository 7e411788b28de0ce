"""Keeping passwords out of artifacts, logs, messages and process arguments.

A storage or tracking URL may carry a password (``postgresql://user:PASSWORD@host/db``). opt masks it
everywhere it writes text (:func:`mask_url`, :func:`mask_secrets`, :func:`masked_config`) and hands
such URLs to worker processes through the environment, never on their command line
(:func:`env_reference`). MLflow's usage telemetry follows ``tracking.telemetry``
(:func:`apply_telemetry`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = ["MASK", "mask_url", "mask_secrets", "has_secret", "masked_container", "masked_config", "env_reference", "apply_telemetry"]

MASK = "***"
#: ``scheme://user:password@`` (the password is everything up to the last ``@`` of the authority)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]+:)(?P<password>[^\s/]*)@")
#: ``password=...`` in a query string or a DSN
_PASSWORD_PARAM = re.compile(r"(?P<head>\bpassword=)(?P<password>[^&\s;]+)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``postgresql://u:***@h/db``)."""
    return mask_secrets(str(url))


def mask_secrets(text: str) -> str:
    """``text`` with every URL password and ``password=`` value replaced by ``***``."""
    out = _USERINFO.sub(lambda m: f"{m.group('head')}{MASK}@", str(text))
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group('head')}{MASK}", out)


def has_secret(text: str) -> bool:
    """Whether ``text`` holds a URL password or a ``password=`` value."""
    return mask_secrets(text) != str(text)


def _masked(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _masked(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked(v) for v in node]
    return mask_secrets(node) if isinstance(node, str) else node


def masked_container(cfg: DictConfig) -> Any:
    """``cfg`` resolved to plain dicts and lists whose string values carry no password (ready to dump)."""
    return _masked(OmegaConf.to_container(cfg, resolve=True))


def masked_config(cfg: DictConfig) -> DictConfig:
    """A resolved copy of ``cfg`` whose string values carry no password (for artifacts and printing)."""
    return OmegaConf.create(masked_container(cfg))


def env_reference(key: str, value: str, env: dict[str, str]) -> str:
    """Put ``value`` into ``env`` under a variable named after ``key``; return ``key=${oc.env:VAR}``.

    The override a worker receives then names the variable, not the secret: ``ps`` shows
    ``search.storage=${oc.env:OPT_SECRET_SEARCH_STORAGE}``.
    """
    var = "OPT_SECRET_" + re.sub(r"[^A-Z0-9]", "_", key.upper())
    env[var] = value
    return f"{key}=${{oc.env:{var}}}"


def apply_telemetry(enabled: bool) -> None:
    """Switch MLflow's usage telemetry on for this process and its children when ``tracking.telemetry``.

    Importing opt turns it off (:data:`opt.TELEMETRY_DEFAULTS`) unless the environment says otherwise;
    ``enabled`` undoes exactly the variables opt set (``MLFLOW_DISABLE_TELEMETRY=false``, opt's
    ``DO_NOT_TRACK`` removed; a ``DO_NOT_TRACK=true`` the user set still wins: it is a global opt-out)
    and re-creates MLflow's telemetry client when mlflow is already imported. Off leaves things as they are.
    """
    import sys

    import opt

    if not enabled:
        return
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "false"
    if "DO_NOT_TRACK" in opt.TELEMETRY_DEFAULTS:
        os.environ.pop("DO_NOT_TRACK", None)
    if "mlflow" in sys.modules:
        from mlflow.telemetry.client import set_telemetry_client

        set_telemetry_client()
