"""Table tests from serial_vectors.md (tests/data/serial), one block per protocol."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from firmware_bridge.checksums import crc16_arc, crc16_modbus, sdi12_crc_chars
from firmware_bridge.decoding import DecodeError
from firmware_bridge.drivers import maxbotix, modbus, plantower, rg15, sdi12, sds011
from firmware_bridge.options import Options


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


A4 = hx(
    "42 4d 00 1c 00 05 00 0d 00 16 00 05 00 0d 00 16 "
    "02 fd 00 fc 00 1d 00 0f 00 06 00 06 97 00 03 c5"
)


# (a) Plantower
def test_plantower_vectors() -> None:
    assert plantower.values(A4) == {"pm1": 5.0, "pm25": 13.0, "pm10": 22.0}
    a4 = plantower.parse(A4)
    assert a4 is not None and a4.counts == (765, 252, 29, 15, 6, 6)
    a6 = plantower.parse(
        hx(
            "42 4d 00 1c 00 17 00 27 00 29 00 16 00 23 00 29 "
            "10 08 04 a9 01 16 00 0c 00 d4 00 e0 9a 00 04 aa"
        ),
        model="pms5003t",
    )
    assert a6 is not None and (a6.temperature, a6.humidity, a6.pm25) == (21.2, 22.4, 35.0)
    a8 = plantower.parse(
        hx("42 4d 00 14 00 51 00 6a 00 77 00 35 00 46 00 4f 33 d2 0f 28 00 3f 04 1a")
    )
    assert a8 is not None and (a8.raw01, a8.raw25, a8.raw10, a8.pm01, a8.pm25, a8.pm10) == (
        81,
        106,
        119,
        53.0,
        70.0,
        79.0,
    )


def test_plantower_a9_inconsistent_counts_rejected() -> None:
    # A9 is synthetic: PM10 > 0 with zero particle counts, which PyPMS's rule rejects.
    frame = hx(
        "42 4d 00 1c 01 aa 02 bb 03 cc 04 dd 05 ee 06 ff "
        "00 00 00 00 00 00 00 00 00 00 00 00 12 34 06 01"
    )
    plantower.check(frame)  # the checksum is right
    with pytest.raises(DecodeError) as err:
        plantower.values(frame)
    assert err.value.reason == "inconsistent"


def test_plantower_a5_bad_checksum() -> None:
    with pytest.raises(DecodeError) as err:
        plantower.values(A4[:-2] + b"\x00\x00")
    assert err.value.reason == "bad_checksum"


def test_plantower_commands_and_ack() -> None:
    assert plantower.CMD_PASSIVE.hex() == "424de100000170"
    assert plantower.CMD_ACTIVE.hex() == "424de100010171"
    assert plantower.CMD_READ.hex() == "424de200000171"
    assert plantower.CMD_SLEEP.hex() == "424de400000173"
    assert plantower.CMD_WAKE.hex() == "424de400010174"
    ack = plantower.encode((0xE100,))
    assert len(ack) == 8 and plantower.values(ack) == {}


def test_plantower_warming_up() -> None:
    with pytest.raises(DecodeError) as err:
        plantower.values(plantower.encode((0,) * 13))
    assert err.value.reason == "warming_up"


# (b) Nova SDS011 / SDS198
@pytest.mark.parametrize(
    ("frame", "pm25", "pm10"),
    [
        ("aa c0 06 00 06 00 58 d9 3d ab", 0.6, 0.6),
        ("aa c0 09 00 09 00 58 d9 43 ab", 0.9, 0.9),
        ("aa c0 08 00 08 00 58 d9 41 ab", 0.8, 0.8),
        ("aa c0 d4 04 3a 0a a1 60 1d ab", 123.6, 261.8),
    ],
)
def test_sds011_vectors(frame: str, pm25: float, pm10: float) -> None:
    assert sds011.values(hx(frame)) == {"pm25": pm25, "pm10": pm10}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("aa c0 d4 04 3a 0a a1 60 00 ab", "bad_checksum"),
        ("aa c0 d4 04 3a 0a a1 60 1d aa", "bad_tail"),
    ],
)
def test_sds011_rejects(frame: str, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        sds011.values(hx(frame))
    assert err.value.reason == reason


def test_sds198_and_commands() -> None:
    assert sds011.parse(hx("aa cf 0e 00 10 00 e9 05 0c ab")).pm100 == 16.0
    assert sds011.parse(hx("aa cf 0c 00 16 00 e9 05 10 ab")).pm100 == 22.0
    assert hx("aa b4 04 00 00 00 00 00 00 00 00 00 00 00 00 ff ff 02 ab") == sds011.CMD_QUERY
    assert hx("aa b4 02 01 01" + " 00" * 10 + " ff ff 02 ab") == sds011.CMD_MODE_QUERY
    assert hx("aa b4 02 01 00" + " 00" * 10 + " ff ff 01 ab") == sds011.CMD_MODE_ACTIVE
    assert hx("aa b4 06 01 00" + " 00" * 10 + " ff ff 05 ab") == sds011.CMD_SLEEP
    assert hx("aa b4 06 01 01" + " 00" * 10 + " ff ff 06 ab") == sds011.CMD_WAKE


# (c) MaxBotix
def test_maxbotix_vectors() -> None:
    assert maxbotix.distance(b"R2257") == 2257
    level = maxbotix.water_level(b"R2257", mounting_height_cm=500.0)
    assert isinstance(level, Mapping) and level["water_level"] == pytest.approx(274.3)
    assert maxbotix.distance(b"R008 P1") == 8
    for line, kwargs, reason in [
        (b"R9999", {}, "no_target"),
        (b"R5000", {"no_target": 5000}, "no_target"),
        (b"R0000", {}, "no_reading"),
        (b"R008 P0", {"unit": "in", "blanking": 0}, "no_target"),
        (b"HRXL-MaxSonar-WRL", {}, "not_data"),
        (b"PN:MB7386", {}, "not_data"),
        (bytes([43, 192, 6, 6, 179, 89, 30, 0]), {}, "not_data"),
    ]:
        with pytest.raises(DecodeError) as err:
            maxbotix.water_level(line, mounting_height_cm=500.0, **kwargs)  # type: ignore[arg-type]
        assert err.value.reason == reason, line


# (d1) SDI-12
def test_sdi12_crc() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D
    assert sdi12_crc_chars(b"0+3.14") == b"OqZ"
    assert sdi12_crc_chars(b"0+100.050+25.000+0") == b"EPi"


def test_sdi12_vectors() -> None:
    reply = sdi12.parse(b"0+3.14OqZ\r\n")
    assert reply is not None and reply.values == (3.14,) and reply.has_crc
    reply = sdi12.parse(b"0+100.050+25.000+0\r\n")
    assert reply is not None and reply.values == (100.05, 25.0, 0.0) and not reply.has_crc
    assert sdi12.parse(b"00023\r\n") is None  # attention reply to 0M!
    drv = sdi12.driver(Options({"fields": ["water_level", "", ""]}, "options"))
    assert drv.decode(b"0+100.050+25.000+0EPi") == {"water_level": 10005.0}
    assert drv.decode(b"0D0!0+3.14OqZ") == {"water_level": 314.0}
    assert drv.make_poller is not None and drv.poll_interval == 60.0
    for line, reason in [
        (b"0+3.14OqY", "bad_crc"),
        (b"0+3.14", "missing_crc"),
        (b"1+3.14" + sdi12_crc_chars(b"1+3.14"), "wrong_address"),
    ]:
        with pytest.raises(DecodeError) as err:
            drv.decode(line)
        assert err.value.reason == reason


# (d3) Hydreon RG-15
def test_rg15_vectors() -> None:
    line = rg15.parse(b"Acc  0.00 mm, EventAcc  0.00 mm, TotalAcc  1.23 mm, RInt  0.00 mmph\n")
    assert line == rg15.RainLine(0.0, 0.0, 1.23, 0.0)
    d9 = rg15.values(b"Acc  0.00 mm, EventAcc  0.58 mm, TotalAcc  0.58 mm, RInt  0.00 mmph")
    assert d9 == {"rain": 0.0}
    imperial = rg15.parse(b"Acc 0.010 in, EventAcc 0.000 in, TotalAcc 0.000 in, RInt 0.000 iph")
    assert imperial is not None and imperial.acc == pytest.approx(0.254)
    with pytest.raises(DecodeError) as err:
        rg15.values(b"AcQ  0.00 mm, EventAcc  0.x0 mm, TotalAcc  1.23 mm, RInt0.00 mmph\n")
    assert err.value.reason == "malformed"
    assert rg15.values(b";RG-15 banner") == {}
    assert rg15.values(b"p") == {}


# (e) Modbus RTU
def test_modbus_vectors() -> None:
    assert modbus.read_request(0x11, 0x006B, 3) == hx("11 03 00 6B 00 03 76 87")
    assert modbus.read_request(1, 0, 1) == hx("01 03 00 00 00 01 84 0A")
    assert modbus.read_request(1, 4, 1) == hx("01 03 00 04 00 01 C5 CB")
    assert crc16_modbus(hx("01 03 02 00 56")) == 0x7A38
    assert modbus.decode_value(hx("01 03 02 00 56 38 7A"), slave=1, scale=0.1) == 8.6
    assert modbus.decode_value(hx("01 03 02 00 06 38 46"), slave=1) == 6.0
    for frame, reason in [
        (hx("01 03 02 00 56 38 7B"), "bad_crc"),
        (modbus.with_crc(hx("01 83 02")), "exception_2"),
        (hx("01 03 02 00 56 38 7A"), "wrong_slave"),
    ]:
        with pytest.raises(DecodeError) as err:
            modbus.decode_value(frame, slave=2 if reason == "wrong_slave" else 1)
        assert err.value.reason == reason
