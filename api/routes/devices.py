"""``/api/v1/devices``: register (with MQTT credentials shown once), status, history, import.

Technicians (and admins) write; researchers and operators read. After every change
to credentials the broker's password file and ACL are rewritten and reloaded through
``ctx.broker`` (a :class:`devices.credentials.BrokerSync`, which ``pantau api`` sets)
before the answer; the answer says whether the broker confirmed: ``broker_synced`` in
credentials, the ``X-Pantau-Broker`` header (``confirmed`` or ``not-confirmed``) on
decommission and on changes of kind or gateway.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import context, require
from api.context import AppContext
from api.errors import error_body
from api.params import DeviceId
from devices.credentials import hash_password, issue_password, new_password
from devices.importer import ImportReport, import_csv
from devices.model import CalibrationRecord, Device, MaintenanceEntry
from devices.registry import Registry
from devices.schemas import (
    CalibrationIn,
    CalibrationOut,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    ImportOut,
    ImportProblemOut,
    MaintenanceIn,
    MaintenanceOut,
    MqttCredentials,
    ZoneOut,
)
from devices.status import is_silent_for, statuses
from devices.validation import parse_device
from devices.zones import ZONES
from pantau.errors import InvalidRequest

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["devices"])
READ = Depends(require("researcher", "operator", "technician"))
WRITE = Depends(require("technician"))
Ctx = Annotated[AppContext, Depends(context)]
MAX_CSV_BYTES = 5 * 1024 * 1024


def _registry(ctx: AppContext) -> Registry:
    return Registry(ctx.engine)


BROKER_HEADER = "X-Pantau-Broker"


def _broker_synced(ctx: AppContext, registry: Registry) -> bool:
    if ctx.broker is None:
        return False
    try:
        return ctx.broker(registry).confirmed
    except Exception:
        log.exception("could not rewrite and reload the broker's password file and ACL")
        return False


def _broker_header(response: Response, synced: bool) -> None:
    response.headers[BROKER_HEADER] = "confirmed" if synced else "not-confirmed"


def _broker_url(ctx: AppContext) -> str:
    parts = urlsplit(ctx.mqtt_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 1883}"


def _credentials(ctx: AppContext, device_id: str, password: str, synced: bool) -> MqttCredentials:
    return MqttCredentials(
        username=device_id,
        password=password,
        broker=_broker_url(ctx),
        topic=f"sensors/{device_id}/readings",
        broker_synced=synced,
    )


def _out(ctx: AppContext, devices: list[Device], with_completeness: bool) -> list[DeviceOut]:
    found = statuses(ctx.store if with_completeness else None, devices, datetime.now(UTC))
    return [DeviceOut.of(d, found[d.id]) for d in devices]


def _fields(body: BaseModel) -> dict[str, object]:
    fields: dict[str, object] = body.model_dump(exclude_unset=True)
    siaga = fields.pop("siaga", None)
    if siaga is not None:
        values = list(siaga) if isinstance(siaga, list) else []
        if values and len(values) != 3:
            raise InvalidRequest("siaga needs three thresholds: Siaga 3, 2, 1 (cm)", field="siaga")
        fields.update(zip(("siaga3", "siaga2", "siaga1"), values or [None] * 3, strict=True))
    if isinstance(fields.get("install_date"), date):
        fields["install_date"] = str(fields["install_date"])
    if fields.get("gateway") == "":
        fields["gateway"] = None
    return fields


@router.get("/zones", response_model=list[ZoneOut], dependencies=[READ], summary="Zones")
def list_zones() -> list[ZoneOut]:
    return [ZoneOut.of(z) for z in ZONES]


@router.get("/devices", response_model=list[DeviceOut], dependencies=[READ], summary="Devices")
def list_devices(
    ctx: Ctx,
    zone: Annotated[str | None, Query(max_length=64, examples=["jababeka"])] = None,
    kind: Annotated[str | None, Query(max_length=32, examples=["air_quality"])] = None,
    status: Annotated[str | None, Query(max_length=20, examples=["active"])] = None,
    silent_for: Annotated[
        float | None, Query(gt=0, description="only devices silent for more than N× interval")
    ] = None,
    completeness: Annotated[bool, Query(description="count readings in InfluxDB")] = False,
) -> list[DeviceOut]:
    devices = _registry(ctx).list(zone=zone, kind=kind, status=status)
    if silent_for is not None:
        now = datetime.now(UTC)
        devices = [d for d in devices if is_silent_for(d, now, silent_for)]
    return _out(ctx, devices, completeness)


@router.post(
    "/devices",
    response_model=DeviceCreated,
    status_code=201,
    dependencies=[WRITE],
    summary="Register a device; its MQTT password is in the answer, once",
)
def create_device(body: DeviceIn, ctx: Ctx) -> DeviceCreated:
    device, problems = parse_device(_fields(body), today=datetime.now(UTC).date())
    if device is None:
        text = "; ".join(f"{p.column}: {p.message}" for p in problems)
        raise InvalidRequest(text, field=problems[0].column)
    registry = _registry(ctx)
    password = new_password()
    added = registry.add(device, password_hash=hash_password(password))
    synced = _broker_synced(ctx, registry)
    return DeviceCreated(
        device=_out(ctx, [added], False)[0], mqtt=_credentials(ctx, added.id, password, synced)
    )


@router.post(
    "/devices/import",
    response_model=ImportOut,
    dependencies=[WRITE],
    summary="Register devices from CSV (text/csv body or multipart `file`)",
)
async def import_devices(
    request: Request,
    ctx: Ctx,
    dry_run: Annotated[
        bool, Query(description="check the file and report, change nothing")
    ] = False,
) -> ImportOut | JSONResponse:
    source = "devices.csv"
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest("send the CSV as the multipart field `file`", field="file")
        source = upload.filename or source
        data = await upload.read(MAX_CSV_BYTES + 1)
    else:
        data = await request.body()
    if len(data) > MAX_CSV_BYTES:
        raise InvalidRequest(f"the CSV is larger than {MAX_CSV_BYTES // 1024 // 1024} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidRequest(
            f"problem on line {line}: the CSV must be UTF-8 text (save it as 'CSV UTF-8')",
            field="file",
        ) from None
    registry = _registry(ctx)
    report: ImportReport = await run_in_threadpool(
        import_csv, registry, text, dry_run=dry_run, source=source
    )
    synced = report.created and await run_in_threadpool(_broker_synced, ctx, registry)
    out = ImportOut(
        source=report.source,
        rows=report.rows,
        dry_run=dry_run,
        created=report.created,
        report=report.text(),
        devices=[d.id for d in report.devices],
        problems=[
            ImportProblemOut(line=p.line, column=p.column, message=p.message)
            for p in report.problems
        ],
        credentials=[_credentials(ctx, k, v, synced) for k, v in report.passwords.items()],
    )
    if report.problems and not dry_run:
        body = error_body("import_rejected", out.report, problems=out.model_dump()["problems"])
        return JSONResponse(body, 422)
    return out


@router.get("/devices/{device_id}", response_model=DeviceOut, dependencies=[READ])
def get_device(device_id: DeviceId, ctx: Ctx) -> DeviceOut:
    return _out(ctx, [_registry(ctx).get(device_id)], True)[0]


@router.patch("/devices/{device_id}", response_model=DeviceOut, dependencies=[WRITE])
def update_device(
    device_id: DeviceId, body: DevicePatch, ctx: Ctx, response: Response
) -> DeviceOut:
    registry = _registry(ctx)
    before = registry.get(device_id)
    device = registry.update(device_id, _fields(body))
    changed = (device.gateway, device.kind, device.metrics, device.status) != (
        before.gateway,
        before.kind,
        before.metrics,
        before.status,
    )
    if changed:
        _broker_header(response, _broker_synced(ctx, registry))
    return _out(ctx, [device], False)[0]


@router.delete(
    "/devices/{device_id}",
    response_model=DeviceOut,
    dependencies=[WRITE],
    summary="Decommission: credentials revoked, history kept",
)
def decommission_device(device_id: DeviceId, ctx: Ctx, response: Response) -> DeviceOut:
    registry = _registry(ctx)
    device = registry.decommission(device_id)
    _broker_header(response, _broker_synced(ctx, registry))
    return _out(ctx, [device], False)[0]


@router.post(
    "/devices/{device_id}/credentials",
    response_model=MqttCredentials,
    dependencies=[WRITE],
    summary="Issue a new MQTT password (the old one stops working)",
)
def rotate_credentials(device_id: DeviceId, ctx: Ctx) -> MqttCredentials:
    registry = _registry(ctx)
    password = issue_password(registry, device_id)
    return _credentials(ctx, device_id, password, _broker_synced(ctx, registry))


@router.get(
    "/devices/{device_id}/calibrations", response_model=list[CalibrationOut], dependencies=[READ]
)
def list_calibrations(device_id: DeviceId, ctx: Ctx) -> list[CalibrationOut]:
    registry = _registry(ctx)
    registry.get(device_id)
    return [CalibrationOut.of(c) for c in registry.calibrations(device_id)]


@router.post(
    "/devices/{device_id}/calibrations",
    response_model=CalibrationOut,
    status_code=201,
    dependencies=[WRITE],
)
def add_calibration(device_id: DeviceId, body: CalibrationIn, ctx: Ctx) -> CalibrationOut:
    record = CalibrationRecord(
        device=device_id,
        metric=body.metric,
        coefficients=tuple(body.coefficients),
        effective_from=body.effective_from or datetime.now(UTC),
        by=body.by,
        reference=body.reference,
    )
    return CalibrationOut.of(_registry(ctx).add_calibration(record))


@router.get(
    "/devices/{device_id}/maintenance", response_model=list[MaintenanceOut], dependencies=[READ]
)
def list_maintenance(device_id: DeviceId, ctx: Ctx) -> list[MaintenanceOut]:
    registry = _registry(ctx)
    registry.get(device_id)
    return [MaintenanceOut.of(e) for e in registry.maintenance(device_id)]


@router.post(
    "/devices/{device_id}/maintenance",
    response_model=MaintenanceOut,
    status_code=201,
    dependencies=[WRITE],
)
def add_maintenance(device_id: DeviceId, body: MaintenanceIn, ctx: Ctx) -> MaintenanceOut:
    registry = _registry(ctx)
    entry = MaintenanceEntry(
        device=device_id,
        visited_at=body.visited_at or datetime.now(UTC),
        technician=body.technician,
        action=body.action,
        notes=body.notes,
        photos=tuple(body.photos),
    )
    added = registry.add_maintenance(entry)
    if body.status is not None:
        registry.update(device_id, {"status": body.status})
    return MaintenanceOut.of(added)
