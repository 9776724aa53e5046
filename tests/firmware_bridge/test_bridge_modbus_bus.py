"""A Modbus RTU bus: three slaves on one pseudo-terminal, one of them slow.

The fake bus answers requests as the slaves would: slave 1 (a level transmitter: holding
register 4, uint16, and register 9 that does not exist → exception 2), slave 2 (input
register 10, float32 with the low word first, and holding 0, int32), slave 3 (holding 4,
answering every other request 0.4 s late, with a timeout of 0.15 s).
"""

from __future__ import annotations

import itertools
import queue
import statistics
import struct
import threading
import time
from collections import defaultdict
from pathlib import Path

from firmware_bridge import config as bridge_config
from firmware_bridge.checksums import crc16_modbus
from firmware_bridge.drivers import modbus
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.serial_link import SerialLink
from tests.firmware_bridge.bridge_pty import PtySensor

CONFIG = """
gateway_id = "gw-bus"
[[sensors]]
device_id = "wl-radar-1"
driver = "modbus"
port = "{port}"
[sensors.options]
slave = 1
poll_interval = 0.3
reply_timeout = 0.15
[[sensors.options.registers]]
metric = "water_level"
register = 4
scale = 0.1
[[sensors.options.registers]]
metric = "temperature"
register = 9

[[sensors]]
device_id = "aq-bus-2"
driver = "modbus"
port = "{port}"
[sensors.options]
slave = 2
poll_interval = 0.5
reply_timeout = 0.15
[[sensors.options.registers]]
metric = "temperature"
register = 10
table = "input"
data_type = "float32"
word_order = "little"
[[sensors.options.registers]]
metric = "humidity"
register = 0
data_type = "int32"
scale = 0.01

[[sensors]]
device_id = "wl-slow-3"
driver = "modbus"
port = "{port}"
[sensors.options]
slave = 3
register = 4
metric = "water_level"
poll_interval = 0.3
reply_timeout = 0.15
"""


class FakeBus(threading.Thread):
    def __init__(self, sensor: PtySensor) -> None:
        super().__init__(daemon=True)
        self.sensor = sensor
        self.stop = threading.Event()
        self.requests: list[tuple[float, bytes]] = []
        self.replies: list[tuple[float, bytes]] = []  # (time the last byte was written)
        self.slow_turn = 0
        self.lock = threading.Lock()

    def reply(self, frame: bytes, delay: float = 0.0) -> None:
        def send() -> None:
            time.sleep(delay)
            with self.lock:
                if self.stop.is_set():
                    return  # the test is over
                self.sensor.write(frame)
                self.replies.append((time.monotonic(), frame))

        if delay:
            threading.Thread(target=send, daemon=True).start()
        else:
            send()

    def run(self) -> None:
        pending = b""
        while not self.stop.is_set():
            pending += self.sensor.read(0.05)
            while len(pending) >= 8:
                request, pending = pending[:8], pending[8:]
                assert crc16_modbus(request[:6]) == int.from_bytes(request[6:], "little")
                self.requests.append((time.monotonic(), request))
                slave, function, register, _count = struct.unpack(">BBHH", request[:6])
                self.answer(slave, function, register)

    def answer(self, slave: int, function: int, register: int) -> None:
        if slave == 1 and function == 3 and register == 4:
            self.reply(modbus.reply(1, 3, struct.pack(">H", 1234)))
        elif slave == 1:
            self.reply(modbus.exception_reply(1, function, 2))
        elif slave == 2 and function == 4 and register == 10:
            raw = struct.pack(">f", 21.5)
            self.reply(b"\x00" + modbus.reply(2, 4, raw[2:] + raw[:2]))  # a noise byte first
        elif slave == 2 and function == 3 and register == 0:
            self.reply(modbus.reply(2, 3, struct.pack(">i", 6543)))
        elif slave == 3:
            self.slow_turn += 1
            if self.slow_turn % 2:
                self.reply(modbus.reply(3, 3, struct.pack(">H", 300)))
            else:  # late: must never become a reading
                self.reply(modbus.reply(3, 3, struct.pack(">H", 9999)), delay=0.4)


def test_three_slaves_one_slow_on_one_pty(tmp_path: Path) -> None:
    sensor = PtySensor(tmp_path / "ttyRS485")
    path = tmp_path / "bridge.toml"
    path.write_text(CONFIG.format(port=sensor.path))
    (port,) = bridge_config.load(path).ports
    assert port.device_ids == ("wl-radar-1", "aq-bus-2", "wl-slow-3")
    samples: queue.Queue[Sample] = queue.Queue(1000)
    reader = SensorReader(
        device_id=port.device_ids[0],
        driver=port.driver,
        link=SerialLink(port=port.port, fmt=port.serial),
        samples=samples,
    )
    bus = FakeBus(sensor)
    bus.start()
    reader.start()
    duration = 3.0
    try:
        time.sleep(duration)
    finally:
        reader.stop()
        with bus.lock:
            bus.stop.set()
        bus.join(5)
        sensor.close()
    got: dict[str, list[Sample]] = defaultdict(list)
    while not samples.empty():
        sample = samples.get_nowait()
        got[sample.device_id].append(sample)

    health = {d.device_id: d for d in reader.devices.values()}
    rejected = {d: dict(h.rejected) for d, h in health.items()}
    # every device read at its own interval (the loop is one thread: requests in turn)
    for device, interval in (("wl-radar-1", 0.3), ("aq-bus-2", 0.5)):
        ts = [s.ts_ms / 1000 for s in got[device]]
        assert len(ts) >= duration / interval * 0.7, (device, len(ts))
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        assert abs(statistics.median(gaps) - interval) < interval * 0.25, (device, gaps)
    assert {tuple(s.values.items()) for s in got["wl-radar-1"]} == {(("water_level", 123.4),)}
    assert {tuple(sorted(s.values.items())) for s in got["aq-bus-2"]} == {
        (("humidity", 65.43), ("temperature", 21.5))
    }, rejected
    assert health["wl-radar-1"].rejected["exception_2"] == len(got["wl-radar-1"])
    assert health["aq-bus-2"].rejected["garbage"] >= len(got["aq-bus-2"])  # the noise byte

    # the slow slave: fast answers become readings, late ones time out and are dropped
    slow = got["wl-slow-3"]
    assert slow and all(s.values == {"water_level": 300.0} for s in slow)
    timeouts = health["wl-slow-3"].rejected["timeout"]
    requests_to_3 = sum(1 for _, r in bus.requests if r[0] == 3)
    # (a request may still be in flight when the reader stops)
    assert timeouts >= 2 and requests_to_3 - 1 <= len(slow) + timeouts <= requests_to_3
    late = sum(1 for s in got.values() for x in s if x.values.get("water_level") == 999.9)
    assert late == 0
    assert sum(d.rejected["stale"] for d in health.values()) >= 1  # late bytes dropped

    # 3.5 character times (4 ms at 9600 baud) of silence after a reply before a request
    char = 11 / 9600
    for at, _request in bus.requests[1:]:
        before = [t for t, _ in bus.replies if t < at]
        if before:
            assert at - max(before) >= 3.5 * char * 0.9
