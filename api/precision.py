"""Numbers as precise as a sensor can be: 12 significant digits, written shortest round-trip.

Calibration arithmetic leaves binary noise in the last bits (``130.24175959000002``
for a sensor's ``130.24175959``). Rounding each value to 12 significant digits
(far beyond any sensor's precision, well inside a double's 15-17) removes it: the
rounded number is computed as ``integer / 10**k``, which IEEE 754 rounds correctly,
so its shortest round-trip form (what CSV, JSON and NDJSON writers print) has no
trailing noise. Every export format goes through here, so they agree value for value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from api.rowstream import Block, Row

DIGITS = 12
NOT_MEASURED = frozenset({"time", "device", "metric", "zone", "kind", "flags", "count", "n"})


def significant(values: Sequence[Any], digits: int = DIGITS) -> list[Any]:
    """``values`` rounded to ``digits`` significant digits; ``None`` stays ``None``."""
    a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    out = a.copy()
    finite = np.isfinite(a) & (a != 0)
    if finite.any():
        x = a[finite]
        decimals = (digits - 1 - np.floor(np.log10(np.abs(x)))).astype(np.int64)
        ok = (decimals >= 0) & (decimals <= 22)  # 10**k exact as a double
        scale = 10.0 ** decimals[ok]
        rounded = x.copy()
        rounded[ok] = np.round(x[ok] * scale) / scale
        out[finite] = rounded
    listed: list[Any] = out.tolist()
    return [None if v is None else r for v, r in zip(values, listed, strict=True)]


def measured_positions(columns: Sequence[str]) -> list[int]:
    """Positions of the measured (float) columns in rows of ``columns``."""
    return [i for i, name in enumerate(columns) if name not in NOT_MEASURED]


def tidy_rows(rows: list[Row], positions: Sequence[int]) -> list[Row]:
    """Rows with the columns at ``positions`` rounded (a new list; rows are copied)."""
    if not rows or not positions:
        return rows
    columns = [list(c) for c in zip(*rows, strict=True)]
    for i in positions:
        columns[i] = significant(columns[i])
    return [list(r) for r in zip(*columns, strict=True)]


def tidy_block(block: Block, columns: Sequence[str]) -> Block:
    """A block (rows of ``[time, *fields]``) of a result with ``columns``, rounded."""
    fields = [name for name in columns if name not in ("device", "metric", "zone", "kind")]
    return Block(block.key, tidy_rows(block.rows, measured_positions(fields)))
