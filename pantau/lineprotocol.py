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
) -> list[str]:
    """One line per reading of the ``readings`` measurement.

    ``device_ids``/``zones``/``kinds`` are indexed by the batch's device index.
    Rows whose raw value is not finite are not encoded (they never reach the store).
    """
    finite = np.isfinite(batch.raw)
    if not finite.all():
        batch = batch.take(finite)
    if len(batch) == 0:
        return []
    value = np.where(np.isfinite(batch.value), batch.value, batch.raw)
    # Column by column: each distinct series' tag set, each distinct (flags, score)
    # pair and (when values repeat) each distinct raw value is formatted once; the
    # value's text is the raw's unless calibration changed it.
    series, series_row = np.unique(batch.series, return_inverse=True)
    heads = [
        schema.READINGS
        + series_tags(device_ids[d], METRIC_NAMES[m], zones[d], kinds[d])
        + f" {schema.FIELD_VALUE}="
        for d, m in zip((series // N_METRICS).tolist(), (series % N_METRICS).tolist(), strict=True)
    ]
    raw_text = _float_texts(batch.raw)
    same = value.view(np.int64) == batch.raw.view(np.int64)  # bit for bit: -0.0 is not 0.0
    value_text = (
        raw_text
        if same.all()
        else [
            r if kept else repr(v)
            for r, kept, v in zip(raw_text, same.tolist(), value.tolist(), strict=True)
        ]
    )
    # flags and score: few distinct pairs, each formatted once
    scores, score_row = np.unique(np.round(batch.score.astype(np.float64), 4), return_inverse=True)
    flags, flag_row = np.unique(batch.flags, return_inverse=True)
    pairs, pair_row = np.unique(flag_row * scores.shape[0] + score_row, return_inverse=True)
    flag_of, score_of = np.divmod(pairs, scores.shape[0])
    tails = [
        f",{schema.FIELD_FLAGS}={f}i,{schema.FIELD_SCORE}={s!r} "
        for f, s in zip(flags[flag_of].tolist(), scores[score_of].tolist(), strict=True)
    ]
    return [
        f"{heads[p]}{v},{schema.FIELD_RAW}={r}{tails[k]}{t}"
        for p, v, r, k, t in zip(
            series_row.tolist(),
            value_text,
            raw_text,
            pair_row.tolist(),
            batch.ts.tolist(),
            strict=True,
        )
    ]


def _float_texts(values: NDArray[np.float64]) -> list[str]:
    """``repr`` of each value; each distinct value formatted once when values repeat
    (sensor readings usually do: a few decimals over a small range)."""
    n = values.shape[0]
    sample = values[:: max(n // 256, 1)]
    if n < 64 or np.unique(sample).shape[0] * 10 > sample.shape[0] * 9:
        return list(map(repr, values.tolist()))  # nearly all distinct: no use looking
    # distinct bit patterns, not values: -0.0 and 0.0 are equal but print differently
    distinct, row = np.unique(values.view(np.int64), return_inverse=True)
    if distinct.shape[0] * 4 > values.shape[0]:
        return list(map(repr, values.tolist()))
    texts = list(map(repr, distinct.view(np.float64).tolist()))
    return [texts[i] for i in row.tolist()]
