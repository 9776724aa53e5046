"""The shape every sensor driver takes: a framer, a pure decoder and the commands to send.

Streaming sensors and simple polled ones are described by data (commands and their
timing). Request/response protocols whose timing depends on the answer (SDI-12's
announced measurement time, a Modbus bus of several slaves) bring a :class:`Poller`,
which the reader runs against a :class:`Port`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from firmware_bridge.decoding import Decoded
from firmware_bridge.framing import Framer


@dataclass(frozen=True, slots=True)
class SerialFormat:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # N, E or O
    stopbits: int = 1


class Port(Protocol):
    """What the reader offers a poller: serialised requests on one serial port."""

    def transact(
        self,
        device: str,
        request: bytes,
        framer: Framer,
        *,
        timeout: float,
        silence: float = 0.0,
    ) -> bytes | None:
        """Drop stale input, keep the line quiet for ``silence`` s, send ``request`` and
        return the first frame ``framer`` finds within ``timeout`` s (``None``: no reply;
        rejected bytes are counted on ``device``)."""
        ...

    def receive(self, device: str, framer: Framer, *, timeout: float) -> bytes | None:
        """The next frame within ``timeout`` s without sending anything."""
        ...

    def deliver(self, device: str, decoded: Decoded) -> None:
        """A reading (or, if empty, a control reply) for ``device``."""
        ...

    def reject(self, device: str, reason: str, data: bytes = b"", detail: str = "") -> None: ...

    def wait(self, seconds: float) -> bool:
        """Sleep; ``False`` when the bridge is stopping."""
        ...


class Poller(Protocol):
    def next_due(self) -> float:
        """``time.monotonic()`` of the next poll."""
        ...

    def poll(self, port: Port) -> None:
        """Run every request that is due."""
        ...


@dataclass(frozen=True, slots=True)
class Driver:
    """A configured driver.

    ``decode`` is pure and raises :class:`~firmware_bridge.decoding.DecodeError` for a bad
    frame; an empty result is a control reply. ``start_commands`` are written each time the
    port is (re)opened, ``poll_commands`` every ``poll_interval`` seconds (passive sensors),
    each with the seconds to wait after it; ``stop_commands`` when the bridge stops.
    ``expected_interval`` is how often a reading should come (the poll interval of a polled
    sensor): a device silent for ``silent_factor`` times that is reported as silent.
    ``devices`` names the devices a bus driver reads (default: the sensor's own id).
    """

    name: str
    make_framer: Callable[[], Framer]
    decode: Callable[[bytes], Decoded]
    serial: SerialFormat = SerialFormat()
    start_commands: tuple[bytes, ...] = ()
    poll_commands: tuple[tuple[bytes, float], ...] = ()
    poll_interval: float | None = None
    stop_commands: tuple[bytes, ...] = ()
    reset_before_poll: bool = False  # request/response protocols: drop stale bytes first
    expected_interval: float | None = None
    make_poller: Callable[[str], Poller] | None = None  # given the sensor's device id
    devices: tuple[str, ...] = ()
    device_intervals: tuple[float, ...] = ()  # per device in ``devices``, when they differ

    @property
    def interval(self) -> float:
        """Seconds between readings when all is well."""
        if self.expected_interval is not None:
            return self.expected_interval
        return self.poll_interval if self.poll_interval is not None else 1.0
