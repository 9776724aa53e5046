"""SDI-12 through a pseudo-terminal, timed as the standard says.

A fake sensor behind a serial SDI-12 adapter answers the bridge's commands: it ignores
the first measurement command (the bridge retries), announces its measurement time
(``atttn``) and sends its service request early, splits its values over ``D0``/``D1``
with a noise byte in front of one reply, and once answers ``D0`` with no data.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_bridge.checksums import sdi12_crc_chars
from firmware_bridge.drivers import DRIVERS
from firmware_bridge.options import Options
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.serial_link import SerialLink
from tests.firmware_bridge.bridge_pty import PtySensor, wait_for


def data(body: str) -> bytes:
    raw = body.encode()
    return raw + sdi12_crc_chars(raw) + b"\r\n"


class FakeSensor(threading.Thread):
    def __init__(self, sensor: PtySensor, answer: Callable[[str, int], list[tuple[float, bytes]]]):
        super().__init__(daemon=True)
        self.sensor = sensor
        self.answer = answer
        self.heard: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        pending = b""
        while not self.stop.is_set():
            pending += self.sensor.read(0.05)
            while b"!" in pending:
                command, pending = pending.split(b"!", 1)
                text = command.decode() + "!"
                self.heard.append((time.monotonic(), text))
                count = sum(1 for _, c in self.heard if c == text)
                for delay, reply in self.answer(text, count):
                    time.sleep(delay)
                    if not self.stop.is_set():
                        self.sensor.write(reply)

    def when(self, command: str, number: int = 1) -> float:
        return [t for t, c in self.heard if c == command][number - 1]


def start(
    tmp_path: Path, options: dict[str, object]
) -> tuple[PtySensor, SensorReader, queue.Queue[Sample]]:
    driver = DRIVERS["sdi12"](Options(options, "o"))
    sensor = PtySensor(tmp_path / "ttySDI")
    samples: queue.Queue[Sample] = queue.Queue(10)
    reader = SensorReader(
        device_id="wl-sdi",
        driver=driver,
        link=SerialLink(port=str(sensor.path), fmt=driver.serial),
        samples=samples,
    )
    return sensor, reader, samples


def test_measure_honours_the_announced_time_and_counts_empty_data(tmp_path: Path) -> None:
    def answer(command: str, count: int) -> list[tuple[float, bytes]]:
        if command == "0MC!" and count == 1:
            return []  # no answer: the bridge retries
        if command == "0MC!" and count == 2:
            return [(0.0, b"00053\r\n"), (0.3, b"0\r\n")]  # 5 s announced, ready after 0.3 s
        if command == "0MC!":
            return [(0.0, b"00013\r\n")]  # 1 s, no service request
        if command == "0D0!" and count == 1:
            return [(0.0, b"\x13" + data("0+1.234+21.5"))]
        if command == "0D1!":
            return [(0.0, data("0+0"))]
        if command == "0D0!":
            return [(0.0, data("0"))]  # values announced, none sent
        return []

    sensor, reader, samples = start(
        tmp_path,
        {
            "fields": ["water_level", "temperature", ""],
            "poll_interval": 1.5,
            "response_timeout": 0.3,
            "retries": 2,
        },
    )
    fake = FakeSensor(sensor, answer)
    fake.start()
    reader.start()
    try:
        wait_for(lambda: reader.frames == 1, timeout=5)
        wait_for(lambda: reader.rejected["empty_data"] == 1, timeout=6)
    finally:
        reader.stop()
        fake.stop.set()
        fake.join(5)
        sensor.close()
    sample = samples.get_nowait()
    assert sample.values == {"water_level": 123.4, "temperature": 21.5}
    assert samples.empty()  # the empty data reply is a missing reading, counted
    # retried after the response timeout; the early service request ended the wait
    assert 0.25 <= fake.when("0MC!", 2) - fake.when("0MC!", 1) < 1.0
    assert 0.25 <= fake.when("0D0!", 1) - fake.when("0MC!", 2) < 1.5
    # without a service request the bridge waits the announced second, then asks
    assert 0.95 <= fake.when("0D0!", 2) - fake.when("0MC!", 3) < 2.0
    assert reader.rejected["garbage"] == 1  # the noise byte, not the reply


@pytest.mark.parametrize("command", ["C", "R"])
def test_concurrent_and_continuous_commands(tmp_path: Path, command: str) -> None:
    def answer(text: str, count: int) -> list[tuple[float, bytes]]:
        if text == "0CC!":
            return [(0.0, b"000102\r\n")]  # 1 s, 2 values; no service request in C
        if text in ("0D0!", "0RC0!"):
            return [(0.0, data("0+2.5-3"))]
        return []

    sensor, reader, samples = start(
        tmp_path,
        {"command": command, "fields": ["water_level", "temperature"], "poll_interval": 5.0},
    )
    fake = FakeSensor(sensor, answer)
    fake.start()
    reader.start()
    try:
        wait_for(lambda: reader.frames == 1, timeout=5)
    finally:
        reader.stop()
        fake.stop.set()
        fake.join(5)
        sensor.close()
    assert samples.get_nowait().values == {"water_level": 250.0, "temperature": -3.0}
    if command == "C":
        assert 0.95 <= fake.when("0D0!") - fake.when("0CC!") < 2.0
    else:
        assert [c for _, c in fake.heard] == ["0RC0!"]


def test_no_answer_at_all_is_counted_and_the_reader_lives_on(tmp_path: Path) -> None:
    sensor, reader, _samples = start(
        tmp_path, {"poll_interval": 1.0, "response_timeout": 0.1, "retries": 1}
    )
    reader.start()
    try:
        wait_for(lambda: reader.rejected["no_response"] >= 2, timeout=5)
        assert reader.connected
    finally:
        reader.stop()
        sensor.close()
