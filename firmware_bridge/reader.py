"""One thread per sensor: serial bytes → framer → decoder → samples on a bounded queue.

The reader owns the serial link. It reopens the port with backoff when it fails (sensor
unplugged) and resends the driver's start commands; it sends poll commands for passive
sensors. Every rejected frame is counted by reason and logged with the device id; a bad
frame never produces a sample.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from firmware_bridge.decoding import DecodeError
from firmware_bridge.driver import Driver
from firmware_bridge.framing import Event, Frame
from firmware_bridge.serial_link import LinkDown, SerialLink
from pantau.catalogue import METRIC_INDEX

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    device_id: str
    ts_ms: int  # gateway clock when the frame completed
    values: Mapping[str, float]


class SensorReader:
    def __init__(
        self,
        *,
        device_id: str,
        driver: Driver,
        link: SerialLink,
        samples: queue.Queue[Sample],
        clock: Callable[[], float] = time.time,
        max_backoff: float = 5.0,
    ) -> None:
        self.device_id = device_id
        self.driver = driver
        self.link = link
        self.samples = samples
        self.clock = clock
        self.max_backoff = max_backoff
        self.rejected: Counter[str] = Counter()
        self.frames = 0
        self.control_replies = 0
        self.opens = 0
        self.overflows = 0
        self.unknown_metrics: Counter[str] = Counter()
        self._framer = driver.make_framer()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{device_id}", daemon=True)
        self._schedule: list[tuple[float, bytes]] = []
        self._next_poll = 0.0
        self._last_ts = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        return self.link.is_open

    def _run(self) -> None:
        backoff = 0.2
        down_since: float | None = None
        while not self._stop.is_set():
            if not self.link.is_open:
                try:
                    self._open()
                except LinkDown as exc:
                    if down_since is None:
                        down_since = time.monotonic()
                        log.error("device %s: serial port down: %s; retrying", self.device_id, exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if down_since is not None:
                    log.warning(
                        "device %s: serial port %s back after %.1f s",
                        self.device_id,
                        self.link.port,
                        time.monotonic() - down_since,
                    )
                down_since, backoff = None, 0.2
            try:
                self._poll()
                data = self.link.read()
            except LinkDown as exc:
                log.error("device %s: serial port lost: %s", self.device_id, exc)
                self.link.close()
                self._handle(self._framer.reset())
                continue
            if data:
                self._handle(self._framer.feed(data))
        self._shutdown()

    def _open(self) -> None:
        self.link.open()
        self.opens += 1
        self._handle(self._framer.reset())
        for command in self.driver.start_commands:
            self.link.write(command)
            self._stop.wait(0.1)
        self._schedule.clear()
        self._next_poll = time.monotonic()

    def _poll(self) -> None:
        now = time.monotonic()
        if self.driver.poll_interval is not None and now >= self._next_poll:
            self._next_poll = now + self.driver.poll_interval
            at = now
            for command, wait in self.driver.poll_commands:
                self._schedule.append((at, command))
                at += wait
        while self._schedule and self._schedule[0][0] <= now:
            _at, command = self._schedule.pop(0)
            if self.driver.reset_before_poll:
                self._handle(self._framer.reset())
            self.link.write(command)

    def _shutdown(self) -> None:
        if self.link.is_open:
            try:
                for command in self.driver.stop_commands:
                    self.link.write(command)
            except LinkDown:
                pass
        self.link.close()

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Frame):
                self._frame(event.data)
            else:
                self._reject(event.reason, event.data)

    def _frame(self, frame: bytes) -> None:
        try:
            values = self.driver.decode(frame)
        except DecodeError as exc:
            self._reject(exc.reason, frame, exc.detail)
            return
        if not values:
            self.control_replies += 1
            return
        known = {k: v for k, v in values.items() if k in METRIC_INDEX}
        for name in values.keys() - known.keys():
            if not self.unknown_metrics[name]:
                log.warning(
                    "device %s: metric %r is not in the catalogue; not published",
                    self.device_id,
                    name,
                )
            self.unknown_metrics[name] += 1
        if not known:
            return
        self.frames += 1
        # frames read in one burst would share a millisecond, and (device, ts) is a
        # reading's identity downstream: keep a device's timestamps strictly increasing
        ts_ms = max(int(self.clock() * 1000), self._last_ts + 1)
        self._last_ts = ts_ms
        sample = Sample(self.device_id, ts_ms, known)
        try:
            self.samples.put_nowait(sample)
        except queue.Full:
            self.overflows += 1
            log.error(
                "device %s: sample queue full, reading dropped (%d so far)",
                self.device_id,
                self.overflows,
            )

    def _reject(self, reason: str, data: bytes, detail: str = "") -> None:
        self.rejected[reason] += 1
        log.warning(
            "device %s: rejected %d byte(s) (%s%s) [%s total]: %s",
            self.device_id,
            len(data),
            reason,
            f", {detail}" if detail else "",
            self.rejected[reason],
            data[:48].hex(" "),
        )
