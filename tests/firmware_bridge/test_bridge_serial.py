"""The serial link and the reader over real pseudo-terminals, through pyserial."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.driver import SerialFormat
from firmware_bridge.drivers import plantower, sds011
from firmware_bridge.options import Options
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.serial_link import LinkDown, SerialLink
from tests.firmware_bridge.bridge_captures import frames
from tests.firmware_bridge.bridge_pty import PtySensor, wait_for


@pytest.fixture
def sensor(tmp_path: Path) -> Iterator[PtySensor]:
    pty = PtySensor(tmp_path / "ttyPMS")
    yield pty
    pty.close()


def drain(samples: queue.Queue[Sample]) -> list[Sample]:
    out = []
    while not samples.empty():
        out.append(samples.get_nowait())
    return out


def test_link_reads_and_writes(sensor: PtySensor) -> None:
    link = SerialLink(port=str(sensor.path), fmt=SerialFormat())
    link.open()
    sensor.write(b"\x42\x4d\r\n\x00")
    wait_for(lambda: True)
    got = b""
    while len(got) < 5:
        got += link.read()
    assert got == b"\x42\x4d\r\n\x00"  # raw: no CR/LF translation
    link.write(plantower.CMD_READ)
    assert sensor.read(2.0) == plantower.CMD_READ
    link.close()


def test_link_missing_port_raises_link_down(tmp_path: Path) -> None:
    with pytest.raises(LinkDown):
        SerialLink(port=str(tmp_path / "nope"), fmt=SerialFormat()).open()


def test_link_unplug_raises_link_down(sensor: PtySensor) -> None:
    link = SerialLink(port=str(sensor.path), fmt=SerialFormat())
    link.open()
    sensor.unplug()
    with pytest.raises(LinkDown):
        for _ in range(50):
            link.read()
    link.close()


def test_reader_counts_rejections_and_survives_unplug(sensor: PtySensor) -> None:
    good = frames("PMSx003")
    samples: queue.Queue[Sample] = queue.Queue(100)
    reader = SensorReader(
        device_id="aq-pty",
        driver=plantower.driver(Options({"mode": "passive", "poll_interval": 1.0}, "o")),
        link=SerialLink(port=str(sensor.path), fmt=SerialFormat()),
        samples=samples,
        max_backoff=0.2,
    )
    reader.start()
    try:
        wait_for(lambda: reader.opens == 1)
        # passive mode: the reader wakes the sensor, sets passive mode and polls
        commands = b""
        while plantower.CMD_READ not in commands:
            commands += sensor.read(3.0)
        assert commands.startswith(plantower.CMD_WAKE + plantower.CMD_PASSIVE)
        bad = good[1][:-2] + b"\x00\x00"
        sensor.write(b"\xde\xad" + good[0] + bad + good[2][:10])
        wait_for(lambda: reader.frames == 1 and reader.rejected["bad_checksum"] == 1)
        sensor.unplug()  # mid-frame: the partial frame is counted when the port drops
        wait_for(lambda: not reader.connected)
        assert reader.rejected["truncated"] == 1
        sensor.plug()
        wait_for(lambda: reader.opens == 2)
        sensor.write(good[3] + good[4])
        wait_for(lambda: reader.frames == 3)
    finally:
        reader.stop()
    got = drain(samples)
    assert [s.values["pm25"] for s in got] == [8.0, 7.0, 7.0]
    assert reader.rejected["garbage"] == 1
    assert all(s.device_id == "aq-pty" for s in got)


def test_reader_sds011_query_mode_sends_commands(sensor: PtySensor) -> None:
    samples: queue.Queue[Sample] = queue.Queue(10)
    reader = SensorReader(
        device_id="aq-sds",
        driver=sds011.driver(Options({"mode": "query", "poll_interval": 1.0}, "o")),
        link=SerialLink(port=str(sensor.path), fmt=SerialFormat()),
        samples=samples,
    )
    reader.start()
    try:
        commands = b""
        while sds011.CMD_QUERY not in commands:
            commands += sensor.read(3.0)
        assert commands.startswith(sds011.CMD_WAKE + sds011.CMD_MODE_QUERY)
        sensor.write(frames("SDS01x")[0])
        wait_for(lambda: reader.frames == 1)
    finally:
        reader.stop()
    assert drain(samples)[0].values == {"pm25": 0.6, "pm10": 0.6}


def test_reader_keeps_timestamps_strictly_increasing_within_a_burst(sensor: PtySensor) -> None:
    """Frames read in one burst share the clock's millisecond; (device, ts) is a reading's
    identity downstream, so each gets its own timestamp, never one in the past."""
    samples: queue.Queue[Sample] = queue.Queue(100)
    now = [1_763_800_000.0]
    reader = SensorReader(
        device_id="aq-burst",
        driver=sds011.driver(Options({}, "o")),
        link=SerialLink(port=str(sensor.path), fmt=SerialFormat()),
        samples=samples,
        clock=lambda: now[0],
    )
    captured = frames("SDS01x")
    reader.start()
    try:
        wait_for(lambda: reader.opens == 1)
        sensor.write(b"".join(captured[:5]))  # one write: one read, a frozen clock
        wait_for(lambda: reader.frames == 5)
        now[0] -= 10.0  # the gateway clock steps back (NTP): still no earlier timestamp
        sensor.write(captured[5])
        wait_for(lambda: reader.frames == 6)
    finally:
        reader.stop()
    ts = [s.ts_ms for s in drain(samples)]
    assert ts == [1_763_800_000_000 + i for i in range(6)]
