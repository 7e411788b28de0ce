"""``python -m opt.inspect._dashboard HOST PORT``: optuna-dashboard on the storage named in the environment.

``opt ui inspect.dashboard=true`` runs this so that a storage URL with a password never appears on a
command line: the storage is ``OPT_DASHBOARD_STORAGE`` (a URL, or a journal file path when
``OPT_DASHBOARD_JOURNAL=1``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    """Serve optuna-dashboard on ``argv = [host, port]`` until stopped."""
    import optuna
    import optuna_dashboard
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    target = os.environ["OPT_DASHBOARD_STORAGE"]
    storage: str | optuna.storages.BaseStorage = target
    if os.environ.get("OPT_DASHBOARD_JOURNAL") == "1":
        storage = optuna.storages.JournalStorage(JournalFileBackend(target, lock_obj=JournalFileOpenLock(target)))
    optuna_dashboard.run_server(storage, host=argv[0], port=int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
