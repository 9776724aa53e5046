"""QC flag bits stored with every reading (ARCHITECTURE.md, "QC flags")."""

from __future__ import annotations

from enum import IntFlag


class QC(IntFlag):
    RANGE = 1
    SPIKE = 2
    FLATLINE = 4
    RATE = 8
    TIME = 16
    DUPLICATE = 32
    GAP = 64
    UNCALIBRATED = 128
    ANOMALY = 256
    BOUND = 512  # set by the device or gateway: the value is a bound, the true value is at
    # least this (e.g. water inside an ultrasonic ranger's blanking distance)


#: The flags a reading may carry in its own payload; Pantau sets the others.
DEVICE_FLAGS = int(QC.BOUND)


def flag_names(mask: int) -> list[str]:
    """Names of the flags set in ``mask``, lowest bit first."""
    return [f.name or "" for f in QC if mask & f.value]


def parse_flags(text: str) -> int:
    """Parse ``"RANGE,SPIKE"`` or ``"3"`` into a bitmask; ``ValueError`` names the bad part."""
    text = text.strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    mask = 0
    for part in text.split(","):
        name = part.strip().upper()
        try:
            mask |= QC[name].value
        except KeyError:
            known = ", ".join(f.name or "" for f in QC)
            raise ValueError(f"unknown QC flag {part.strip()!r}; known flags: {known}") from None
    return mask
