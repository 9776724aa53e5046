"""Every streaming or simply polled driver through a real pseudo-terminal: datasheet and
captured frames with noise, cut-short frames and split writes, a port whose settings are
refused at first, and an unplug/replug; every valid frame becomes exactly one reading."""

from __future__ import annotations

import queue
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial

from firmware_bridge.decoding import BOUND, split
from firmware_bridge.drivers import DRIVERS, maxbotix, rg15
from firmware_bridge.options import Options
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.serial_link import SerialLink
from tests.firmware_bridge.bridge_captures import frames
from tests.firmware_bridge.bridge_pty import PtySensor, wait_for


@dataclass(frozen=True)
class Spec:
    options: dict[str, object]
    valid: list[bytes]  # three valid frames: two before the unplug, one after


def _rg15(acc: float) -> bytes:
    return rg15.encode(rg15.RainLine(acc, acc, 1.0 + acc, 0.5))


def first_valid(sensor: str, driver: str, options: dict[str, object]) -> list[bytes]:
    decode = DRIVERS[driver](Options(options, "o")).decode
    out = []
    for frame in frames(sensor):
        try:
            if split(decode(frame))[0]:
                out.append(frame)
        except ValueError:
            continue
    return out[:3]


POLL: dict[str, object] = {"poll_interval": 1.0}
SPECS = {
    "plantower": Spec({}, first_valid("PMSx003", "plantower", {})),
    "plantower-passive": Spec({"mode": "passive", **POLL}, first_valid("PMSx003", "plantower", {})),
    "sds011": Spec({}, first_valid("SDS01x", "sds011", {})),
    "sds011-query": Spec({"mode": "query", **POLL}, first_valid("SDS01x", "sds011", {})),
    "maxbotix": Spec(
        {"mounting_height_cm": 450.0},
        [maxbotix.encode(2257), maxbotix.encode(1422), maxbotix.encode(250)],
    ),
    "rg15": Spec(POLL, [_rg15(0.25), _rg15(0.5), _rg15(0.0)]),
    "mhz19": Spec(POLL, first_valid("MHZ19B", "mhz19", {})),
    "hpma115": Spec(POLL, first_valid("HPMA115C0", "hpma115", {})),
    "sps30": Spec(POLL, first_valid("SPS30", "sps30", {})),
    "mcu680": Spec({}, first_valid("MCU680", "mcu680", {})),
    "mcu680-passive": Spec({"mode": "passive", **POLL}, first_valid("MCU680", "mcu680", {})),
}


class Responder:
    """Answers the driver's poll command (or, for a streaming sensor, just sends) with
    ``chunks``, one write each, a few milliseconds apart (split writes)."""

    def __init__(self, sensor: PtySensor, trigger: bytes | None, chunks: list[bytes]) -> None:
        self.sensor, self.trigger, self.chunks = sensor, trigger, chunks
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self.trigger is not None:
            heard = b""
            deadline = time.monotonic() + 10
            while self.trigger not in heard and time.monotonic() < deadline:
                heard += self.sensor.read(0.1)
        for chunk in self.chunks:
            self.sensor.write(chunk)
            time.sleep(0.005)

    def join(self) -> None:
        self.thread.join(15)
        assert not self.thread.is_alive()


def split_writes(frame: bytes) -> list[bytes]:
    third = max(1, len(frame) // 3)
    return [frame[:third], frame[third : 2 * third], frame[2 * third :]]


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """pyserial's tcsetattr is refused twice (termios.error, not an OSError), then works."""
    calls = [0]
    original = serial.Serial._reconfigure_port  # type: ignore[attr-defined]

    def reconfigure(self: serial.Serial, *args: object, **kwargs: object) -> None:
        calls[0] += 1
        if calls[0] <= 2:
            raise termios.error(22, "Invalid argument")
        original(self, *args, **kwargs)

    monkeypatch.setattr(serial.Serial, "_reconfigure_port", reconfigure)
    yield calls


@pytest.mark.parametrize("name", sorted(SPECS))
def test_driver_through_a_pty(name: str, tmp_path: Path, refusing: list[int]) -> None:
    spec = SPECS[name]
    assert len(spec.valid) == 3
    driver = DRIVERS[name.split("-")[0]](Options(spec.options, "o"))
    trigger = driver.poll_commands[0][0] if driver.poll_commands else None
    sensor = PtySensor(tmp_path / "tty")
    samples: queue.Queue[Sample] = queue.Queue(100)
    reader = SensorReader(
        device_id="dev-" + name,
        driver=driver,
        link=SerialLink(port=str(sensor.path), fmt=driver.serial),
        samples=samples,
        max_backoff=0.2,
    )
    first, second, third = spec.valid
    noise = b"\x00\x13\xfe"
    reader.start()
    try:
        wait_for(lambda: reader.opens == 1)
        # refused twice, counted, and the thread is still there
        assert reader.port.errors["settings_refused"] == 2
        Responder(
            sensor,
            trigger,
            [noise, *split_writes(first), first[: len(first) // 2], *split_writes(second)],
        ).join()
        wait_for(lambda: reader.frames == 2)
        sensor.unplug()
        wait_for(lambda: not reader.connected)
        sensor.plug()
        wait_for(lambda: reader.opens == 2)
        Responder(sensor, trigger, [noise[:1], *split_writes(third)]).join()
        wait_for(lambda: reader.frames == 3)
    finally:
        reader.stop()
        sensor.close()
    got = [samples.get_nowait() for _ in range(samples.qsize())]
    expected = [split(driver.decode(f)) for f in spec.valid]
    assert [(dict(s.values), s.flags) for s in got] == [(dict(v), f) for v, f in expected]
    assert reader.port.state == "stopped"
    assert reader.port.errors["settings_refused"] == 2
    if name == "maxbotix":  # R0250: inside the 300 mm blanking distance
        assert got[2].flags == BOUND and got[2].values == {"water_level": 420.0}


def test_rg15_drops_stale_bytes_before_a_poll(tmp_path: Path) -> None:
    driver = DRIVERS["rg15"](Options(POLL, "o"))
    sensor = PtySensor(tmp_path / "tty")
    samples: queue.Queue[Sample] = queue.Queue(10)
    reader = SensorReader(
        device_id="rain-1",
        driver=driver,
        link=SerialLink(port=str(sensor.path), fmt=driver.serial),
        samples=samples,
    )
    reader.start()
    try:
        Responder(sensor, rg15.CMD_READ, [_rg15(0.25)]).join()
        wait_for(lambda: reader.frames == 1)
        sensor.write(b"Acc  0.1")  # the start of a reply cut short, left waiting
        Responder(sensor, rg15.CMD_READ, [b"\xff", _rg15(0.5)]).join()
        wait_for(lambda: reader.frames == 2)
    finally:
        reader.stop()
        sensor.close()
    assert [samples.get_nowait().values["rain"] for _ in range(2)] == [0.25, 0.5]
    assert reader.rejected["stale"] == 1 and reader.rejected["garbage"] == 1
