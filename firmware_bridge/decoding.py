"""What a decoder returns and how it refuses a frame."""

from __future__ import annotations

from collections.abc import Mapping

Values = Mapping[str, float]
"""Canonical metric name → value. Empty means a control reply (acknowledgement, banner)."""


class DecodeError(ValueError):
    """A frame that must not produce a value. ``reason`` is a short code used in counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
