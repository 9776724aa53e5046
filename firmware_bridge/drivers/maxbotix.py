"""MaxBotix-style ultrasonic rangers (``R####\\r``) looking down at water.

Output: ``R`` + a fixed number of ASCII digits (+ `` P0``/`` P1`` on the USB-ProxSonar)
+ CR, no checksum. Digits, unit and special values depend on the model family
(:data:`FAMILIES`). The water level is the mounting height of the sensor above the gauge
zero minus the measured distance.

* A range at or beyond the family's no-target value (``R9999``, ``R5000``, ``R765``…) and
  a zero range are rejected (``no_target``, ``no_reading``).
* A range at or inside the blanking distance is **not** dropped: the water is at least
  that close, so the reading is the level at the blanking distance, flagged
  :data:`~firmware_bridge.decoding.BOUND` ("at or above this level") — the worst flood
  must not vanish from the data.
* The framer resynchronises on the ``R`` that starts a whole range at the end of a line,
  so a range cut short (``R13`` then ``R1422\\r``) or line noise before a range costs
  only the damaged part; banner lines at power-up are rejected as ``not_data``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_bridge.decoding import BOUND, Decoded, DecodeError, Flagged
from firmware_bridge.driver import Driver, SerialFormat
from firmware_bridge.framing import Framer, LineFramer
from firmware_bridge.options import Options
from pantau.errors import ConfigError

UNIT_CM = {"mm": 0.1, "cm": 1.0, "in": 2.54}


@dataclass(frozen=True, slots=True)
class Family:
    unit: str
    digits: int
    no_target: int  # ranges at or beyond this mean "no target"
    blanking: int  # ranges at or inside this mean "at least this close"
    proximity: bool = False  # " P0"/" P1" after the digits
    baudrate: int = 9600


FAMILIES = {
    # HRLV/HRXL-MaxSonar (MB736x RS-232, MB738x TTL, MB7066…): mm, 10 m models report
    # R9999 for no target (5 m models R5000: set no_target = 5000); 300 mm minimum.
    "hrxl": Family("mm", 4, 9999, 300),
    # XL-MaxSonar-EZ/AE (MB1xx0): cm, up to 765 cm; 20 cm minimum.
    "xl": Family("cm", 3, 765, 20),
    # LV-MaxSonar-EZ (MB10x0): inches, up to 254 in; 6 in minimum.
    "lv": Family("in", 3, 255, 6),
    # USB-ProxSonar-EZ (MB1414): inches + proximity flag, 57600 baud.
    "proxsonar": Family("in", 3, 255, 6, proximity=True, baudrate=57600),
}
DEFAULT_FAMILY = {"mm": "hrxl", "cm": "xl", "in": "lv"}


def line_pattern(digits: int | None = None) -> re.Pattern[bytes]:
    count = rb"\d{3,4}" if digits is None else rb"\d{%d}" % digits
    return re.compile(rb"R(" + count + rb")(?: P([01]))?\Z")


_ANY = line_pattern()


def distance(line: bytes, pattern: re.Pattern[bytes] = _ANY) -> int:
    """The raw range in the sensor's unit; raises for anything that is not a range line."""
    match = pattern.fullmatch(line.strip())
    if match is None:
        raise DecodeError("not_data", repr(line[:32]))
    if match.group(2) == b"0":
        raise DecodeError("no_target", "proximity flag P0")
    return int(match.group(1))


def water_level(
    line: bytes,
    *,
    mounting_height_cm: float,
    unit: str = "mm",
    no_target: int = 9999,
    blanking: int = 300,
    pattern: re.Pattern[bytes] = _ANY,
) -> Decoded:
    """``{"water_level": cm}``; inside the blanking distance, the level at the blanking
    distance flagged :data:`BOUND`."""
    raw = distance(line, pattern)
    if raw == 0:
        raise DecodeError("no_reading", "range 0")
    if raw >= no_target:
        raise DecodeError("no_target", f"range {raw}")
    if raw <= blanking:
        level = round(mounting_height_cm - blanking * UNIT_CM[unit], 3)
        return Flagged({"water_level": level}, BOUND)
    return {"water_level": round(mounting_height_cm - raw * UNIT_CM[unit], 3)}


def encode(raw: int, digits: int = 4) -> bytes:
    return b"R" + str(raw).zfill(digits).encode() + b"\r"


def make_framer(digits: int | None = None) -> Framer:
    return LineFramer(terminator=b"\r", max_length=64, start=line_pattern(digits), marker=b"R")


def driver(options: Options) -> Driver:
    height = options.get_float("mounting_height_cm")
    unit_given = options.has("unit")
    unit = options.get_str("unit", "mm", choices=tuple(UNIT_CM))
    model = options.get_str("model", DEFAULT_FAMILY[unit], choices=tuple(FAMILIES))
    family = FAMILIES[model]
    if unit_given and unit != family.unit:
        raise ConfigError(
            f"{options.key('unit')} {unit!r} does not match model {model!r}, "
            f"which reports in {family.unit!r}"
        )
    unit = family.unit
    top = 10**family.digits - 1
    no_target = options.get_int("no_target", family.no_target, low=1, high=top)
    blanking = options.get_int("blanking", family.blanking, low=0, high=top)
    if blanking >= no_target:
        raise ConfigError(
            f"{options.key('blanking')} ({blanking}) must be below no_target ({no_target})"
        )
    if blanking * UNIT_CM[unit] > height:
        raise ConfigError(
            f"{options.key('mounting_height_cm')} ({height}) is below the blanking distance"
        )
    pattern = line_pattern(family.digits)

    def decode(frame: bytes) -> Decoded:
        return water_level(
            frame,
            mounting_height_cm=height,
            unit=unit,
            no_target=no_target,
            blanking=blanking,
            pattern=pattern,
        )

    return Driver(
        name="maxbotix",
        make_framer=lambda: make_framer(family.digits),
        decode=decode,
        serial=SerialFormat(baudrate=family.baudrate),
        expected_interval=1.0,
    )
