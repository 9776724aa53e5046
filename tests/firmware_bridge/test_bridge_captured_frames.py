"""Every real frame captured by PyPMS decodes to the values recorded at capture time."""

from __future__ import annotations

import pytest

from firmware_bridge.drivers import hpma115, mcu680, mhz19, plantower, sds011, sps30
from tests.firmware_bridge.bridge_captures import DATA, cases, frames


@pytest.mark.parametrize(("frame", "row"), cases("PMSx003"))
def test_pmsx003(frame: bytes, row: dict[str, float]) -> None:
    data = plantower.parse(frame)
    assert data is not None
    assert (data.raw01, data.raw25, data.raw10) == (row["raw01"], row["raw25"], row["raw10"])
    assert (data.pm01, data.pm25, data.pm10) == (row["pm01"], row["pm25"], row["pm10"])
    names = ("n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10_0")
    assert [round(c / 100, 2) for c in data.counts] == [row[n] for n in names]
    assert plantower.values(frame) == {"pm1": row["pm01"], "pm25": row["pm25"], "pm10": row["pm10"]}


@pytest.mark.parametrize(("frame", "row"), cases("PMS5003T"))
def test_pms5003t(frame: bytes, row: dict[str, float]) -> None:
    data = plantower.parse(frame, model="pms5003t")
    assert data is not None
    assert (data.raw01, data.raw25, data.raw10) == (row["raw01"], row["raw25"], row["raw10"])
    assert (data.pm01, data.pm25, data.pm10) == (row["pm01"], row["pm25"], row["pm10"])
    assert [round(c / 100, 2) for c in data.counts] == [
        row["n0_3"],
        row["n0_5"],
        row["n1_0"],
        row["n2_5"],
    ]
    assert data.temperature == row["temp"]
    assert data.humidity == row["rhum"]
    assert plantower.values(frame, model="pms5003t") == {
        "pm1": row["pm01"],
        "pm25": row["pm25"],
        "pm10": row["pm10"],
        "temperature": row["temp"],
        "humidity": row["rhum"],
    }


@pytest.mark.parametrize(("frame", "row"), cases("PMS3003"))
def test_pms3003(frame: bytes, row: dict[str, float]) -> None:
    data = plantower.parse(frame, model="pms3003")
    assert data is not None
    assert (data.raw01, data.raw25, data.raw10) == (row["raw01"], row["raw25"], row["raw10"])
    assert (data.pm01, data.pm25, data.pm10) == (row["pm01"], row["pm25"], row["pm10"])


@pytest.mark.parametrize(("frame", "row"), cases("SDS01x"))
def test_sds01x(frame: bytes, row: dict[str, float]) -> None:
    assert sds011.values(frame) == {"pm25": row["pm25"], "pm10": row["pm10"]}
    assert sds011.parse(frame).device == 0xD958


@pytest.mark.parametrize(("frame", "row"), cases("SDS198"))
def test_sds198(frame: bytes, row: dict[str, float]) -> None:
    assert sds011.parse(frame).pm100 == row["pm100"]


@pytest.mark.parametrize(("frame", "row"), cases("MHZ19B"))
def test_mhz19b(frame: bytes, row: dict[str, float]) -> None:
    assert mhz19.values(frame) == {"co2": row["CO2"]}


@pytest.mark.parametrize(("frame", "row"), cases("HPMA115C0"))
def test_hpma115c0(frame: bytes, row: dict[str, float]) -> None:
    data = hpma115.parse(frame)
    assert (data.pm01, data.pm25, data.pm04, data.pm10) == (
        row["pm01"],
        row["pm25"],
        row["pm04"],
        row["pm10"],
    )


@pytest.mark.parametrize(("frame", "row"), cases("SPS30"))
def test_sps30(frame: bytes, row: dict[str, float]) -> None:
    numbers = sps30.parse(frame).numbers
    pm = [round(v, 1) for v in numbers[:4]]
    assert pm == [row["pm01"], row["pm25"], row["pm04"], row["pm10"]]
    counts = [round(v, 2) for v in numbers[4:9]]
    assert counts == [row["n0_5"], row["n1_0"], row["n2_5"], row["n4_0"], row["n10_0"]]
    assert round(numbers[9], 1) == row["diam"]
    values = sps30.values(frame)
    assert [round(values[k], 1) for k in ("pm1", "pm25", "pm10")] == [
        row["pm01"],
        row["pm25"],
        row["pm10"],
    ]


@pytest.mark.parametrize(("frame", "row"), cases("MCU680"))
def test_mcu680(frame: bytes, row: dict[str, float]) -> None:
    data = mcu680.parse(frame)
    assert round(data.temperature, 1) == row["temp"]
    assert round(data.humidity, 1) == row["rhum"]
    assert data.pressure == row["pres"]
    assert data.iaq == row["IAQ"]
    assert round(data.gas, 1) == row["gas"]
    assert data.altitude == row["alt"]
    # PyPMS derives IAQ_acc as IAQ >> 4 (so 25 -> 1); the frame's 4-bit field is IAQ >> 12.
    assert data.iaq_accuracy == 0 and int(data.iaq) >> 4 == row["IAQ_acc"]


def test_data_csv_matches_hexdumps() -> None:
    """``data.csv`` repeats the captures as hex strings; every one is a frame above."""
    known = {
        name: set(frames(name))
        for name in (
            "PMS3003",
            "PMSx003",
            "PMS5003T",
            "SDS01x",
            "SDS198",
            "MHZ19B",
            "HPMA115C0",
            "SPS30",
            "MCU680",
        )
    }
    lines = (DATA / "data.csv").read_text().splitlines()[1:]
    assert len(lines) == 86
    for line in lines:
        _time, sensor, hexdata = line.split(",")
        assert bytes.fromhex(hexdata) in known[sensor], (sensor, hexdata)
