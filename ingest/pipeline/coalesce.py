"""Aggregate and derived rows of several chunks, coalesced before they become lines.

The worker writes a window's aggregate (and a station's ISPU) once per flush, not
once per chunk: of the rows with the same coalescing key (see
:func:`ingest.pipeline.encode.derived_lines`) only the latest is written. Building
every chunk's lines and letting later ones replace earlier ones costs a Python
string per row per chunk — with one reading per message, about a line per reading.
Here the chunks' outputs are held as they are, the latest row of each key is found
with NumPy, and only those rows become lines. The lines are exactly those the
line-by-line coalescing keeps (a test compares the two).

Chunks are coalesced together only while the device tags (ids, zones, kinds) they
were encoded with agree; when they change (a registry update), the chunks held so
far are turned into lines first, with their own tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.encode import derived_lines
from ingest.pipeline.output import Aggregates, FloodRows, PipelineOutput, TrafficRows
from pantau.batch import Batch

_NO_READINGS = Batch.empty()


@dataclass(frozen=True)
class _Held:
    output: PipelineOutput
    device_ids: Sequence[str]
    zones: Sequence[str]
    kinds: Sequence[str]


class DerivedLines:
    """The latest line per coalescing key of the outputs added since the last :meth:`take`."""

    def __init__(self) -> None:
        self._held: list[_Held] = []
        self._lines: dict[str, str] = {}  # of chunks already turned into lines

    def add(
        self,
        output: PipelineOutput,
        *,
        device_ids: Sequence[str],
        zones: Sequence[str],
        kinds: Sequence[str],
    ) -> None:
        # the readings are not needed here: holding them would hold every chunk until a flush
        held = _Held(replace(output, batch=_NO_READINGS), device_ids, zones, kinds)
        if self._held and not _same_tags(self._held[-1], held):
            self._materialise()
        self._held.append(held)

    def take(self) -> list[str]:
        """The coalesced lines not taken yet (and forget them)."""
        self._materialise()
        lines = list(self._lines.values())
        self._lines.clear()
        return lines

    def _materialise(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        outputs = [h.output for h in held]
        keep = {
            "aggregates_1m": _last([_window_key(o.aggregates_1m) for o in outputs]),
            "aggregates_1h": _last([_window_key(o.aggregates_1h) for o in outputs]),
            "ispu": _last([o.ispu.device.astype(np.int64)[:, None] for o in outputs]),
            "flood": _last([_station_key(o.flood) for o in outputs]),
            "traffic": _last([_station_key(o.traffic) for o in outputs]),
        }
        for i, h in enumerate(held):
            kept = replace(
                h.output, **{name: _rows(getattr(h.output, name), keep[name][i]) for name in keep}
            )
            for key, line in derived_lines(
                kept, device_ids=h.device_ids, zones=h.zones, kinds=h.kinds
            ):
                self._lines[key] = line


def _same_tags(a: _Held, b: _Held) -> bool:
    """Whether every device ``a`` knew has the same id, zone and kind in ``b`` (the
    device index only grows)."""
    n = len(a.device_ids)
    return all(
        x is y or list(y[:n]) == list(x)
        for x, y in ((a.device_ids, b.device_ids), (a.zones, b.zones), (a.kinds, b.kinds))
    )


def _window_key(agg: Aggregates) -> NDArray[np.int64]:
    return np.stack((agg.series, agg.window_start_ns), axis=1)


def _station_key(rows: FloodRows | TrafficRows) -> NDArray[np.int64]:
    return np.stack((rows.device.astype(np.int64), rows.ts_ns), axis=1)


def _last(keys: list[NDArray[np.int64]]) -> list[NDArray[np.bool_]]:
    """Per chunk, which of its rows is the last one (across all chunks) of its key."""
    sizes = [k.shape[0] for k in keys]
    every = np.concatenate(keys) if keys else np.zeros((0, 1), np.int64)
    n = every.shape[0]
    mask = np.zeros(n, np.bool_)
    if n:
        _, first_of_reversed = np.unique(every[::-1], axis=0, return_index=True)
        mask[n - 1 - first_of_reversed] = True
    return np.split(mask, np.cumsum(sizes)[:-1])


def _rows(table: Any, mask: NDArray[np.bool_]) -> Any:
    """The rows of a columnar table (Aggregates, IspuRows, ...) that ``mask`` selects."""
    if mask.all():
        return table
    return type(table)(**{f.name: getattr(table, f.name)[mask] for f in fields(table)})
