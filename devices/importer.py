"""Bulk registration from a CSV file (format in docs/devices.md), with a dry run.

Every problem is reported with its line number (the header is line 1) and column;
a dry run changes nothing, and a real run registers every device or none. New
devices get MQTT passwords in the same transaction; the report carries them once
(:attr:`ImportReport.passwords`) and never prints them in :meth:`ImportReport.text`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from devices.credentials import hash_password, new_password
from devices.model import DEVICE_ID, Device
from devices.registry import Registry
from devices.validation import FIELDS, parse_device
from pantau.errors import Conflict, InvalidRequest

REQUIRED = ("id", "kind", "zone", "latitude", "longitude")
MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    column: str
    message: str

    def text(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    source: str
    rows: int
    devices: tuple[Device, ...]
    problems: tuple[ImportProblem, ...]
    dry_run: bool
    created: bool = False
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        """The human report (never with passwords)."""
        rows = f"{self.rows} row{'s' if self.rows != 1 else ''} checked"
        if self.problems:
            count = len(self.problems)
            head = f"{self.source}: {rows}, {count} problem{'s' if count != 1 else ''}; "
            lines = [head + "nothing was changed"]
            lines += [problem.text() for problem in self.problems]
            return "\n".join(lines)
        ids = ", ".join(d.id for d in self.devices)
        if self.created:
            return f"{self.source}: {rows}, {len(self.devices)} devices registered: {ids}"
        return f"{self.source}: {rows}, no problems; dry run, nothing was changed: {ids}"


def import_csv(
    registry: Registry,
    text: str,
    *,
    dry_run: bool,
    source: str = "devices.csv",
    today: date | None = None,
) -> ImportReport:
    """Check ``text`` and, unless ``dry_run`` or a problem was found, register its devices."""
    today = today or datetime.now(UTC).date()
    devices, problems, rows = check_csv(registry, text, today=today)
    report = ImportReport(source, rows, tuple(devices), tuple(problems), dry_run)
    if dry_run or problems:
        return report
    passwords = {device.id: new_password() for device in devices}
    hashes = {k: hash_password(v) for k, v in passwords.items()}
    try:
        registry.add_many(devices, password_hashes=hashes)
    except (Conflict, InvalidRequest) as exc:  # changed between check and write
        problem = ImportProblem(1, "", f"nothing was registered: {exc}")
        return ImportReport(source, rows, tuple(devices), (problem,), dry_run)
    return ImportReport(source, rows, tuple(devices), (), False, True, passwords)


def check_csv(
    registry: Registry, text: str, *, today: date
) -> tuple[list[Device], list[ImportProblem], int]:
    """Parse and check every row; return the devices, the problems and the row count."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[ImportProblem] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return [], [ImportProblem(1, "", "the file is empty; it needs a header line")], 0
    except csv.Error as exc:
        return [], [ImportProblem(1, "", f"not readable as CSV: {exc}")], 0
    problems += _check_header(header)
    if any(p.message.startswith("required column") for p in problems):
        return [], problems, 0
    devices: list[Device] = []
    lines: dict[str, int] = {}
    gateways: dict[int, str] = {}  # line -> gateway named there
    kinds: dict[str, str] = {}  # id -> kind, as written in the file
    rows = 0
    previous = reader.line_num
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            rows += 1
            if rows > MAX_ROWS:
                problems.append(ImportProblem(start, "", f"more than {MAX_ROWS} rows; split it"))
                break
            if len(record) > len(header):
                problems.append(
                    ImportProblem(
                        start, "", f"{len(record)} values but the header has {len(header)} columns"
                    )
                )
                continue
            fields = {name: value for name, value in zip(header, record, strict=False) if name}
            device, found = parse_device(fields, today=today)
            problems += [ImportProblem(start, p.column, p.message) for p in found]
            device_id = fields.get("id", "").strip()
            problems += _check_id(registry, device_id, lines, start)
            if device is not None:
                devices.append(device)
            gateway = fields.get("gateway", "").strip()
            if gateway and DEVICE_ID.fullmatch(gateway):
                gateways[start] = gateway
            kinds.setdefault(device_id, fields.get("kind", "").strip())
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, "", f"not readable as CSV: {exc}"))
    problems += _check_gateways(registry, kinds, gateways)
    problems.sort(key=lambda p: p.line)
    return devices, problems, rows


def _check_header(header: list[str]) -> list[ImportProblem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(ImportProblem(1, name, f"column {name!r} appears twice"))
        elif name and name not in FIELDS:
            problems.append(
                ImportProblem(1, name, f"unknown column {name!r}; known: {', '.join(FIELDS)}")
            )
        seen.add(name)
    for name in REQUIRED:
        if name not in seen:
            problems.append(ImportProblem(1, name, f"required column {name!r} is missing"))
    return problems


def _check_id(
    registry: Registry, device_id: str, lines: dict[str, int], line: int
) -> list[ImportProblem]:
    if not device_id:
        return []
    if device_id in lines:
        return [
            ImportProblem(
                line, "id", f"id {device_id!r} is already used on line {lines[device_id]}"
            )
        ]
    lines[device_id] = line
    existing = registry.find(device_id)
    if existing is not None:
        return [
            ImportProblem(
                line,
                "id",
                f"device {device_id!r} is already registered "
                f"(status {existing.status}); ids are never reused",
            )
        ]
    return []


def _check_gateways(
    registry: Registry, kinds: dict[str, str], gateways: dict[int, str]
) -> list[ImportProblem]:
    problems = []
    for line, gateway_id in gateways.items():
        registered = registry.find(gateway_id)
        kind = kinds.get(gateway_id) or (registered.kind if registered else None)
        if kind is None:
            message = f"gateway {gateway_id!r} is neither registered nor in this file"
        elif kind != "gateway":
            message = f"{gateway_id!r} is not a gateway (its kind is {kind})"
        elif registered is not None and registered.status == "decommissioned":
            message = f"gateway {gateway_id!r} is decommissioned"
        else:
            continue
        problems.append(ImportProblem(line, "gateway", message))
    return problems
