"""The TOML configuration: a good file loads, a bad one fails naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge import config
from firmware_bridge.drivers import modbus
from pantau.errors import ConfigError

GOOD = """
gateway_id = "gw-jababeka-01"
broker_url = "mqtt://127.0.0.1:1883"
queue_dir = "queue"
queue_max_readings = 5000
average_seconds = 60

[[sensors]]
device_id = "aq-017"
driver = "plantower"
port = "/dev/ttyUSB0"
password = "s3cret"
[sensors.options]
model = "pms5003t"
mode = "passive"

[[sensors]]
device_id = "wl-katulampa"
driver = "maxbotix"
port = "/dev/ttyUSB1"
password_file = "wl.secret"
average_seconds = 0
[sensors.options]
mounting_height_cm = 450.0

[[sensors]]
device_id = "wl-modbus-1"
driver = "modbus"
port = "/dev/ttyUSB2"
baudrate = 19200
username = "wl-modbus-1"
password = "x"
[sensors.options]
slave = 3
register = 4
scale = 0.1
metric = "water_level"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "wl.secret").write_text("from-file\n")
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


def test_good_config(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.gateway_id == "gw-jababeka-01"
    assert cfg.queue_dir == tmp_path / "queue" and cfg.queue_max_readings == 5000
    aq, wl, mb = cfg.sensors
    assert (aq.password, aq.username, aq.average_seconds) == ("s3cret", "aq-017", 60.0)
    assert aq.driver.poll_interval == 10.0
    assert (wl.password, wl.average_seconds, wl.serial.baudrate) == ("from-file", 0.0, 9600)
    assert wl.driver.decode(b"R2000") == {"water_level": 250.0}
    assert mb.serial.baudrate == 19200
    assert mb.modbus_unit is not None
    assert mb.modbus_unit.registers[0].request(3) == modbus.read_request(3, 4, 1)
    assert [p.device_ids for p in cfg.ports] == [("aq-017",), ("wl-katulampa",), ("wl-modbus-1",)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('gateway_id = "gw-jababeka-01"', ""), "gateway_id is required"),
        (('device_id = "aq-017"', 'device_id = "AQ 17"'), "sensors[0].device_id"),
        (('driver = "plantower"', 'driver = "pms"'), "sensors[0].driver must be one of"),
        (("mounting_height_cm = 450.0", ""), "sensors[1].options.mounting_height_cm is required"),
        (('mode = "passive"', 'mode = "sleepy"'), "sensors[0].options.mode"),
        (("scale = 0.1", 'scale = "x"'), "sensors[2].options.scale must be a number"),
        (('metric = "water_level"', 'metric = "depth"'), "sensors[2].options.metric"),
        (("baudrate = 19200", "baudrate = 19200\nbaud = 1"), "sensors[2].baud is not a known"),
        (('port = "/dev/ttyUSB1"', 'port = "/dev/ttyUSB0"'), "sensors[1].port"),
        (('password_file = "wl.secret"', 'password_file = "nope"'), "sensors[1].password_file"),
        (("queue_max_readings = 5000", "queue_max_readings = -1"), "queue_max_readings"),
        (('broker_url = "mqtt://', 'broker_url = "http://'), "broker_url"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, GOOD.replace(old, new, 1)))
    assert message in str(err.value)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "gateway_id = "))
