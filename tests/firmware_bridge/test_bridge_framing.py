"""Framing: garbage, partial frames, bad checksums and line noise; rejections by reason."""

from __future__ import annotations

from collections import Counter

from firmware_bridge.drivers import maxbotix, modbus, plantower, rg15, sds011
from firmware_bridge.framing import Event, Frame, Framer, LineFramer, Rejected
from tests.firmware_bridge.bridge_captures import frames

PMS = frames("PMSx003")
SDS = frames("SDS01x")


def run(framer: Framer, *chunks: bytes) -> tuple[list[bytes], Counter[str]]:
    events: list[Event] = []
    for chunk in chunks:
        events += framer.feed(chunk)
    good = [e.data for e in events if isinstance(e, Frame)]
    reasons = Counter(e.reason for e in events if isinstance(e, Rejected))
    return good, reasons


def test_plantower_garbage_partial_and_bad_checksum() -> None:
    bad = PMS[1][:-1] + bytes([PMS[1][-1] ^ 0xFF])
    truncated = PMS[2][:17]
    stream = b"\x00\xffnoise" + PMS[0] + bad + truncated + PMS[3] + b"BM\x00\x99" + PMS[4]
    good, reasons = run(plantower.make_framer(), stream)
    assert good == [PMS[0], PMS[3], PMS[4]]
    # the bytes after a bad length field are skipped as garbage while resynchronising
    assert reasons == Counter({"garbage": 2, "bad_checksum": 2, "bad_length": 1})


def test_plantower_byte_by_byte_equals_whole() -> None:
    stream = b"xx" + b"".join(PMS) + b"BM"
    whole = plantower.make_framer().feed(stream)
    framer = plantower.make_framer()
    single = [e for i in range(len(stream)) for e in framer.feed(stream[i : i + 1])]
    assert [e for e in whole if isinstance(e, Frame)] == [Frame(f) for f in PMS]
    assert [e for e in single if isinstance(e, Frame)] == [Frame(f) for f in PMS]
    # garbage may arrive as several runs, but the same bytes are thrown away
    assert b"".join(e.data for e in single if isinstance(e, Rejected)) == b"xx"
    assert framer.reset() == [Rejected("truncated", b"BM")]


def test_reset_reports_a_partial_frame() -> None:
    framer = plantower.make_framer()
    assert framer.feed(PMS[0][:20]) == []
    assert framer.reset() == [Rejected("truncated", PMS[0][:20])]
    assert run(framer, PMS[1])[0] == [PMS[1]]


def test_sds011_noise_and_bad_tail() -> None:
    bad_tail = SDS[0][:-1] + b"\xaa"
    stream = bytes(range(0x10, 0x40)) + SDS[0] + bad_tail + SDS[1] + b"\xaa\x11" + SDS[7]
    good, reasons = run(sds011.make_framer(), stream)
    assert good == [SDS[0], SDS[1], SDS[7]]
    assert reasons["bad_tail"] == 1 and reasons["bad_command"] >= 1 and reasons["garbage"] >= 1


def test_line_framer_noise_and_overlong_lines() -> None:
    framer = maxbotix.make_framer()
    good, reasons = run(
        framer, b"HRXL-MaxSonar-WRL\rPN:MB7386\rR22", b"57\r\x00" * 1 + b"x" * 500 + b"\rR2260\r"
    )
    assert good[:2] == [b"HRXL-MaxSonar-WRL", b"PN:MB7386"]
    assert b"R2257" in good and b"R2260" in good
    assert reasons == Counter({"too_long": 1})


def test_line_framer_strips_crlf() -> None:
    line = rg15.encode(rg15.RainLine(0.25, 0.25, 1.0, 3.0))
    assert run(LineFramer(), line * 2)[0] == [line.strip()] * 2


def test_modbus_reply_with_leading_noise() -> None:
    reply = modbus.reply(1, 3, b"\x00\x56")
    good, reasons = run(modbus.make_framer(1, 3), b"\xff\x00" + reply[:4], reply[4:])
    assert good == [reply]
    assert reasons == Counter({"garbage": 1})
