"""A device's fields are declared once, by :class:`devices.model.Device`.

The CSV columns and registration's validation derive from it
(:func:`devices.model.description_columns`); every other form is compared with
it here, so a field added to one form and not the others fails a test naming the
form: the table, the migrations, the rows, validation, the API's schemas, the
CLI and the ingest path's view.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime

import sqlalchemy as sa

from devices import tables
from devices.commands import _ADD_FIELDS
from devices.model import RECORDED_FIELDS, SIAGA_COLUMNS, Device
from devices.rows import device_of, device_values
from devices.schemas import DeviceIn, DeviceOut, DevicePatch, StatusOut
from devices.validation import FIELDS, device_fields, parse_device
from ingest.pipeline.config import DeviceInfo
from pantau.database import open_engine

DEVICE_FIELDS = tuple(f.name for f in fields(Device))
DESCRIPTION = tuple(n for n in DEVICE_FIELDS if n not in RECORDED_FIELDS)
#: columns of the table that are the registry's bookkeeping, not the device's
BOOKKEEPING = {"updated_at", "decommissioned_at"}
#: what DeviceOut says beyond the device's fields
OUT_EXTRA = {"topic", "state"}

WATER = Device(
    id="wl-kalimalang-02",
    kind="water_level",
    model="Vegapuls C 21",
    zone="jababeka",
    latitude=-6.29,
    longitude=107.15,
    address="Jembatan Kalimalang",
    install_date=date(2026, 11, 1),
    interval_s=120,
    metrics=("water_level",),
    units=("cm",),
    siaga=(150.0, 200.0, 250.0),
    status="maintenance",
    owner="BBWS Citarum",
    notes="sensor head replaced",
    gateway="gw-jbb-01",
    requires_calibration=True,
    qc=(("water_level", "high", 900.0),),
)


def as_columns(names: tuple[str, ...] | set[str]) -> set[str]:
    return {c for n in names for c in (SIAGA_COLUMNS if n == "siaga" else (n,))}


def test_every_device_field_is_a_column_of_the_table() -> None:
    columns = set(tables.devices.c.keys())
    assert columns - BOOKKEEPING == as_columns(DEVICE_FIELDS)


def test_the_migrations_make_the_table(sql_url: str) -> None:
    engine = open_engine(sql_url)
    migrated = {c["name"] for c in sa.inspect(engine).get_columns("devices")}
    engine.dispose()
    assert migrated == set(tables.devices.c.keys())


def test_rows_carry_every_field() -> None:
    recorded = dict(
        last_seen=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        firmware="1.4.2",
        battery=3.7,
        online=True,
        registered_at=datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
        status_at=datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
    )
    assert set(recorded) == set(RECORDED_FIELDS)
    row = {c.name: None for c in tables.devices.c} | device_values(WATER) | recorded
    assert device_of(row) == replace(WATER, **recorded)  # type: ignore[arg-type]
    assert set(device_values(WATER)) == as_columns(DESCRIPTION)


def test_validation_reads_every_description_field() -> None:
    assert set(FIELDS) == as_columns(DESCRIPTION)
    assert set(device_fields(WATER)) == set(FIELDS)
    device, problems = parse_device(device_fields(WATER), today=date(2026, 12, 1))
    assert problems == []
    assert device == WATER


def test_the_api_schemas_have_every_field() -> None:
    assert set(DeviceIn.model_fields) == set(DESCRIPTION)
    assert set(DevicePatch.model_fields) == set(DESCRIPTION) - {"id"}
    shown_in_state = set(RECORDED_FIELDS) - {"registered_at"}
    assert set(DeviceOut.model_fields) == set(DEVICE_FIELDS) - shown_in_state | OUT_EXTRA
    assert shown_in_state <= set(StatusOut.model_fields)


def test_the_cli_and_the_ingest_view_name_only_device_fields() -> None:
    assert set(_ADD_FIELDS) <= set(DESCRIPTION)
    ingest_view = set(DeviceInfo._fields) - {"device", "qc_overrides"}
    assert ingest_view <= set(DEVICE_FIELDS)
