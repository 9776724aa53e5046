"""The TOML configuration: a good file loads, a bad one fails naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge import config
from firmware_bridge.decoding import DecodeError
from firmware_bridge.drivers import modbus
from firmware_bridge.reader import default_silent_after
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


def sensor_table(driver: str, options: str, port: str = "/dev/ttyUSB9", name: str = "dev-1") -> str:
    return (
        f'\n[[sensors]]\ndevice_id = "{name}"\ndriver = "{driver}"\nport = "{port}"\n'
        f"[sensors.options]\n{options}\n"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            sensor_table("maxbotix", 'mounting_height_cm = 400.0\nmodel = "lv"\nunit = "mm"'),
            "does not match model 'lv'",
        ),
        (
            sensor_table("maxbotix", "mounting_height_cm = 400.0\nblanking = 9999"),
            "must be below no_target",
        ),
        (sensor_table("maxbotix", "mounting_height_cm = 20.0"), "below the blanking distance"),
        (
            sensor_table("maxbotix", 'mounting_height_cm = 400.0\nunit = "cm"\nno_target = 1000'),
            "no_target must be between 1 and 999",
        ),
        (
            sensor_table("modbus", 'register = 1\nmetric = "water_level"\nreply_timeout = 20.0'),
            "reply_timeout must be shorter than poll_interval",
        ),
        (
            sensor_table("modbus", 'register = 1\nmetric = "water_level"\ntable = "coil"'),
            "table must be one of holding, input",
        ),
        (
            sensor_table("modbus", 'register = 1\nmetric = "water_level"\nword_order = "x"'),
            "word_order must be one of big, little",
        ),
        (
            sensor_table(
                "modbus", '[[sensors.options.registers]]\nregister = 1\nmetric = "rain"\nbogus = 1'
            ),
            "registers[0].bogus is not a known setting",
        ),
        (sensor_table("sdi12", 'command = "V"'), "command must be one of M, C, R"),
        (
            sensor_table("maxbotix", "mounting_height_cm = 400.0", "/dev/ttyX", "a-1")
            + sensor_table("maxbotix", "mounting_height_cm = 400.0", "/dev/ttyX", "a-2"),
            "only Modbus devices can share a port",
        ),
    ],
)
def test_driver_settings_are_validated(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, 'gateway_id = "gw-1"\n' + table))
    assert message in str(err.value)


def test_unit_picks_the_maxbotix_family_and_its_defaults(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            'gateway_id = "gw-1"\n'
            + sensor_table("maxbotix", 'mounting_height_cm = 400.0\nunit = "in"'),
        )
    )
    decode = cfg.sensors[0].driver.decode
    assert decode(b"R100") == {"water_level": 146.0}  # 400 - 100 in × 2.54
    with pytest.raises(DecodeError) as err:
        decode(b"R255")
    assert err.value.reason == "no_target"
    with pytest.raises(DecodeError) as err:
        decode(b"R1000")  # four digits: not an LV line
    assert err.value.reason == "not_data"


def test_modbus_devices_on_one_port_are_one_bus(tmp_path: Path) -> None:
    text = 'gateway_id = "gw-1"\n' + "".join(
        sensor_table(
            "modbus",
            f'slave = {n}\nregister = 4\nmetric = "water_level"',
            "/dev/ttyRS485",
            f"wl-{n}",
        )
        for n in (1, 2, 3)
    )
    cfg = config.load(write(tmp_path, text))
    (port,) = cfg.ports
    assert port.device_ids == ("wl-1", "wl-2", "wl-3")
    assert port.driver.devices == ("wl-1", "wl-2", "wl-3")
    assert text.count("[[sensors]]") == 3 and len(cfg.sensors) == 3


def test_silent_after_defaults() -> None:
    assert default_silent_after(1.0) == 10.0
    assert default_silent_after(60.0) == 180.0
