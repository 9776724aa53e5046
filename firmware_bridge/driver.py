"""The shape every sensor driver takes: a framer, a pure decoder and the commands to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.decoding import Values
from firmware_bridge.framing import Framer


@dataclass(frozen=True, slots=True)
class SerialFormat:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # N, E or O
    stopbits: int = 1


@dataclass(frozen=True, slots=True)
class Driver:
    """A configured driver.

    ``decode`` is pure and raises :class:`~firmware_bridge.decoding.DecodeError` for a bad
    frame; an empty result is a control reply. ``start_commands`` are written each time the
    port is (re)opened, ``poll_commands`` every ``poll_interval`` seconds (passive sensors),
    each with the seconds to wait after it; ``stop_commands`` when the bridge stops.
    """

    name: str
    make_framer: Callable[[], Framer]
    decode: Callable[[bytes], Values]
    serial: SerialFormat = SerialFormat()
    start_commands: tuple[bytes, ...] = ()
    poll_commands: tuple[tuple[bytes, float], ...] = ()
    poll_interval: float | None = None
    stop_commands: tuple[bytes, ...] = ()
    reset_before_poll: bool = False  # request/response protocols: drop stale bytes first
