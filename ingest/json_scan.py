"""The common form's JSON, byte by byte, for the compiled chunk scan (:mod:`ingest.chunk_scan`).

One payload — a reading object or an array of them — is read into the scan's row
columns, or declared "not sure" (-1), for anything but the plain common form: see
:mod:`ingest.chunk_scan` for what is accepted. Numbers are converted exactly or
not at all: a decimal mantissa of at most 15 significant digits times or divided
by a power of ten up to 10**22 (both exact doubles: one correctly rounded
operation, Clinger's fast path).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import inlined, loop_kernel

I64 = NDArray[np.int64]


@inlined
def _space(data: NDArray[np.uint8], at: int) -> int:  # pragma: no cover - compiled
    n = data.shape[0]
    while at < n and (data[at] == 32 or data[at] == 10 or data[at] == 13 or data[at] == 9):
        at += 1
    return at


@inlined
def _integer(data: NDArray[np.uint8], at: int) -> tuple[int, int]:  # pragma: no cover
    """An integer token: (position after it, value); position -1 if not a plain integer
    of at most 18 digits."""
    n = data.shape[0]
    negative = at < n and data[at] == 45
    if negative:
        at += 1
    first = at
    value = 0
    while at < n and 48 <= data[at] <= 57:
        value = value * 10 + (data[at] - 48)
        at += 1
    digits = at - first
    if digits == 0 or digits > 18 or (digits > 1 and data[first] == 48):
        return -1, 0
    if at < n and (data[at] == 46 or data[at] == 101 or data[at] == 69):  # . e E
        return -1, 0
    return at, -value if negative else value


@inlined
def _number(  # pragma: no cover - compiled
    data: NDArray[np.uint8], at: int, powers: NDArray[np.float64]
) -> tuple[int, float]:
    """A JSON number converted exactly (Clinger's fast path); position -1 otherwise."""
    n = data.shape[0]
    negative = at < n and data[at] == 45
    if negative:
        at += 1
    mantissa = 0
    significant = 0
    exponent = 0
    first = at
    while at < n and 48 <= data[at] <= 57:
        if mantissa > 0 or data[at] != 48:
            significant += 1
        mantissa = mantissa * 10 + (data[at] - 48)
        at += 1
        if significant > 15:
            return -1, 0.0
    if at == first or (at - first > 1 and data[first] == 48):
        return -1, 0.0
    if at < n and data[at] == 46:  # fraction
        at += 1
        start = at
        while at < n and 48 <= data[at] <= 57:
            if mantissa > 0 or data[at] != 48:
                significant += 1
            mantissa = mantissa * 10 + (data[at] - 48)
            exponent -= 1
            at += 1
            if significant > 15:
                return -1, 0.0
        if at == start:
            return -1, 0.0
    if at < n and (data[at] == 101 or data[at] == 69):  # exponent
        at += 1
        sign = 1
        if at < n and (data[at] == 43 or data[at] == 45):
            sign = -1 if data[at] == 45 else 1
            at += 1
        start = at
        power = 0
        while at < n and 48 <= data[at] <= 57:
            power = power * 10 + (data[at] - 48)
            at += 1
            if power > 1000:
                return -1, 0.0
        if at == start:
            return -1, 0.0
        exponent += sign * power
    if mantissa == 0:
        value = 0.0
    elif exponent >= 0:
        if exponent > 22:
            return -1, 0.0
        value = float(mantissa) * powers[exponent]
    else:
        if exponent < -22:
            return -1, 0.0
        value = float(mantissa) / powers[-exponent]
    return at, -value if negative else value


@inlined
def _key(data: NDArray[np.uint8], at: int) -> tuple[int, int]:  # pragma: no cover
    """A string without escapes: (position after its closing quote, its start); -1 if not."""
    n = data.shape[0]
    if at >= n or data[at] != 34:
        return -1, 0
    start = at + 1
    at = start
    while at < n and data[at] != 34:
        if data[at] == 92 or data[at] < 32:
            return -1, 0
        at += 1
    if at >= n:
        return -1, 0
    return at + 1, start


@inlined
def _metric(  # pragma: no cover - compiled
    data: NDArray[np.uint8], start: int, stop: int, names: NDArray[np.uint8], lengths: I64
) -> int:
    length = stop - start
    for m in range(lengths.shape[0]):
        if lengths[m] != length:
            continue
        same = True
        for j in range(length):
            if data[start + j] != names[m, j]:
                same = False
                break
        if same:
            return m
    return -1


@loop_kernel
def _reading(  # pragma: no cover - compiled
    data: NDArray[np.uint8], at: int, names: NDArray[np.uint8], lengths: I64,
    powers: NDArray[np.float64], ts_low: int, ts_high: int,
    ts: I64, seq: I64, metric: I64, raw: NDArray[np.float64], row: int,
) -> tuple[int, int]:  # fmt: skip
    """One reading object at ``at``: (position after it, rows so far); -1 if unsure."""
    if data[at] != 123:  # {
        return -1, row
    at = _space(data, at + 1)
    first_row = row
    have_ts = have_seq = have_values = False
    ts_value = 0
    seq_value = -1
    if at < data.shape[0] and data[at] == 125:  # {} has no ts
        return -1, row
    while True:
        at, start = _key(data, at)
        if at < 0:
            return -1, row
        length = at - 1 - start
        at = _space(data, at)
        if at >= data.shape[0] or data[at] != 58:  # :
            return -1, row
        at = _space(data, at + 1)
        if length == 2 and data[start] == 116 and data[start + 1] == 115:  # ts
            if have_ts:
                return -1, row
            have_ts = True
            at, ts_value = _integer(data, at)
            if at < 0 or not ts_low <= ts_value < ts_high:
                return -1, row
        elif (
            length == 3 and data[start] == 115 and data[start + 1] == 101 and data[start + 2] == 113
        ):
            if have_seq:  # seq
                return -1, row
            have_seq = True
            at, seq_value = _integer(data, at)
            if at < 0 or seq_value < -1:
                return -1, row
        elif length == 6 and data[start] == 118 and data[start + 5] == 115:  # values
            if have_values or data[start + 1] != 97 or data[start + 2] != 108:
                return -1, row
            if data[start + 3] != 117 or data[start + 4] != 101:
                return -1, row
            have_values = True
            if at >= data.shape[0] or data[at] != 123:
                return -1, row
            at = _space(data, at + 1)
            seen = 0
            if at < data.shape[0] and data[at] == 125:
                at += 1
            else:
                while True:
                    at, name = _key(data, at)
                    if at < 0:
                        return -1, row
                    m = _metric(data, name, at - 1, names, lengths)
                    if m < 0 or (seen >> m) & 1:
                        return -1, row
                    seen |= 1 << m
                    at = _space(data, at)
                    if at >= data.shape[0] or data[at] != 58:
                        return -1, row
                    at, value = _number(data, _space(data, at + 1), powers)
                    if at < 0 or row >= raw.shape[0]:
                        return -1, row
                    metric[row] = m
                    raw[row] = value
                    row += 1
                    at = _space(data, at)
                    if at < data.shape[0] and data[at] == 44:
                        at = _space(data, at + 1)
                        continue
                    if at < data.shape[0] and data[at] == 125:
                        at += 1
                        break
                    return -1, row
        else:
            return -1, row
        at = _space(data, at)
        if at < data.shape[0] and data[at] == 44:
            at = _space(data, at + 1)
            continue
        if at < data.shape[0] and data[at] == 125:
            at += 1
            break
        return -1, row
    if not (have_ts and have_values):
        return -1, row
    for r in range(first_row, row):
        ts[r] = ts_value
        seq[r] = seq_value
    return at, row


@loop_kernel
def payload_rows(  # pragma: no cover - compiled
    data: NDArray[np.uint8], names: NDArray[np.uint8], lengths: I64,
    powers: NDArray[np.float64], max_items: int, ts_low: int, ts_high: int,
    ts: I64, seq: I64, metric: I64, raw: NDArray[np.float64], row: int,
) -> int:  # fmt: skip
    """Rows written so far after this payload, or -1 when not sure (its rows are void)."""
    n = data.shape[0]
    at = _space(data, 0)
    if at >= n:
        return -1
    if data[at] == 91:  # [
        at = _space(data, at + 1)
        items = 0
        if at < n and data[at] == 93:
            at += 1
        else:
            while True:
                if at >= n:
                    return -1
                at, row = _reading(
                    data, at, names, lengths, powers, ts_low, ts_high, ts, seq, metric, raw, row
                )
                if at < 0:
                    return -1
                items += 1
                if items > max_items:
                    return -1
                at = _space(data, at)
                if at < n and data[at] == 44:
                    at = _space(data, at + 1)
                    continue
                if at < n and data[at] == 93:
                    at += 1
                    break
                return -1
    else:
        at, row = _reading(
            data, at, names, lengths, powers, ts_low, ts_high, ts, seq, metric, raw, row
        )
        if at < 0:
            return -1
    if _space(data, at) != n:
        return -1
    return row
