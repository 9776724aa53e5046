"""The serial port: the only module that imports pyserial.

A :class:`SerialLink` opens a port by path (``/dev/ttyUSB0``, a udev symlink such as
``/dev/serial/by-id/…``, or a pseudo-terminal), reads what is available and writes
commands. Every pyserial or OS error becomes :class:`LinkDown`; the caller closes the
link and reopens it later, which is how an unplugged and replugged sensor recovers.
"""

from __future__ import annotations

import contextlib

import serial

from firmware_bridge.driver import SerialFormat

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_BYTESIZE = {5: serial.FIVEBITS, 6: serial.SIXBITS, 7: serial.SEVENBITS, 8: serial.EIGHTBITS}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}


class LinkDown(OSError):
    """The port cannot be opened, or failed while in use (unplugged, vanished)."""


class SerialLink:
    def __init__(self, *, port: str, fmt: SerialFormat, read_timeout: float = 0.2) -> None:
        self.port = port
        self.fmt = fmt
        self.read_timeout = read_timeout
        self._serial: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        self.close()
        try:
            self._serial = serial.Serial(
                port=self.port,
                baudrate=self.fmt.baudrate,
                bytesize=_BYTESIZE[self.fmt.bytesize],
                parity=_PARITY[self.fmt.parity],
                stopbits=_STOPBITS[self.fmt.stopbits],
                timeout=self.read_timeout,
                write_timeout=2.0,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkDown(f"cannot open {self.port}: {exc}") from exc

    def read(self, size: int = 4096) -> bytes:
        """Bytes available now, waiting up to ``read_timeout`` for the first; b'' if none."""
        port = self._require()
        try:
            data = bytes(port.read(1))
            if data:
                waiting = port.in_waiting
                if waiting:
                    data += bytes(port.read(min(waiting, size)))
            return data
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"{self.port}: {exc}") from exc

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"{self.port}: {exc}") from exc

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _require(self) -> serial.Serial:
        if self._serial is None:
            raise LinkDown(f"{self.port} is not open")
        return self._serial
