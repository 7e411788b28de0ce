"""Where opt finds its config and writes its outputs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["conf_dir"]


def conf_dir() -> Path:
    """Return the Hydra config directory.

    Order: ``$OPT_CONF_DIR``; ``conf/`` shipped inside the installed package; the repository's
    top-level ``conf/`` (editable installs). Works from any working directory.

    Raises:
        FileNotFoundError: if none of these holds ``config.yaml``.
    """
    here = Path(__file__).resolve().parent
    candidates = [Path(p) for p in [os.environ.get("OPT_CONF_DIR")] if p]
    candidates += [here / "conf", here.parents[1] / "conf"]
    for c in candidates:
        if (c / "config.yaml").is_file():
            return c.resolve()
    raise FileNotFoundError(f"opt config directory not found; looked in {[str(c) for c in candidates]}")
