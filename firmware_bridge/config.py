"""The bridge's TOML configuration, validated at start; every error names its key.

See ``docs/bridge.md`` for the format and an example.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from firmware_bridge.driver import Driver, SerialFormat
from firmware_bridge.drivers import DRIVERS, modbus
from firmware_bridge.options import Options
from pantau.errors import ConfigError

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")


@dataclass(frozen=True, slots=True)
class SensorConfig:
    device_id: str
    driver_name: str
    driver: Driver
    port: str
    serial: SerialFormat
    username: str
    password: str | None
    average_seconds: float
    silent_after: float | None = None  # seconds; None: 3 × the expected interval, ≥ 10 s
    modbus_unit: modbus.Unit | None = None


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One serial port and what is read on it: one sensor, or a Modbus bus of several."""

    port: str
    serial: SerialFormat
    driver: Driver
    device_ids: tuple[str, ...]
    silent_after: dict[str, float]


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    gateway_id: str
    broker_url: str
    queue_dir: Path
    queue_max_readings: int
    backlog_batch: int
    publish_timeout: float
    sensors: tuple[SensorConfig, ...]
    status_interval: float = 60.0
    gateway_username: str = ""  # for gateways/<gateway_id>/status
    gateway_password: str | None = None
    gateway_status: bool = False

    @property
    def queue_path(self) -> Path:
        return self.queue_dir / "bridge-queue.sqlite3"

    @property
    def status_path(self) -> Path:
        """Where the running bridge keeps its health view (``pantau bridge status``)."""
        return self.queue_dir / "bridge-status.json"

    @property
    def metrics_path(self) -> Path:
        """The health view as Prometheus metrics (node exporter textfile format)."""
        return self.queue_dir / "bridge-metrics.prom"

    @property
    def ports(self) -> tuple[PortConfig, ...]:
        groups: dict[str, list[SensorConfig]] = {}
        for sensor in self.sensors:
            groups.setdefault(sensor.port, []).append(sensor)
        out = []
        for port, sensors in groups.items():
            first = sensors[0]
            driver = first.driver
            if first.modbus_unit is not None:
                units = [
                    replace(s.modbus_unit, device_id=s.device_id) for s in sensors if s.modbus_unit
                ]
                driver = modbus.bus_driver(units, first.serial)
            after = {s.device_id: s.silent_after for s in sensors if s.silent_after is not None}
            out.append(
                PortConfig(port, first.serial, driver, tuple(s.device_id for s in sensors), after)
            )
        return tuple(out)


def load(path: str | Path) -> BridgeConfig:
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read bridge config {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"bridge config {file} is not valid TOML: {exc}") from exc
    return parse(document, base_dir=file.resolve().parent)


def parse(document: dict[str, object], *, base_dir: Path) -> BridgeConfig:
    root = Options(document, "")
    gateway_id = root.get_str("gateway_id")
    if not DEVICE_ID.fullmatch(gateway_id):
        raise ConfigError(f"gateway_id {gateway_id!r} must match {DEVICE_ID.pattern}")
    broker_url = root.get_str("broker_url", "mqtt://127.0.0.1:1883")
    if not broker_url.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(f"broker_url must start with mqtt:// or mqtts://; got {broker_url!r}")
    queue_dir = base_dir / root.get_str("queue_dir", "bridge-queue")
    max_readings = root.get_int("queue_max_readings", 1_000_000, low=100)
    batch = root.get_int("backlog_batch", 100, low=1, high=10_000)
    timeout = root.get_float("publish_timeout", 10.0, low=0.5)
    average = root.get_float("average_seconds", 0.0, low=0.0)
    status_interval = root.get_float("status_interval", 60.0, low=1.0)
    gateway_username = root.get_str("gateway_username", gateway_id)
    gateway_password = _password(root, "gateway_password", "gateway_password_file", base_dir)
    gateway_status = root.get_bool("gateway_status", gateway_password is not None)
    tables = root.get_table_list("sensors")
    if not tables:
        raise ConfigError("sensors: at least one [[sensors]] table is required")
    sensors = tuple(_sensor(t, average, base_dir) for t in tables)
    _unique(sensors)
    root.reject_unknown()
    return BridgeConfig(
        gateway_id=gateway_id,
        broker_url=broker_url,
        queue_dir=queue_dir,
        queue_max_readings=max_readings,
        backlog_batch=batch,
        publish_timeout=timeout,
        sensors=sensors,
        status_interval=status_interval,
        gateway_username=gateway_username,
        gateway_password=gateway_password,
        gateway_status=gateway_status,
    )


def _sensor(table: Options, default_average: float, base_dir: Path) -> SensorConfig:
    device_id = table.get_str("device_id")
    if not DEVICE_ID.fullmatch(device_id):
        raise ConfigError(f"{table.key('device_id')} {device_id!r} must match {DEVICE_ID.pattern}")
    name = table.get_str("driver", choices=tuple(DRIVERS))
    options = table.get_table("options")
    driver = DRIVERS[name](options)
    unit = modbus.unit(Options(options.table, options.where)) if name == "modbus" else None
    options.reject_unknown()
    port = table.get_str("port")
    fmt = driver.serial
    serial = SerialFormat(
        baudrate=table.get_int("baudrate", fmt.baudrate, low=50, high=4_000_000),
        bytesize=table.get_int("bytesize", fmt.bytesize, low=5, high=8),
        parity=table.get_str("parity", fmt.parity, choices=("N", "E", "O")),
        stopbits=table.get_int("stopbits", fmt.stopbits, low=1, high=2),
    )
    username = table.get_str("username", device_id)
    password = _password(table, "password", "password_file", base_dir)
    average = table.get_float("average_seconds", default_average, low=0.0)
    silent_after = table.get_float("silent_after", 0.0, low=0.0) or None
    table.reject_unknown()
    return SensorConfig(
        device_id, name, driver, port, serial, username, password, average, silent_after, unit
    )


def _password(table: Options, key: str, file_key: str, base_dir: Path) -> str | None:
    if table.has(key) and table.has(file_key):
        raise ConfigError(f"{table.key(key)}: give {key} or {file_key}, not both")
    if table.has(key):
        return table.get_str(key)
    if not table.has(file_key):
        return None
    secret = base_dir / table.get_str(file_key)
    try:
        password = secret.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{table.key(file_key)}: cannot read {secret}: {exc}") from exc
    if not password:
        raise ConfigError(f"{table.key(file_key)}: {secret} is empty")
    return password


def _unique(sensors: tuple[SensorConfig, ...]) -> None:
    seen_ids: set[str] = set()
    seen_ports: set[str] = set()
    for index, sensor in enumerate(sensors):
        if sensor.device_id in seen_ids:
            raise ConfigError(f"sensors[{index}].device_id {sensor.device_id!r} appears twice")
        if sensor.port in seen_ports:
            other = next(s for s in sensors if s.port == sensor.port)
            if sensor.driver_name != "modbus" or other.driver_name != "modbus":
                raise ConfigError(
                    f"sensors[{index}].port {sensor.port!r} is used by two sensors "
                    "(only Modbus devices can share a port, as a bus)"
                )
            if sensor.serial != other.serial:
                raise ConfigError(
                    f"sensors[{index}].port {sensor.port!r}: the devices of a Modbus bus "
                    "must have the same baudrate, bytesize, parity and stopbits"
                )
        seen_ids.add(sensor.device_id)
        seen_ports.add(sensor.port)
