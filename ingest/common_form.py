"""The common form of a device's readings, decoded and checked in one pass by msgspec.

Most messages are one reading object or an array of them with an epoch-ms ``ts``, an
integer ``seq`` (or none) and finite numbers for known metrics. msgspec parses such
a payload straight into typed objects, checking the types and the ``ts``/``seq``
ranges in C, about twice as fast as parsing to dicts and checking them in Python.
Anything else (another form, a wrong type, an unknown metric, a value that is not
finite) returns ``None``, and :func:`ingest.decode.decode` takes its careful path,
which accepts what it can and says what it cannot. This module is the only user of
msgspec.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

from ingest.readings import MAX_TS_NS, MIN_TS_NS, Columns
from pantau.batch import NO_SEQ
from pantau.catalogue import METRIC_INDEX

_MS = 1_000_000  # ns


class _Reading(msgspec.Struct, gc=False):
    ts: Annotated[int, msgspec.Meta(ge=MIN_TS_NS // _MS, lt=MAX_TS_NS // _MS)]  # epoch ms
    values: dict[str, float]
    seq: Annotated[int, msgspec.Meta(ge=NO_SEQ, le=2**63 - 1)] = NO_SEQ
    flags: int = 0  # a reading with flags takes the careful path


_DECODER = msgspec.json.Decoder(list[_Reading] | _Reading)


def decode_common(device: str, payload: bytes, out: Columns, *, max_items: int) -> int | None:
    """Append the payload's readings to ``out`` and return their number, or return
    ``None`` (``out`` unchanged) if the payload is not entirely in the common form."""
    try:
        document = _DECODER.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    items = document if isinstance(document, list) else [document]
    if len(items) > max_items or any(item.flags for item in items):
        return None
    metrics, raws = out.metric, out.raw
    start = len(raws)
    index_of = METRIC_INDEX.get
    one_each = True  # one metric in every reading, the usual case
    for item in items:
        values = item.values
        if len(values) != 1:
            one_each = False
        for name, value in values.items():
            metrics.append(index_of(name, -1))
            raws.append(value)
    added = len(raws) - start
    if -1 in metrics[start:] or not all(map(math.isfinite, raws[start:])):
        del metrics[start:], raws[start:]
        return None
    if one_each:
        out.ts.extend([item.ts * _MS for item in items])
        out.seq.extend([item.seq for item in items])
    else:
        for item in items:
            k = len(item.values)
            out.ts.extend([item.ts * _MS] * k)
            out.seq.extend([item.seq] * k)
    out.extend_device(device, added)
    return added
