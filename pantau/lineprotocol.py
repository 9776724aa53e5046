"""InfluxDB line protocol: escaping and the encoder for the ``readings`` measurement.

Only this module knows line-protocol syntax. Timestamps are nanoseconds (``precision=ns``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from pantau.batch import Batch
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
    return tag_set({"device": device, "metric": metric, "zone": zone, "kind": kind})


@functools.lru_cache(maxsize=1 << 16)
def station_tags(device: str, zone: str) -> str:
    """The tag set of a station's derived series (``ispu``, ``flood``, ``traffic``), cached."""
    return tag_set({"device": device, "zone": zone})


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
    if len(batch) == 0:
        return []
    prefixes: dict[tuple[int, int], str] = {}
    device = batch.device.tolist()
    metric = batch.metric.tolist()
    ts = batch.ts.tolist()
    raw = batch.raw.tolist()
    value = batch.value.tolist()
    flags = batch.flags.tolist()
    score = np.round(batch.score.astype(np.float64), 4).tolist()
    finite = np.isfinite(batch.raw).tolist()
    value_ok = np.isfinite(batch.value).tolist()
    lines: list[str] = []
    append = lines.append
    for i in range(len(ts)):
        if not finite[i]:
            continue
        key = (device[i], metric[i])
        prefix = prefixes.get(key)
        if prefix is None:
            d = key[0]
            prefix = "readings" + series_tags(
                device_ids[d], METRIC_NAMES[key[1]], zones[d], kinds[d]
            )
            prefixes[key] = prefix
        v = value[i] if value_ok[i] else raw[i]
        append(f"{prefix} value={v!r},raw={raw[i]!r},flags={flags[i]}i,score={score[i]!r} {ts[i]}")
    return lines
