"""InfluxDB line protocol: escaping and the encoder for the ``readings`` measurement.

Only this module knows line-protocol syntax. Timestamps are nanoseconds (``precision=ns``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pantau import lineblock, schema
from pantau.batch import N_METRICS, Batch
from pantau.catalogue import METRIC_NAMES
from pantau.lineblock import LineBlock, Pieces, readings_lines

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})


def escape_tag(text: str) -> str:
    """Escape a tag key or value (commas, equals signs, spaces)."""
    return text.translate(_TAG_ESCAPES)


def escape_measurement(text: str) -> str:
    return text.translate(_MEASUREMENT_ESCAPES)


def field_string(text: str) -> str:
    """A string field value, quoted, with backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def tag_set(tags: dict[str, str]) -> str:
    """``,k=v,...`` sorted by key (InfluxDB's preferred order); empty values are left out."""
    return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v != "")


@functools.lru_cache(maxsize=1 << 16)
def series_tags(device: str, metric: str, zone: str, kind: str) -> str:
    """The tag set of a reading series (``readings`` and its aggregates), cached."""
    return tag_set(
        {
            schema.TAG_DEVICE: device,
            schema.TAG_METRIC: metric,
            schema.TAG_ZONE: zone,
            schema.TAG_KIND: kind,
        }
    )


@functools.lru_cache(maxsize=1 << 16)
def station_tags(device: str, zone: str) -> str:
    """The tag set of a station's derived series (``ispu``, ``flood``, ``traffic``), cached."""
    return tag_set({schema.TAG_DEVICE: device, schema.TAG_ZONE: zone})


def float_field(value: float) -> str:
    return repr(float(value))


class SeriesHeads:
    """The start of each series' ``readings`` lines (measurement, tag set, `` value=``),
    made once and kept from batch to batch while the zones and kinds are the same lists
    (device ids only grow: an index keeps its id)."""

    def __init__(self) -> None:
        self._tags: tuple[Sequence[str], Sequence[str]] | None = None
        self._row = np.zeros(0, np.int64)  # series id -> index in pieces, or -1
        self.pieces = Pieces()

    def rows(
        self,
        series: NDArray[np.int64],
        *,
        device_ids: Sequence[str],
        zones: Sequence[str],
        kinds: Sequence[str],
    ) -> NDArray[np.int64]:
        """Each row's head, an index into :attr:`pieces` (which it extends as needed)."""
        tags = self._tags
        if tags is None or tags[0] is not zones or tags[1] is not kinds:
            self._tags, self._row, self.pieces = (zones, kinds), np.zeros(0, np.int64), Pieces()
        top = int(series.max()) + 1
        if top > self._row.shape[0]:
            grown = np.full(max(top, 2 * self._row.shape[0]), -1, np.int64)
            grown[: self._row.shape[0]] = self._row
            self._row = grown
        row = self._row[series]
        if (row < 0).any():
            new = np.unique(series[row < 0])
            self._row[new] = len(self.pieces) + np.arange(new.shape[0])
            self.pieces.add(
                [
                    (
                        schema.READINGS
                        + series_tags(device_ids[d], METRIC_NAMES[m], zones[d], kinds[d])
                        + f" {schema.FIELD_VALUE}="
                    ).encode()
                    for d, m in zip(
                        (new // N_METRICS).tolist(), (new % N_METRICS).tolist(), strict=True
                    )
                ]
            )
            row = self._row[series]
        return row


def encode_readings(
    batch: Batch,
    *,
    device_ids: Sequence[str],
    zones: Sequence[str],
    kinds: Sequence[str],
    heads: SeriesHeads | None = None,
) -> LineBlock:
    """One line per reading of the ``readings`` measurement, as one block of bytes.

    ``device_ids``/``zones``/``kinds`` are indexed by the batch's device index.
    Rows whose raw value is not finite are not encoded (they never reach the store).
    Each distinct series' tag set is formatted once (and kept for the next batches in
    ``heads``, if given); a compiled kernel prints every line from those and the columns
    (see :func:`pantau.lineblock.readings_lines`).
    """
    finite = np.isfinite(batch.raw)
    if not finite.all():
        batch = batch.take(finite)
    if len(batch) == 0:
        return LineBlock(b"", np.zeros(0, np.int64))
    value: NDArray[np.float64] = np.where(np.isfinite(batch.value), batch.value, batch.raw)
    heads = SeriesHeads() if heads is None else heads
    head_row = heads.rows(batch.series, device_ids=device_ids, zones=zones, kinds=kinds)
    score = np.round(batch.score.astype(np.float64), 4).astype(np.float64, copy=False)
    return readings_lines(
        heads.pieces,
        head_row,
        (value, batch.raw, score),
        batch.flags,
        batch.ts,
    )


def warm_up() -> None:
    """Compile (or load) the encoder's kernels."""
    lineblock.warm_up()
    encode_readings(
        Batch.from_columns(device=[0], metric=[0], ts=[1], raw=[1.0]),
        device_ids=["d"],
        zones=["z"],
        kinds=["k"],
    )
