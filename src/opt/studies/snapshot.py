"""A snapshot beside the Optuna journal, so opening a big study reads the log's tail, not all of it.

Optuna's :class:`~optuna.storages.JournalStorage` rebuilds every study by replaying the whole log on
open: about 9 s per 100 MB on a 2-core machine (a 20,000-trial stage-1 study writes ~165 MB), paid by
every worker start, ``opt list``, ``show`` and ``promote``. Optuna already knows how to skip that for
backends that keep snapshots (:class:`~optuna.storages.journal.BaseJournalSnapshot`: it saves one every
100 trials and restores the latest on open); its file backend just has none.
:class:`SnapshotJournalFileBackend` is that file backend with a snapshot file ``<journal>.snapshot``:

- one JSON header line: format, Optuna version, the log records the snapshot covers and their end
  offset in the journal, a SHA-256 of the journal's 64 KB before that offset and of the payload;
- then the payload: Optuna's pickled replay state, as Optuna hands it over.

Writes go to a temporary file renamed over the old one (atomic), and only once the journal has grown
by ``max(2 MB, 5 %)`` since the last snapshot, so their cost stays ~1 ms per trial however long the
study gets. A snapshot that does not match its journal (another Optuna, a journal cut or replaced, a
torn or altered payload) is ignored: Optuna replays the whole log, as without one. A snapshot that
cannot be written (a full disk) is skipped with a warning; the journal itself is never touched here.
The payload is a pickle: the snapshot is as trusted as the journal beside it (same folder, same owner).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._base import BaseJournalSnapshot
from optuna.storages.journal._file import BaseJournalFileLock

__all__ = ["SnapshotJournalFileBackend", "snapshot_path", "verified_prefix"]

log = logging.getLogger(__name__)

FORMAT = 1
TAIL = 64 << 10  # bytes of the journal before the snapshot's offset that the header hashes
MIN_GROWTH = 2 << 20  # bytes the journal must grow by before a new snapshot (and 5 % of its size)


def snapshot_path(journal: str | Path) -> Path:
    """Where the snapshot of ``journal`` lives: ``<journal>.snapshot``."""
    return Path(f"{journal}.snapshot")


def _tail_digest(journal: Path, offset: int) -> str:
    with open(journal, "rb") as handle:
        handle.seek(max(0, offset - TAIL))
        return hashlib.sha256(handle.read(offset - max(0, offset - TAIL))).hexdigest()


def _read_header(journal: Path) -> tuple[dict[str, Any], int] | None:
    """The snapshot's header and the payload's start, when it matches ``journal``; None otherwise."""
    path = snapshot_path(journal)
    try:
        with open(path, "rb") as handle:
            line = handle.readline(4096)
        header = json.loads(line)
        records, offset = int(header["records"]), int(header["offset"])
        if (header.get("format") != FORMAT or header.get("optuna") != optuna.__version__ or records < 1
                or offset < 1 or journal.stat().st_size < offset
                or _tail_digest(journal, offset) != header["journal_tail_sha256"]):
            return None
        return header, len(line)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verified_prefix(journal: str | Path) -> tuple[int, int] | None:
    """``(records, end offset)`` of the journal's start that a matching snapshot covers: complete JSON
    records Optuna already read (:func:`opt.studies.journal.check_journal` scans only what follows).
    None without a matching snapshot."""
    found = _read_header(Path(journal))
    return None if found is None else (int(found[0]["records"]), int(found[0]["offset"]))


class SnapshotJournalFileBackend(JournalFileBackend, BaseJournalSnapshot):
    """Optuna's journal file backend with a snapshot file beside the journal (module docstring).

    Args:
        file_path: the journal file.
        lock_obj: its lock (:class:`~optuna.storages.journal.JournalFileOpenLock`, as Optuna's appends take).
    """

    def __init__(self, file_path: str, lock_obj: BaseJournalFileLock | None = None) -> None:
        super().__init__(file_path, lock_obj=lock_obj)
        self._journal = Path(file_path)
        self._snapshot_offset = 0  # journal bytes the newest snapshot this process knows of covers
        self._write_failed = False

    def load_snapshot(self) -> bytes | None:
        """The payload of a snapshot that matches the journal (Optuna restores it, then reads the log
        from where it ends); None when there is none or it does not match."""
        found = _read_header(self._journal)
        if found is None:
            return None
        header, start = found
        try:
            with open(snapshot_path(self._journal), "rb") as handle:
                handle.seek(start)
                payload = handle.read()
        except OSError:
            return None
        if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
            log.warning("ignoring the snapshot %s: its payload does not match its header (the whole journal is read)",
                        snapshot_path(self._journal))
            return None
        records, offset = int(header["records"]), int(header["offset"])
        self._log_number_offset[records] = offset  # Optuna's read_logs seeks there
        self._snapshot_offset = offset
        return payload

    def save_snapshot(self, snapshot: bytes) -> None:
        """Write Optuna's replay state for the records read so far, when the journal has grown enough."""
        records = max(self._log_number_offset)  # Optuna saves right after reading the whole log
        offset = self._log_number_offset[records]
        if self._write_failed or offset - self._snapshot_offset < max(MIN_GROWTH, offset // 20):
            return
        target = snapshot_path(self._journal)
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        header = {"format": FORMAT, "optuna": optuna.__version__, "records": records, "offset": offset,
                  "journal_tail_sha256": _tail_digest(self._journal, offset),
                  "payload_sha256": hashlib.sha256(snapshot).hexdigest()}
        try:
            with open(tmp, "wb") as handle:
                handle.write(json.dumps(header).encode() + b"\n")
                handle.write(snapshot)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self._write_failed = True  # once per process: the journal is what counts
            log.warning("could not write the journal snapshot %s (%s); opening the study reads the whole journal",
                        target, exc.strerror or exc)
            return
        self._snapshot_offset = offset
