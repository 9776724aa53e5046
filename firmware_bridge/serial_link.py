"""The serial port: the only module that imports pyserial.

A :class:`SerialLink` opens a port by path (``/dev/ttyUSB0``, a udev symlink such as
``/dev/serial/by-id/…``, or a pseudo-terminal), reads what is available and writes
commands. Every failure while opening, configuring, reading or writing — pyserial's
``SerialException``, an ``OSError``, ``termios.error`` (settings the adapter refuses,
an adapter vanishing mid-open, which is *not* an ``OSError``) or anything else — becomes
:class:`LinkDown` with a short ``reason`` code; the caller closes the link and reopens it
later, which is how an unplugged and replugged sensor recovers.
"""

from __future__ import annotations

import contextlib
import errno
import select
import termios

import serial

from firmware_bridge.driver import SerialFormat

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_BYTESIZE = {5: serial.FIVEBITS, 6: serial.SIXBITS, 7: serial.SEVENBITS, 8: serial.EIGHTBITS}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}


class LinkDown(OSError):
    """The port cannot be opened, or failed while in use (unplugged, vanished).

    ``reason`` is a short code for counters: ``not_found``, ``permission``, ``busy``,
    ``settings_refused``, ``io_error``, ``closed`` or ``error``.
    """

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


def reason_of(exc: BaseException) -> str:
    """A counter code for what went wrong with a port."""
    if isinstance(exc, termios.error):
        return "settings_refused"
    if isinstance(exc, ValueError):
        return "settings_refused"
    number = exc.errno if isinstance(exc, OSError) else None
    cause = exc.__cause__ or exc.__context__
    if number is None and isinstance(cause, OSError):
        number = cause.errno
    if number is None and isinstance(exc, serial.SerialException) and exc.args:
        first = exc.args[0]
        number = first if isinstance(first, int) else None
    if number == errno.ENOENT or number == errno.ENODEV or number == errno.ENXIO:
        return "not_found"
    if number in (errno.EACCES, errno.EPERM):
        return "permission"
    if number == errno.EBUSY:
        return "busy"
    if isinstance(exc, serial.SerialException) and "exclusively lock" in str(exc):
        return "busy"
    if number is not None:
        return "io_error"
    if isinstance(exc, serial.SerialException | OSError):
        return "io_error"
    return "error"


class SerialLink:
    def __init__(self, *, port: str, fmt: SerialFormat, read_timeout: float = 0.2) -> None:
        self.port = port
        self.fmt = fmt
        self.read_timeout = read_timeout
        self._serial: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    @property
    def char_time(self) -> float:
        """Seconds one character takes on the wire (start + data + parity + stop bits)."""
        bits = 1 + self.fmt.bytesize + (0 if self.fmt.parity == "N" else 1) + self.fmt.stopbits
        return bits / self.fmt.baudrate

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
        except Exception as exc:  # termios.error is not an OSError: catch everything
            raise LinkDown(f"cannot open {self.port}: {_describe(exc)}", reason_of(exc)) from exc

    def read(self, size: int = 4096, timeout: float | None = None) -> bytes:
        """Bytes available now, waiting up to ``timeout`` (default ``read_timeout``) for the
        first; b'' if none."""
        port = self._require()
        wait = self.read_timeout if timeout is None else max(0.0, timeout)
        try:
            ready, _, _ = select.select([port.fileno()], [], [], wait)
            if not ready:
                return b""
            waiting = port.in_waiting
            data = bytes(port.read(min(max(waiting, 1), size)))
            if not data:  # readable but nothing to read: the device went away
                raise LinkDown(f"{self.port}: device disconnected", "io_error")
            return data
        except LinkDown:
            raise
        except Exception as exc:
            raise LinkDown(f"{self.port}: {_describe(exc)}", reason_of(exc)) from exc

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except Exception as exc:
            raise LinkDown(f"{self.port}: {_describe(exc)}", reason_of(exc)) from exc

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _require(self) -> serial.Serial:
        if self._serial is None:
            raise LinkDown(f"{self.port} is not open", "closed")
        return self._serial


def _describe(exc: BaseException) -> str:
    name = type(exc).__module__ + "." + type(exc).__qualname__
    if name.startswith("builtins."):
        name = name[len("builtins.") :]
    return f"{name}: {exc}"
