"""Line protocol for a PipelineOutput: readings, readings_1m, readings_1h, ispu, flood, traffic.

Schema (ARCHITECTURE.md "InfluxDB schema"): aggregates carry the readings' tags
(device, metric, zone, kind) and fields mean, min, max, count, flags; ``ispu`` tags
zone, device with fields index, category, dominant; ``flood`` tags device, zone with
fields level_cm, status, rising and rise_cm_per_h (absent for a first reading);
``traffic`` tags device, zone with fields level and source (speed or occupancy).
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.pipeline.output import (
    FLOOD_STATUS,
    ISPU_CATEGORIES,
    TRAFFIC_LEVELS,
    Aggregates,
    PipelineOutput,
)
from pantau import schema as s
from pantau.catalogue import METRIC_NAMES
from pantau.lineprotocol import (
    encode_readings,
    field_string,
    float_field,
    series_tags,
    station_tags,
)


def _aggregate_lines(
    measurement: str,
    agg: Aggregates,
    device_ids: Sequence[str],
    zones: Sequence[str],
    kinds: Sequence[str],
) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    cols = zip(
        agg.device.tolist(),
        agg.metric.tolist(),
        agg.window_start_ns.tolist(),
        agg.mean.tolist(),
        agg.min.tolist(),
        agg.max.tolist(),
        agg.count.tolist(),
        agg.flags.tolist(),
        strict=True,
    )
    for d, m, ts, mean, lo, hi, count, flags in cols:
        series = measurement + series_tags(device_ids[d], METRIC_NAMES[m], zones[d], kinds[d])
        lines.append(
            (
                f"{series} {ts}",
                f"{series} {s.FIELD_MEAN}={float_field(mean)},{s.FIELD_MIN}={float_field(lo)},"
                f"{s.FIELD_MAX}={float_field(hi)},{s.FIELD_COUNT}={count}i,"
                f"{s.FIELD_FLAGS}={flags}i {ts}",
            )
        )
    return lines


def derived_lines(
    out: PipelineOutput,
    *,
    device_ids: Sequence[str],
    zones: Sequence[str],
    kinds: Sequence[str],
) -> list[tuple[str, str]]:
    """Lines of everything but the readings, each with a key for coalescing.

    Lines with the same key replace each other (the later one wins): a window
    aggregate by series and window, ``ispu`` by station (its latest value), ``flood``
    and ``traffic`` by station and time (every one is kept). A caller may keep the
    latest line per key across several outputs and write them together.
    """
    lines = _aggregate_lines(s.READINGS_1M, out.aggregates_1m, device_ids, zones, kinds)
    lines += _aggregate_lines(s.READINGS_1H, out.aggregates_1h, device_ids, zones, kinds)
    ispu = out.ispu
    for d, ts, index, cat, dom in zip(
        ispu.device.tolist(),
        ispu.ts_ns.tolist(),
        ispu.index.tolist(),
        ispu.category.tolist(),
        ispu.dominant.tolist(),
        strict=True,
    ):
        series = s.ISPU + station_tags(device_ids[d], zones[d])
        lines.append(
            (
                series,
                f"{series} {s.FIELD_INDEX}={index}i,"
                f"{s.FIELD_CATEGORY}={field_string(ISPU_CATEGORIES[cat])},"
                f"{s.FIELD_DOMINANT}={field_string(METRIC_NAMES[dom])} {ts}",
            )
        )
    fl = out.flood
    for d, ts, level, status, rise, rising in zip(
        fl.device.tolist(),
        fl.ts_ns.tolist(),
        fl.level_cm.tolist(),
        fl.status.tolist(),
        fl.rise_cm_per_h.tolist(),
        fl.rising.tolist(),
        strict=True,
    ):
        series = s.FLOOD + station_tags(device_ids[d], zones[d])
        rise_field = "" if rise != rise else f",{s.FIELD_RISE}={float_field(rise)}"
        lines.append(
            (
                f"{series} {ts}",
                f"{series} {s.FIELD_LEVEL_CM}={float_field(level)},"
                f"{s.FIELD_STATUS}={field_string(FLOOD_STATUS[status])},"
                f"{s.FIELD_RISING}={'true' if rising else 'false'}{rise_field} {ts}",
            )
        )
    tr = out.traffic
    for d, ts, m, level in zip(
        tr.device.tolist(), tr.ts_ns.tolist(), tr.metric.tolist(), tr.level.tolist(), strict=True
    ):
        series = s.TRAFFIC + station_tags(device_ids[d], zones[d])
        lines.append(
            (
                f"{series} {ts}",
                f"{series} {s.FIELD_LEVEL}={field_string(TRAFFIC_LEVELS[level])},"
                f"{s.FIELD_SOURCE}={field_string(METRIC_NAMES[m])} {ts}",
            )
        )
    return lines


def encode_output(
    out: PipelineOutput,
    *,
    device_ids: Sequence[str],
    zones: Sequence[str],
    kinds: Sequence[str],
) -> list[str]:
    """All line-protocol lines of one output (sequences indexed by device index)."""
    lines = encode_readings(out.batch, device_ids=device_ids, zones=zones, kinds=kinds)
    derived = derived_lines(out, device_ids=device_ids, zones=zones, kinds=kinds)
    return lines + [line for _, line in derived]
