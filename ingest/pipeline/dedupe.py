"""Repeats: which rows repeat an earlier reading exactly, and the newest timestamp of an
earlier reading with the same (series, seq), earlier in the batch or remembered.

The horizon test (is the earlier reading still within the lateness horizon?) needs the
series' running newest timestamp, so it is applied later, in :mod:`sequential`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.memory import RecentReadings


@dataclass(frozen=True)
class Repeats:
    ident_seen: NDArray[np.bool_]  # an identical eligible reading came earlier
    seq_seen_ts: NDArray[np.int64]  # newest ts of an earlier reading with this seq, or MIN


def find_repeats(
    memory: RecentReadings,
    key: NDArray[np.int64],
    ident: NDArray[np.int64],
    ts: NDArray[np.int64],
    series: NDArray[np.int64],
    has_seq: NDArray[np.bool_],
    eligible: NDArray[np.bool_],
) -> Repeats:
    """Rows in arrival order; the eligible ones not seen before are remembered."""
    return Repeats(*memory.check(key, ident, ts, series, has_seq, eligible))
