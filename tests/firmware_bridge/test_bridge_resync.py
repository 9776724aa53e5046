"""Every framer resynchronises after garbage, cut-short frames and noise.

The property, per driver: any interleaving of valid frames (captured frames where we have
them, else frames built from the datasheet format) with random bytes and truncated
frames, in any chunking, yields exactly the readings of the valid frames. Two limits are
the protocols' own, not the framers': a cut-short frame that the following bytes happen
to complete, or to splice into a frame that passes the checksum (one time in 256 for the
8-bit sums of SDS011, MH-Z19 and MCU680), is a whole frame to anyone (such draws are
excluded with ``assume``); and for the two line protocols
without a checksum (MaxBotix, RG-15) the noise holds no line terminator — random digits
and a CR after a cut-short ``R14`` would make a range nobody can tell from a real one.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from firmware_bridge.decoding import BOUND, DecodeError, Flagged, split
from firmware_bridge.drivers import DRIVERS, maxbotix, modbus, rg15, sdi12
from firmware_bridge.framing import Event, Frame, Framer, Rejected
from firmware_bridge.options import Options
from tests.firmware_bridge.bridge_captures import frames


@dataclass(frozen=True)
class Case:
    options: dict[str, object]
    valid: st.SearchStrategy[bytes]
    terminator: bytes | None = None  # noise never holds it (protocols without a checksum)


def captured(sensor: str, driver: str, options: dict[str, object]) -> st.SearchStrategy[bytes]:
    decode = DRIVERS[driver](Options(options, "o")).decode
    good = []
    for frame in frames(sensor):
        try:
            if split(decode(frame))[0]:
                good.append(frame)
        except DecodeError:
            pass
    assert good, sensor
    return st.sampled_from(good)


def _sdi12(numbers: list[int]) -> bytes:
    return sdi12.encode("0", tuple(f"{n / 1000:+.3f}" for n in numbers))


def _rg15(acc: int, total: int, rate: int) -> bytes:
    return rg15.encode(rg15.RainLine(acc / 100, acc / 100, total / 100, rate / 100))


MODBUS = {"slave": 7, "register": 4, "metric": "water_level", "data_type": "int32"}

CASES: dict[str, Case] = {
    "plantower": Case({}, captured("PMSx003", "plantower", {})),
    "sds011": Case({}, captured("SDS01x", "sds011", {})),
    "mhz19": Case({}, captured("MHZ19B", "mhz19", {})),
    "hpma115": Case({}, captured("HPMA115C0", "hpma115", {})),
    "sps30": Case({}, captured("SPS30", "sps30", {})),
    "mcu680": Case({}, captured("MCU680", "mcu680", {})),
    "maxbotix": Case(
        {"mounting_height_cm": 1200.0},
        st.integers(1, 9998).map(maxbotix.encode),
        terminator=b"\r",
    ),
    "rg15": Case(
        {},
        st.builds(_rg15, st.integers(0, 9999), st.integers(0, 99999), st.integers(0, 9999)),
        terminator=b"\n",
    ),
    "sdi12": Case({}, st.lists(st.integers(-99999, 99999), min_size=1, max_size=4).map(_sdi12)),
    "modbus": Case(
        MODBUS,
        st.integers(-(2**31), 2**31 - 1).map(lambda v: modbus.reply(7, 3, struct.pack(">i", v))),
    ),
}


def readings(
    framer: Framer, decode: Callable[[bytes], object], chunks: list[bytes]
) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        for event in framer.feed(chunk):
            if isinstance(event, Frame):
                try:
                    values = decode(event.data)
                except DecodeError:
                    continue
                if split(values)[0]:  # type: ignore[arg-type]
                    out.append(values)
    return out


@st.composite
def streams(
    draw: st.DrawFn, case: Case, framer: Callable[[], Framer]
) -> tuple[list[bytes], list[bytes]]:
    """(pieces of the stream, the valid frames among them)."""
    noise = st.binary(min_size=1, max_size=16)
    if case.terminator is not None:
        noise = noise.map(lambda b: b.replace(case.terminator or b"", b"")).filter(bool)
    pieces: list[bytes] = []
    valid: list[bytes] = []
    truncated_at: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(("frame", "frame", "noise", "truncated")))
        if kind == "noise":
            pieces.append(draw(noise))
            continue
        frame = draw(case.valid)
        if kind == "truncated":
            cut = draw(st.integers(1, len(frame) - 1))
            truncated_at.append((len(pieces), frame))
            pieces.append(frame[:cut])
        else:
            pieces.append(frame)
            valid.append(frame)
    for index, _frame in truncated_at:  # what follows must not make it a frame that passes
        spliced = framer().feed(b"".join(pieces[index:]))
        assume(not spliced or not isinstance(spliced[0], Frame))
    return pieces, valid


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_any_interleaving_yields_exactly_the_valid_frames(name: str, data: st.DataObject) -> None:
    case = CASES[name]
    driver = DRIVERS[name](Options(case.options, "o"))
    pieces, valid = data.draw(streams(case, driver.make_framer))
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = [driver.decode(frame) for frame in valid]
    assert readings(driver.make_framer(), driver.decode, chunks) == expected


def events(framer: Framer, *chunks: bytes) -> tuple[list[bytes], Counter[str]]:
    out: list[Event] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    good = [e.data for e in out if isinstance(e, Frame)]
    return good, Counter(e.reason for e in out if isinstance(e, Rejected))


# the failures reported in the field, one by one


def test_maxbotix_cut_short_range_then_a_whole_one() -> None:
    good, reasons = events(maxbotix.make_framer(4), b"R13", b"R1422\r")
    assert good == [b"R1422"]
    assert reasons == Counter({"truncated": 1})


def test_maxbotix_garbage_before_a_range() -> None:
    good, reasons = events(maxbotix.make_framer(4), b"\x00\xfe+\x07", b"R1437\r")
    assert good == [b"R1437"]
    assert reasons == Counter({"garbage": 1})


def test_rg15_garbage_and_a_cut_short_reply_before_acc() -> None:
    line = b"Acc  0.25 mm, EventAcc  0.25 mm, TotalAcc  1.23 mm, RInt  3.00 mmph"
    good, reasons = events(rg15.make_framer(), b"\xff\x13Acc  0.0", line + b"\r\n")
    assert good == [line]
    assert reasons == Counter({"garbage": 1})
    good, reasons = events(rg15.make_framer(), b"Acc  0.1", line + b"\r\n")
    assert good == [line] and reasons == Counter({"truncated": 1})


def test_sdi12_noise_byte_before_a_crc_valid_reply() -> None:
    driver = DRIVERS["sdi12"](Options({}, "o"))
    for noise in (b"x", b"0", b"+", b"\x00", b"5"):
        good, reasons = events(driver.make_framer(), noise + b"0+3.14OqZ\r\n")
        assert good == [b"0+3.14OqZ"], noise
        assert reasons == Counter({"garbage": 1})
        assert driver.decode(good[0]) == {"water_level": 314.0}


def test_sdi12_echoed_command_is_not_noise() -> None:
    driver = DRIVERS["sdi12"](Options({}, "o"))
    good, reasons = events(driver.make_framer(), b"0D0!0+3.14OqZ\r\n")
    assert good == [b"0+3.14OqZ"] and not reasons


def test_maxbotix_inside_blanking_is_a_flagged_reading_not_a_drop() -> None:
    driver = DRIVERS["maxbotix"](Options({"mounting_height_cm": 450.0}, "o"))
    assert driver.decode(b"R0300") == Flagged({"water_level": 420.0}, BOUND)
    assert driver.decode(b"R0120") == Flagged({"water_level": 420.0}, BOUND)
    assert driver.decode(b"R0301") == {"water_level": 419.9}
