"""Readings → MQTT messages in each payload form of ARCHITECTURE.md.

- ``object``: one reading object per message on ``sensors/<id>/readings``;
- ``array``: a device's backlog, an array of reading objects (up to ``pack`` of them);
- ``senml``: SenML JSON (RFC 8428) records with base name, base time and units;
- ``gateway``: ``{"readings": [{"device": …, "ts": …, "values": {…}}, …]}`` on
  ``gateways/<gateway>/readings``, up to ``pack`` devices' readings per message.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from sandbox.simulate.fleet import DeviceSpec
from sandbox.simulate.signals import SIM_METRICS, Readings

FORMS = ("object", "array", "senml", "gateway")
SENML_UNIT = {
    "pm25": "ug/m3", "pm10": "ug/m3", "o3": "ug/m3", "co": "ug/m3", "no2": "ug/m3",
    "so2": "ug/m3", "temperature": "Cel", "humidity": "%RH", "pressure": "hPa", "rain": "mm",
    "water_level": "cm", "vehicle_count": "count", "speed": "km/h", "occupancy": "%",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    sender: int  # fleet index of the publishing device (a gateway for packs)
    readings: int


def _objects(
    rows: NDArray[np.int64], readings: Readings, seq: NDArray[np.int64] | None
) -> list[dict[str, Any]]:
    values = readings.values[rows].tolist()
    stamps = readings.ts_ms[rows].tolist()
    numbers = seq[rows].tolist() if seq is not None else [-1] * rows.shape[0]
    out = []
    for row, ts, number in zip(values, stamps, numbers, strict=True):
        item: dict[str, Any] = {"ts": ts}
        if number >= 0:
            item["seq"] = number
        item["values"] = {SIM_METRICS[i]: v for i, v in enumerate(row) if v == v}  # not NaN
        out.append(item)
    return out


def _senml(device: str, rows: NDArray[np.int64], readings: Readings) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    base_ms = int(readings.ts_ms[rows[0]])
    for row in rows.tolist():
        offset = (int(readings.ts_ms[row]) - base_ms) / 1000.0
        for i, v in enumerate(readings.values[row].tolist()):
            if v != v:
                continue
            name = SIM_METRICS[i]
            record: dict[str, Any] = {"n": name, "u": SENML_UNIT[name], "v": v}
            if offset:
                record["t"] = offset
            records.append(record)
    if records:
        records[0] = {"bn": f"urn:dev:pantau:{device}:", "bt": base_ms / 1000.0, **records[0]}
    return records


def encode(
    readings: Readings,
    fleet: Sequence[DeviceSpec],
    *,
    form: str = "object",
    pack: int = 10,
    seq: NDArray[np.int64] | None = None,
) -> list[Message]:
    """Messages for the rows of ``readings`` that are sent, each device's in time order."""
    sent = np.flatnonzero(readings.sent)
    if sent.shape[0] == 0:
        return []
    order = sent[np.lexsort((readings.ts_ms[sent], readings.device[sent]))]
    devices = readings.device[order]
    bounds = np.flatnonzero(np.concatenate(([True], devices[1:] != devices[:-1], [True])))
    groups = [order[a:b] for a, b in itertools.pairwise(bounds.tolist())]
    if form == "gateway":
        return _gateway_packs(groups, readings, fleet, pack, seq)
    messages = []
    for rows in groups:
        spec = fleet[int(readings.device[rows[0]])]
        topic = f"sensors/{spec.id}/readings"
        step = 1 if form == "object" else max(pack, 1)
        for start in range(0, rows.shape[0], step):
            part = rows[start : start + step]
            body: Any
            if form == "object":
                body = _objects(part, readings, seq)[0]
            elif form == "array":
                body = _objects(part, readings, seq)
            elif form == "senml":
                body = _senml(spec.id, part, readings)
            else:
                raise ValueError(f"unknown payload form {form!r}; use one of {', '.join(FORMS)}")
            messages.append(Message(topic, orjson.dumps(body), spec.index, part.shape[0]))
    return messages


def _gateway_packs(
    groups: list[NDArray[np.int64]],
    readings: Readings,
    fleet: Sequence[DeviceSpec],
    pack: int,
    seq: NDArray[np.int64] | None,
) -> list[Message]:
    index = {s.id: s.index for s in fleet}
    by_gateway: dict[str, list[dict[str, Any]]] = {}
    for rows in groups:
        spec = fleet[int(readings.device[rows[0]])]
        if spec.gateway is None:
            raise ValueError(f"{spec.id} has no gateway; plan the fleet with gateways=True")
        entries = by_gateway.setdefault(spec.gateway, [])
        for item in _objects(rows, readings, seq):
            entries.append({"device": spec.id, **item})
    messages = []
    for gateway, entries in by_gateway.items():
        for start in range(0, len(entries), max(pack, 1)):
            part = entries[start : start + max(pack, 1)]
            body = orjson.dumps({"readings": part})
            topic = f"gateways/{gateway}/readings"
            messages.append(Message(topic, body, index[gateway], len(part)))
    return messages
