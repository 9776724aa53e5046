"""Request and response bodies of the devices HTTP API (``api/routes/devices.py``)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from devices.model import CalibrationRecord, Device, MaintenanceEntry
from devices.status import DeviceStatus
from devices.zones import Zone
from pantau.catalogue import QC_THRESHOLDS

QC_HELP = "QC threshold overrides per metric: " + ", ".join(QC_THRESHOLDS)
QC_EXAMPLE = {"pm25": {"high": 500.0, "max_rate_per_s": 2.0}}


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=63, examples=["aq-jbb-017"])
    kind: str = Field(examples=["air_quality"])
    zone: str = Field(examples=["jababeka"])
    latitude: float = Field(examples=[-6.2897])
    longitude: float = Field(examples=[107.154])
    model: str = Field("", examples=["Plantower PMS5003T"])
    address: str = ""
    install_date: date | None = Field(None, description="default: today")
    interval_s: int | None = Field(None, description="default: the kind's interval")
    metrics: list[str] | None = Field(None, description="default: the kind's metrics")
    units: list[str] | None = Field(None, description="one per metric; default canonical")
    siaga: list[float] | None = Field(None, description="Siaga 3, 2, 1 thresholds in cm")
    qc: dict[str, dict[str, float]] | None = Field(None, description=QC_HELP, examples=[QC_EXAMPLE])
    status: str = "active"
    owner: str = ""
    notes: str = ""
    gateway: str | None = None
    requires_calibration: bool | None = None


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = None
    zone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    model: str | None = None
    address: str | None = None
    install_date: date | None = None
    interval_s: int | None = None
    metrics: list[str] | None = None
    units: list[str] | None = None
    siaga: list[float] | None = Field(None, description="[] removes the thresholds")
    qc: dict[str, dict[str, float]] | None = Field(
        None, description=QC_HELP + "; {} removes them", examples=[QC_EXAMPLE]
    )
    status: str | None = Field(None, description="active or maintenance")
    owner: str | None = None
    notes: str | None = None
    gateway: str | None = Field(None, description="'' removes the gateway")
    requires_calibration: bool | None = None


class StatusOut(BaseModel):
    last_seen: datetime | None
    silent_s: float | None
    reporting: bool
    online: bool | None
    status_at: datetime | None = None  # when its last status message (online/offline) came
    firmware: str | None
    battery: float | None
    readings_24h: int | None = None
    expected_24h: int | None = None
    completeness_pct: float | None = None
    completeness_error: str | None = None

    @classmethod
    def of(cls, s: DeviceStatus) -> StatusOut:
        c = s.completeness
        return cls(
            last_seen=s.last_seen,
            silent_s=s.silent_s,
            reporting=s.reporting,
            online=s.online,
            status_at=s.status_at,
            firmware=s.firmware,
            battery=s.battery,
            readings_24h=c.received if c else None,
            expected_24h=c.expected if c else None,
            completeness_pct=c.percent if c else None,
            completeness_error=s.completeness_error,
        )


class DeviceOut(BaseModel):
    id: str
    kind: str
    model: str
    zone: str
    latitude: float
    longitude: float
    address: str
    install_date: date
    interval_s: int
    metrics: list[str]
    units: list[str]
    siaga: list[float] | None
    qc: dict[str, dict[str, float]] = Field(description=QC_HELP, examples=[QC_EXAMPLE])
    status: str
    owner: str
    notes: str
    gateway: str | None
    requires_calibration: bool
    registered_at: datetime | None
    topic: str
    state: StatusOut

    @classmethod
    def of(cls, d: Device, state: DeviceStatus) -> DeviceOut:
        special = ("state", "siaga", "qc")
        fields = {n: getattr(d, n) for n in cls.model_fields if n not in special}
        return cls(
            **fields,
            siaga=list(d.siaga) if d.siaga else None,
            qc=d.qc_overrides(),
            state=StatusOut.of(state),
        )


class MqttCredentials(BaseModel):
    username: str
    password: str = Field(description="shown only now; Pantau keeps only its hash")
    broker: str = Field(examples=["mqtt://10.0.0.5:1883"])
    topic: str = Field(examples=["sensors/aq-jbb-017/readings"])
    broker_synced: bool = Field(description="whether the broker already accepts them")


class DeviceCreated(BaseModel):
    device: DeviceOut
    mqtt: MqttCredentials


class CalibrationIn(BaseModel):
    metric: str = Field(examples=["pm25"])
    coefficients: list[float] = Field(examples=[[1.2, 0.95]], description="c0 + c1·x + c2·x² …")
    effective_from: AwareDatetime | None = Field(None, description="default: now")
    by: str = Field(min_length=1, max_length=200, examples=["Sari (DLH lab)"])
    reference: str = Field("", max_length=500, examples=["Sertifikat kalibrasi 17/2026"])


class CalibrationOut(BaseModel):
    id: int
    device: str
    metric: str
    coefficients: list[float]
    effective_from: datetime
    by: str
    reference: str
    created_at: datetime | None

    @classmethod
    def of(cls, c: CalibrationRecord) -> CalibrationOut:
        return cls(
            id=c.id,
            device=c.device,
            metric=c.metric,
            coefficients=list(c.coefficients),
            effective_from=c.effective_from,
            by=c.by,
            reference=c.reference,
            created_at=c.created_at,
        )


class MaintenanceIn(BaseModel):
    visited_at: AwareDatetime | None = Field(None, description="default: now")
    technician: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=200, examples=["cleaned the inlet"])
    notes: str = ""
    photos: list[str] = Field(default_factory=list, examples=[["photos/aq-017/2026-11-22.jpg"]])
    status: str | None = Field(None, description="also set the device to active or maintenance")


class MaintenanceOut(BaseModel):
    id: int
    device: str
    visited_at: datetime
    technician: str
    action: str
    notes: str
    photos: list[str]

    @classmethod
    def of(cls, e: MaintenanceEntry) -> MaintenanceOut:
        return cls(
            id=e.id,
            device=e.device,
            visited_at=e.visited_at,
            technician=e.technician,
            action=e.action,
            notes=e.notes,
            photos=list(e.photos),
        )


class ImportProblemOut(BaseModel):
    line: int
    column: str
    message: str


class ImportOut(BaseModel):
    source: str
    rows: int
    dry_run: bool
    created: bool
    report: str
    problems: list[ImportProblemOut]
    devices: list[str]
    credentials: list[MqttCredentials] = Field(default_factory=list)


class ZoneOut(BaseModel):
    id: str
    name: str
    category: str
    latitude: float
    longitude: float

    @classmethod
    def of(cls, z: Zone) -> ZoneOut:
        return cls(
            id=z.id, name=z.name, category=z.category, latitude=z.latitude, longitude=z.longitude
        )
