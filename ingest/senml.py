"""SenML JSON (RFC 8428) records → readings, with base-value resolution and unit conversion."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ingest.readings import Columns, Rejection
from ingest.units import converter, known_units
from pantau.batch import NO_SEQ
from pantau.catalogue import METRIC_INDEX

SENML_KEYS = frozenset(
    {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
)
_RELATIVE_LIMIT = 2**28  # RFC 8428 §4.5.3: smaller times are relative to "now"


def looks_like_senml(document: Any) -> bool:
    return (
        isinstance(document, list)
        and bool(document)
        and all(
            isinstance(r, dict) and "values" not in r and r.keys() & SENML_KEYS for r in document
        )
    )


def decode_senml(
    records: list[dict[str, Any]],
    *,
    device: str,
    received_ns: int,
    out: Columns,
    check_time: Callable[[int], str | None],
) -> list[Rejection]:
    problems: list[Rejection] = []
    base_name, base_time, base_unit, base_value = "", 0.0, "", 0.0
    for number, record in enumerate(records):
        base_name = _text(record.get("bn"), base_name)
        base_unit = _text(record.get("bu"), base_unit)
        if isinstance(record.get("bt"), int | float):
            base_time = float(record["bt"])
        if isinstance(record.get("bv"), int | float):
            base_value = float(record["bv"])
        if not ({"v", "s"} & record.keys()):
            if {"vs", "vb", "vd"} & record.keys():
                problems.append(
                    Rejection("bad_value", f"record {number}: only numeric values", device)
                )
            continue
        name = base_name + _text(record.get("n"), "")
        metric = _metric_name(name, device)
        index = METRIC_INDEX.get(metric)
        if index is None:
            problems.append(Rejection("unknown_metric", f"record {number}: {metric!r}", device))
            continue
        raw = record.get("v", record.get("s"))
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            problems.append(
                Rejection("bad_value", f"record {number}: value is not a number", device)
            )
            continue
        value = base_value + float(raw)
        unit = _text(record.get("u"), base_unit)
        if unit:
            convert = converter(metric, unit)
            if convert is None:
                units = ", ".join(known_units(metric))
                problems.append(
                    Rejection("bad_unit", f"{metric}: unit {unit!r} unknown (use {units})", device)
                )
                continue
            value = convert(value)
        if not math.isfinite(value):
            problems.append(Rejection("non_finite", f"record {number}: {metric}", device))
            continue
        when = base_time + float(record.get("t", 0.0) or 0.0)
        if abs(when) < _RELATIVE_LIMIT:
            ts = received_ns + int(when * 1e9)
        else:
            ts = round(when * 1e6) * 1000
        problem = check_time(ts)
        if problem:
            problems.append(Rejection("bad_timestamp", f"record {number}: {problem}", device))
            continue
        out.add(device, index, ts, value, NO_SEQ)
    return problems


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _metric_name(name: str, device: str) -> str:
    for separator in (":", "/"):
        if separator in name:
            name = name.rsplit(separator, 1)[1]
    if name.startswith(device + "_"):
        name = name[len(device) + 1 :]
    return name
