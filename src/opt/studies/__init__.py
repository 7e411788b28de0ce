"""Studies as stored: where they live, how to read them back, and the best-trial files.

- :mod:`opt.studies.storage`: the Optuna storage named by ``search.storage`` (journal file, SQLite,
  PostgreSQL) and the study name of each stage.
- :mod:`opt.studies.reading`: the one reading API that ``run``'s summary, ``list``, ``show`` and
  ``promote`` share: open a study, rank its trials, pick one, the best record.
- :mod:`opt.studies.results`: ``experiments/<study>/best_stage<N>.yaml``, written at the end of a stage
  and read by the next one.
"""

from __future__ import annotations

from opt.studies.reading import (
    FINISHED_STATES,
    best_record,
    best_trial,
    direction_sign,
    load_study,
    open_study,
    pick_trial,
    ranked_trials,
)
from opt.studies.results import best_file, load_results, read_best, write_best
from opt.studies.storage import describe_storage, is_journal, journal_path, make_storage, study_name_for

__all__ = ["FINISHED_STATES", "best_file", "best_record", "best_trial", "describe_storage", "direction_sign",
           "is_journal", "journal_path", "load_results", "load_study", "make_storage", "open_study", "pick_trial", "ranked_trials", "read_best",
           "study_name_for", "write_best"]
