"""MaxBotix-style ultrasonic rangers (``R####\\r``) looking down at water.

Output: ``R`` + 3 or 4 ASCII digits (+ `` P0``/`` P1`` on USB-ProxSonar) + CR. The unit
depends on the model (HRXL: mm, XL: cm, LV: inches). The water level is the mounting
height of the sensor above the gauge zero minus the measured distance. Readings at or
above the model's no-target value (``R5000``/``R9999``), zero, or inside the blanking
distance are rejected, as are power-up banner lines.
"""

from __future__ import annotations

import re

from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import Framer, LineFramer
from firmware_bridge.options import Options

_LINE = re.compile(rb"R(\d{3,4})(?: P([01]))?")
UNIT_CM = {"mm": 0.1, "cm": 1.0, "in": 2.54}


def distance(line: bytes) -> int:
    """The raw range in the sensor's unit; raises for anything that is not a range line."""
    match = _LINE.fullmatch(line.strip())
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
) -> float:
    raw = distance(line)
    if raw == 0:
        raise DecodeError("no_reading", "range 0")
    if raw >= no_target:
        raise DecodeError("no_target", f"range {raw}")
    if raw <= blanking:
        raise DecodeError("blanking", f"range {raw} inside the blanking distance")
    return round(mounting_height_cm - raw * UNIT_CM[unit], 3)


def encode(raw: int, digits: int = 4) -> bytes:
    return b"R" + str(raw).zfill(digits).encode() + b"\r"


def make_framer() -> Framer:
    return LineFramer(terminator=b"\r", max_length=64)


def driver(options: Options) -> Driver:
    height = options.get_float("mounting_height_cm")
    unit = options.get_str("unit", "mm", choices=tuple(UNIT_CM))
    no_target = options.get_int("no_target", 9999 if unit == "mm" else 765, low=1)
    blanking = options.get_int("blanking", 300 if unit == "mm" else 0, low=0)

    def decode(frame: bytes) -> Values:
        level = water_level(
            frame, mounting_height_cm=height, unit=unit, no_target=no_target, blanking=blanking
        )
        return {"water_level": level}

    return Driver(name="maxbotix", make_framer=make_framer, decode=decode)
