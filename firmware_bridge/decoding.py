"""What a decoder returns and how it refuses a frame."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pantau.flags import QC

Values = Mapping[str, float]
"""Canonical metric name → value. Empty means a control reply (acknowledgement, banner)."""

BOUND = int(QC.BOUND)
"""QC flag a gateway sets on a reading whose value is a bound, not a measurement (a water
level inside a ranger's blanking distance: the water is at least that high)."""


@dataclass(frozen=True, slots=True)
class Flagged:
    """Values with reading-level QC flags (published as the reading's ``flags``)."""

    values: Values
    flags: int


Decoded = Values | Flagged


def split(decoded: Decoded) -> tuple[Values, int]:
    if isinstance(decoded, Flagged):
        return decoded.values, decoded.flags
    return decoded, 0


class DecodeError(ValueError):
    """A frame that must not produce a value. ``reason`` is a short code used in counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
