"""Payload decoders: every accepted form of ARCHITECTURE.md → reading columns or rejections.

The form is detected by topic and shape: one reading object, an array of them
(a backlog), SenML records, a gateway pack, or a status message. Decoding is
pure: what a device may do comes from the :class:`Directory` passed in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from ingest.common_form import decode_common
from ingest.readings import MAX_TS_NS, MIN_TS_NS, Columns, Rejection, StatusUpdate
from ingest.senml import decode_senml, looks_like_senml
from pantau.batch import NO_SEQ
from pantau.catalogue import METRIC_INDEX
from pantau.flags import DEVICE_FLAGS

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
MAX_READINGS_PER_MESSAGE = 100_000


class Directory(Protocol):
    """What the decoder needs to know about devices (the registry cache provides it)."""

    def accepts(self, device: str) -> str | None:
        """None if readings from ``device`` are accepted, else a rejection reason code."""

    def gateway_allows(self, gateway: str, device: str) -> bool: ...


@dataclass(slots=True)
class Decoded:
    rejections: list[Rejection]
    status: StatusUpdate | None = None
    readings: int = 0


def decode(
    topic: str,
    payload: bytes,
    *,
    received_ns: int,
    directory: Directory,
    out: Columns,
    max_payload: int,
) -> Decoded:
    """Decode one message, appending its readings to ``out``."""
    if len(payload) > max_payload:
        return Decoded([Rejection("oversized", f"{len(payload)} bytes > limit {max_payload}")])
    parts = topic.split("/")
    if (
        len(parts) != 3
        or parts[0] not in ("sensors", "gateways")
        or not DEVICE_ID.fullmatch(parts[1])
    ):
        return Decoded([Rejection("bad_topic", f"topic {topic[:120]!r} is not sensors/<id>/…")])
    source, kind = parts[1], parts[2]
    if parts[0] == "sensors" and kind == "readings" and directory.accepts(source) is None:
        count = decode_common(source, payload, out, max_items=MAX_READINGS_PER_MESSAGE)
        if count is not None:
            return Decoded([], readings=count)
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        reason = "invalid_utf8" if "utf-8" in str(exc).lower() else "invalid_json"
        return Decoded([Rejection(reason, str(exc)[:200], parts[1])])
    if parts[0] == "sensors" and kind == "status":
        return _status(source, document, received_ns)
    if kind != "readings":
        return Decoded([Rejection("bad_topic", f"unknown topic kind {kind!r}", source)])
    start = len(out)
    if parts[0] == "gateways":
        problems = _gateway(source, document, received_ns, directory, out)
    else:
        refusal = directory.accepts(source)
        if refusal:
            return Decoded([Rejection(refusal, f"device {source!r}", source)])
        problems = _device_document(source, document, received_ns, out)
    return Decoded(problems, readings=len(out) - start)


def _device_document(device: str, document: Any, received_ns: int, out: Columns) -> list[Rejection]:
    if isinstance(document, dict):
        return _readings(device, [document], received_ns, out)
    if looks_like_senml(document):
        return decode_senml(
            document, device=device, received_ns=received_ns, out=out, check_time=_time_problem
        )
    if isinstance(document, list):
        if len(document) > MAX_READINGS_PER_MESSAGE:
            return [Rejection("oversized", f"{len(document)} readings in one message", device)]
        return _readings(device, document, received_ns, out)
    return [Rejection("wrong_shape", "expected a reading object, an array or SenML", device)]


def _readings(device: str, items: list[Any], received_ns: int, out: Columns) -> list[Rejection]:
    """Reading objects of one device, one at a time: what it can, it accepts; what it
    cannot, it says. (A message entirely in the common form never gets here: see
    :mod:`ingest.common_form`.)"""
    problems: list[Rejection] = []
    for item in items:
        problems += _reading(device, item, received_ns, out)
    return problems


def _gateway(
    gateway: str, document: Any, received_ns: int, directory: Directory, out: Columns
) -> list[Rejection]:
    entries = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return [Rejection("wrong_shape", 'a gateway pack is {"readings": [...]}', gateway)]
    problems: list[Rejection] = []
    for number, entry in enumerate(entries):
        device = entry.get("device") if isinstance(entry, dict) else None
        if not isinstance(device, str) or not DEVICE_ID.fullmatch(device):
            problems.append(Rejection("wrong_shape", f"entry {number}: no valid 'device'", gateway))
            continue
        refusal = directory.accepts(device)
        if refusal:
            problems.append(Rejection(refusal, f"entry {number}: device {device!r}", device))
        elif not directory.gateway_allows(gateway, device):
            problems.append(
                Rejection(
                    "gateway_not_allowed", f"{device!r} is not assigned to {gateway!r}", device
                )
            )
        else:
            problems += _reading(device, entry, received_ns, out)
    return problems


def _reading(device: str, item: Any, received_ns: int, out: Columns) -> list[Rejection]:
    if not isinstance(item, dict) or not isinstance(item.get("values"), dict):
        return [Rejection("wrong_shape", 'a reading is {"ts": …, "values": {…}}', device)]
    ts, problem = _timestamp(item.get("ts"), received_ns)
    if problem:
        return [Rejection("bad_timestamp", problem, device)]
    seq = item.get("seq", NO_SEQ)
    if not isinstance(seq, int) or isinstance(seq, bool) or not -1 <= seq < 2**63:
        return [Rejection("bad_seq", f"seq must be a non-negative integer, not {seq!r}", device)]
    flags = item.get("flags", 0)
    if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~DEVICE_FLAGS:
        return [
            Rejection(
                "bad_flags", f"flags may only hold {DEVICE_FLAGS} (BOUND), not {flags!r}", device
            )
        ]
    problems: list[Rejection] = []
    for name, value in item["values"].items():
        index = METRIC_INDEX.get(name)
        if index is None:
            problems.append(Rejection("unknown_metric", f"{name[:40]!r}", device))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(
                Rejection("bad_value", f"{name}: {str(value)[:40]!r} is not a number", device)
            )
        elif not math.isfinite(value):
            problems.append(Rejection("non_finite", f"{name}: {value}", device))
        else:
            if flags:
                out.flagged[len(out)] = flags
            out.add(device, index, ts, float(value), seq)
    return problems


def _timestamp(value: Any, received_ns: int) -> tuple[int, str | None]:
    if value is None:
        return received_ns, None
    if isinstance(value, bool):
        return 0, "ts must be epoch milliseconds or ISO-8601"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return 0, "ts is not finite"
        ts = round(value * 1000) * 1000
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0, f"ts {value[:40]!r} is not ISO-8601"
        if moment.tzinfo is None:
            return 0, f"ts {value[:40]!r} has no UTC offset"
        ts = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    else:
        return 0, "ts must be epoch milliseconds or ISO-8601"
    return ts, _time_problem(ts)


def _time_problem(ts: int) -> str | None:
    if not MIN_TS_NS <= ts < MAX_TS_NS:
        return f"ts {ts // 1_000_000} ms is outside 2000–2100 (ts is epoch milliseconds)"
    return None


def _status(device: str, document: Any, received_ns: int) -> Decoded:
    if isinstance(document, str):
        document = {"state": document}
    if not isinstance(document, dict) or document.get("state") not in ("online", "offline"):
        return Decoded(
            [Rejection("wrong_shape", 'status is {"state": "online"|"offline"}', device)]
        )
    firmware = document.get("firmware")
    battery = document.get("battery")
    return Decoded(
        [],
        status=StatusUpdate(
            device=device,
            online=document["state"] == "online",
            firmware=str(firmware)[:64] if firmware is not None else None,
            battery=float(battery)
            if isinstance(battery, int | float) and math.isfinite(battery)
            else None,
            at_ns=received_ns,
        ),
    )
