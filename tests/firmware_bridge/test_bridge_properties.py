"""Property tests: decoders and framers never crash; valid frames round-trip."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.decoding import Decoded, DecodeError, split
from firmware_bridge.drivers import (
    DRIVERS,
    hpma115,
    maxbotix,
    mcu680,
    mhz19,
    modbus,
    plantower,
    rg15,
    sdi12,
    sds011,
    sps30,
)
from firmware_bridge.framing import Frame, Rejected
from firmware_bridge.options import Options

u16 = st.integers(0, 0xFFFF)

CONFIGS: dict[str, dict[str, object]] = {
    "plantower": {},
    "sds011": {},
    "maxbotix": {"mounting_height_cm": 400.0},
    "sdi12": {"crc": False},
    "rg15": {},
    "modbus": {"register": 4, "metric": "water_level", "scale": 0.1, "data_type": "float32"},
    "mhz19": {},
    "hpma115": {},
    "sps30": {},
    "mcu680": {},
}
DECODERS: dict[str, Callable[[bytes], Decoded]] = {
    name: DRIVERS[name](Options(CONFIGS[name], "options")).decode for name in DRIVERS
}
DECODERS["pms5003t"] = lambda f: plantower.values(f, model="pms5003t")


@pytest.mark.parametrize("name", sorted(DECODERS))
@given(data=st.binary(max_size=80))
@settings(max_examples=300, deadline=None)
def test_random_bytes_only_raise_decode_error(name: str, data: bytes) -> None:
    try:
        result = DECODERS[name](data)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert all(isinstance(v, float) for v in split(result)[0].values())


@pytest.mark.parametrize("name", sorted(DRIVERS))
@given(chunks=st.lists(st.binary(max_size=60), max_size=20))
@settings(max_examples=200, deadline=None)
def test_framer_never_crashes_and_stays_bounded(name: str, chunks: list[bytes]) -> None:
    framer = DRIVERS[name](Options(CONFIGS[name], "options")).make_framer()
    for chunk in chunks:
        for event in framer.feed(chunk):
            assert isinstance(event, Frame | Rejected)
    assert sum(len(e.data) for e in framer.reset()) <= 2 * 600


@given(words=st.lists(u16, min_size=13, max_size=13))
def test_plantower_round_trip(words: list[int]) -> None:
    words[6] = max(words[6], 1)  # a real frame has particles whenever it has PM
    data = plantower.parse(plantower.encode(tuple(words)))
    assert data is not None
    assert (data.raw01, data.raw25, data.raw10) == tuple(words[:3])
    assert (data.pm01, data.pm25, data.pm10) == tuple(float(w) for w in words[3:6])
    assert data.counts == tuple(words[6:12])


@given(pm25=u16, pm10=u16, device=u16)
def test_sds011_round_trip(pm25: int, pm10: int, device: int) -> None:
    data = sds011.parse(sds011.encode_report(pm25_raw=pm25, pm10_raw=pm10, device=device))
    assert (data.pm25, data.pm10, data.device) == (pm25 / 10, pm10 / 10, device)


@given(ppm=u16)
def test_mhz19_round_trip(ppm: int) -> None:
    assert mhz19.co2(mhz19.encode(ppm)) == ppm


@given(words=st.lists(u16, min_size=6, max_size=6))
def test_hpma115_round_trip(words: list[int]) -> None:
    data = hpma115.parse(hpma115.encode(tuple(words)))
    assert (data.pm01, data.pm25, data.pm04, data.pm10) == tuple(float(w) for w in words[:4])


floats = st.floats(min_value=0, max_value=1000, width=32)


@given(numbers=st.lists(floats, min_size=10, max_size=10))
def test_sps30_round_trip_with_byte_stuffing(numbers: list[float]) -> None:
    frame = sps30.encode(0x03, struct.pack(">10f", *numbers))
    assert sps30.parse(frame).numbers == tuple(numbers)
    events = sps30.make_framer().feed(b"\x13\x11" + frame + frame[:5])
    assert [e for e in events if isinstance(e, Frame)] == [Frame(frame)]


@given(
    temp=st.integers(-4000, 8500),
    rhum=st.integers(0, 10000),
    pres=st.integers(1, 0xFFFFFF),
    iaq=u16,
    gas=st.integers(0, 2**32 - 1),
    alt=st.integers(-32768, 32767),
)
def test_mcu680_round_trip(temp: int, rhum: int, pres: int, iaq: int, gas: int, alt: int) -> None:
    data = mcu680.parse(mcu680.encode(temp, rhum, pres, iaq, gas, alt))
    assert (data.temperature, data.humidity, data.pressure) == (temp / 100, rhum / 100, pres / 100)
    assert (data.iaq_accuracy << 12 | data.iaq, data.altitude) == (iaq, alt)


@given(raw=st.integers(301, 9998))
def test_maxbotix_round_trip(raw: int) -> None:
    line = maxbotix.encode(raw)
    level = maxbotix.water_level(line, mounting_height_cm=1000.0)
    assert level == {"water_level": round(1000.0 - raw / 10, 3)}


@given(
    numbers=st.lists(
        st.decimals(min_value=-9999, max_value=9999, places=3, allow_nan=False),
        min_size=1,
        max_size=5,
    ),
    crc=st.booleans(),
)
def test_sdi12_round_trip(numbers: list[object], crc: bool) -> None:
    texts = tuple(f"{n:+.3f}" for n in numbers)
    reply = sdi12.parse(sdi12.encode("0", texts, crc=crc))
    assert reply is not None and reply.has_crc == crc
    assert reply.values == tuple(float(t) for t in texts)


@given(acc=st.integers(0, 99999), total=st.integers(0, 99999))
def test_rg15_round_trip(acc: int, total: int) -> None:
    line = rg15.RainLine(acc / 100, acc / 100, total / 100, 0.0)
    assert rg15.parse(rg15.encode(line)) == line


@given(value=st.integers(0, 0xFFFF), slave=st.integers(1, 247))
def test_modbus_round_trip(value: int, slave: int) -> None:
    frame = modbus.reply(slave, 3, value.to_bytes(2, "big"))
    assert modbus.decode_value(frame, slave=slave) == float(value)
    events = modbus.make_framer(slave, 3).feed(b"\x00\xff" + frame)
    assert [e for e in events if isinstance(e, Frame)] == [Frame(frame)]


@given(
    garbage=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"B", b"")), max_size=8),
    split=st.integers(1, 40),
)
def test_plantower_frames_found_among_garbage(garbage: list[bytes], split: int) -> None:
    """Frames survive any garbage between them and any chunking of the stream."""
    frames = [plantower.encode((i + 1,) * 13) for i in range(len(garbage))]
    stream = b"".join(g + f for g, f in zip(garbage, frames, strict=True))
    framer = plantower.make_framer()
    events = []
    for start in range(0, len(stream), split):
        events += framer.feed(stream[start : start + split])
    assert [e.data for e in events if isinstance(e, Frame)] == frames
    rejected = sum(len(e.data) for e in events if isinstance(e, Rejected))
    assert rejected == sum(len(g) for g in garbage)
