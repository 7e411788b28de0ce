"""A stable content hash of a bar frame, used as a cache key and lineage tag."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from opt.data.validate import BAR_COLUMNS

__all__ = ["data_fingerprint"]

_VERSION = b"opt-bars-v1"


def data_fingerprint(df: pd.DataFrame) -> str:
    """Hash the bar arrays into 16 hex characters.

    The hash covers the row count, the timestamps as int64 nanoseconds since the epoch (UTC for
    tz-aware stamps) and the little-endian float64 bytes of ``open, high, low, close, volume``, in that
    order. Index, extra columns and column order do not matter; equal bars give equal fingerprints
    across processes and machines.

    Args:
        df: bars with the columns of :data:`~opt.data.validate.BAR_COLUMNS` (e.g. from
            :func:`~opt.data.loader.load_bars`), shape (n_rows, >= 6).

    Returns:
        16 lowercase hex characters (a 64-bit BLAKE2b digest).

    Raises:
        KeyError: a column of ``BAR_COLUMNS`` is missing.
    """
    h = hashlib.blake2b(_VERSION, digest_size=8)
    h.update(np.int64(len(df)).tobytes())
    stamps = pd.DatetimeIndex(df["timestamp"]).as_unit("ns").asi8
    h.update(np.ascontiguousarray(stamps, dtype="<i8").tobytes())
    for col in BAR_COLUMNS[1:]:
        h.update(np.ascontiguousarray(df[col].to_numpy(dtype="float64"), dtype="<f8").tobytes())
    return h.hexdigest()
