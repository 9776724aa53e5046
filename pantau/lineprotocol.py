"""InfluxDB line protocol: escaping and the encoder for the ``readings`` measurement.

Only this module knows line-protocol syntax. Timestamps are nanoseconds (``precision=ns``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pantau import schema
from pantau.batch import N_METRICS, Batch
from pantau.catalogue import METRIC_NAMES
from pantau.lineblock import LineBlock, assemble, pieces

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


def encode_readings(
    batch: Batch,
    *,
    device_ids: Sequence[str],
    zones: Sequence[str],
    kinds: Sequence[str],
) -> LineBlock:
    """One line per reading of the ``readings`` measurement, as one block of bytes.

    ``device_ids``/``zones``/``kinds`` are indexed by the batch's device index.
    Rows whose raw value is not finite are not encoded (they never reach the store).
    Column by column: each distinct series' tag set, each distinct (flags, score) pair
    and (when values repeat) each distinct raw value is formatted once, and a compiled
    kernel puts every line together from those pieces and the timestamps.
    """
    finite = np.isfinite(batch.raw)
    if not finite.all():
        batch = batch.take(finite)
    if len(batch) == 0:
        return LineBlock(b"", np.zeros(0, np.int64))
    value = np.where(np.isfinite(batch.value), batch.value, batch.raw)
    series, series_row = np.unique(batch.series, return_inverse=True)
    heads = [
        (
            schema.READINGS
            + series_tags(device_ids[d], METRIC_NAMES[m], zones[d], kinds[d])
            + f" {schema.FIELD_VALUE}="
        ).encode()
        for d, m in zip((series // N_METRICS).tolist(), (series % N_METRICS).tolist(), strict=True)
    ]
    raw_texts, raw_row = _float_texts(batch.raw)
    # the value's text is the raw's unless calibration changed it (bit for bit: -0.0 is not 0.0)
    changed = np.flatnonzero(value.view(np.int64) != batch.raw.view(np.int64))
    value_texts, value_row = raw_texts, raw_row
    if changed.shape[0]:
        value_texts = raw_texts + list(map(repr, value[changed].tolist()))
        value_row = raw_row.copy()
        value_row[changed] = len(raw_texts) + np.arange(changed.shape[0])
    # flags and score: few distinct pairs, each formatted once
    scores, score_row = np.unique(np.round(batch.score.astype(np.float64), 4), return_inverse=True)
    flags, flag_row = np.unique(batch.flags, return_inverse=True)
    pairs, pair_row = np.unique(flag_row * scores.shape[0] + score_row, return_inverse=True)
    flag_of, score_of = np.divmod(pairs, scores.shape[0])
    tails = [
        f",{schema.FIELD_FLAGS}={f}i,{schema.FIELD_SCORE}={s!r} ".encode()
        for f, s in zip(flags[flag_of].tolist(), scores[score_of].tolist(), strict=True)
    ]
    return assemble(
        [
            (*pieces(heads), series_row.astype(np.int64)),
            (*pieces([t.encode() for t in value_texts]), value_row.astype(np.int64)),
            (
                *pieces([f",{schema.FIELD_RAW}=".encode() + t.encode() for t in raw_texts]),
                raw_row.astype(np.int64),
            ),
            (*pieces(tails), pair_row.astype(np.int64)),
        ],
        batch.ts,
    )


def _float_texts(values: NDArray[np.float64]) -> tuple[list[str], NDArray[np.int64]]:
    """``repr`` of the distinct values and each row's index among them; every row its
    own when values hardly repeat (sensor readings usually do: a few decimals over a
    small range)."""
    n = values.shape[0]
    every = np.arange(n, dtype=np.int64)
    sample = values[:: max(n // 256, 1)]
    if n < 64 or np.unique(sample).shape[0] * 10 > sample.shape[0] * 9:
        return list(map(repr, values.tolist())), every  # nearly all distinct: no use looking
    # distinct bit patterns, not values: -0.0 and 0.0 are equal but print differently
    distinct, row = np.unique(values.view(np.int64), return_inverse=True)
    if distinct.shape[0] * 4 > values.shape[0]:
        return list(map(repr, values.tolist())), every
    return list(map(repr, distinct.view(np.float64).tolist())), row.astype(np.int64)


def warm_up() -> None:
    """Compile (or load) the encoder's kernel."""
    encode_readings(
        Batch.from_columns(device=[0], metric=[0], ts=[1], raw=[1.0]),
        device_ids=["d"],
        zones=["z"],
        kinds=["k"],
    )
