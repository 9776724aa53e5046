"""A pseudo-terminal standing in for a USB serial sensor that can be unplugged and replugged."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path


class PtySensor:
    """The bridge opens ``path`` (a symlink to the pty slave); the test writes to the master."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.master = -1
        self.slave = -1
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(self.path)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.master], [], 2.0)
            if not ready:
                raise TimeoutError("the pty is not draining")
            written = os.write(self.master, view)
            view = view[written:]

    def read(self, timeout: float = 0.0) -> bytes:
        """What the bridge wrote to the sensor (commands)."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 4096) if ready else b""

    def close(self) -> None:
        self.unplug()


class Feeder:
    """Writes ``frames`` into the sensor at ``period`` seconds, in a background thread."""

    def __init__(self, sensor: PtySensor, frames: list[bytes], period: float) -> None:
        self.sensor = sensor
        self.frames = frames
        self.period = period
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        for frame in self.frames:
            if self._stop.is_set():
                return
            self.sensor.write(frame)
            self.sent += 1
            time.sleep(self.period)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


_SENSOR_PROCESS = """
import os, sys, time
fd, period = int(sys.argv[1]), float(sys.argv[2])
for line in sys.stdin:
    view = memoryview(bytes.fromhex(line.strip()))
    while view:
        view = view[os.write(fd, view):]
    time.sleep(period)
"""


class SensorProcess:
    """A fake sensor in its own process: writes ``frames`` into the pty at ``period`` s."""

    def __init__(self, sensor: PtySensor, frames: list[bytes], period: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SENSOR_PROCESS, str(sensor.master), str(period)],
            stdin=subprocess.PIPE,
            pass_fds=(sensor.master,),
        )
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f.hex() + "\n" for f in frames).encode())
        self.process.stdin.close()

    def join(self, timeout: float) -> None:
        """Wait until every frame is written; a sensor that hangs fails the test."""
        assert self.process.wait(timeout) == 0


def wait_for(condition: object, timeout: float = 10.0, step: float = 0.02) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")
