"""One thread per serial port: bytes → framer → decoder → samples on a bounded queue.

The reader owns the serial link. Nothing that happens on the port ends the thread: any
failure while opening, configuring or reading it (an unplugged adapter, settings the
adapter refuses, a bug) is logged once with the port and the cause, counted by reason,
and retried with backoff (0.2 s doubling to ``max_backoff``); the driver's start commands
are resent when the port is back. Streaming sensors are read as bytes come; polled ones
get their poll commands, or their driver's :class:`~firmware_bridge.driver.Poller` runs
request/response exchanges through this reader (several devices per port on a bus). Every
rejected frame is counted by reason on its device; a bad frame never produces a sample.
A device without a reading for ``silent_after`` seconds is marked silent and logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from firmware_bridge.decoding import Decoded, DecodeError, split
from firmware_bridge.driver import Driver, Poller
from firmware_bridge.framing import Event, Frame, Framer
from firmware_bridge.health import PORT_DOWN, PORT_OPEN, PORT_STOPPED, DeviceHealth, PortHealth
from firmware_bridge.serial_link import LinkDown, SerialLink
from pantau.catalogue import METRIC_INDEX

log = logging.getLogger(__name__)

SILENT_FACTOR = 3.0
MIN_SILENT_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class Sample:
    device_id: str
    ts_ms: int  # gateway clock when the frame completed
    values: Mapping[str, float]
    flags: int = 0  # reading-level QC flags set by the driver (e.g. BOUND)


def default_silent_after(interval: float) -> float:
    return max(SILENT_FACTOR * interval, MIN_SILENT_AFTER)


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
        silent_after: Mapping[str, float] | float | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.device_id = device_id
        self.driver = driver
        self.link = link
        self.samples = samples
        self.clock = clock
        self.max_backoff = max_backoff
        self.on_change = on_change
        self.overflows = 0
        self.unknown_metrics: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.port = PortHealth(link.port)
        self.devices: dict[str, DeviceHealth] = {}
        for number, device in enumerate(driver.devices or (device_id,)):
            after = silent_after
            if isinstance(after, Mapping):
                after = after.get(device)
            interval = driver.interval
            if driver.devices and number < len(driver.device_intervals):
                interval = driver.device_intervals[number]
            self.devices[device] = DeviceHealth(
                device, interval, default_silent_after(interval) if after is None else after
            )
        self._framer = driver.make_framer()
        self._poller: Poller | None = driver.make_poller(device_id) if driver.make_poller else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{device_id}", daemon=True)
        self._schedule: list[tuple[float, bytes]] = []
        self._next_poll = 0.0
        self._last_ts: dict[str, int] = {}
        self._last_activity = 0.0
        self._last_polled = device_id
        self._next_silence_check = 0.0
        self._healthy = False  # the port has worked since it was last opened

    # -- what tests and the status view read ---------------------------------------------

    @property
    def frames(self) -> int:
        return sum(d.frames for d in self.devices.values())

    @property
    def rejected(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for device in self.devices.values():
            total.update(device.rejected)
        return total

    @property
    def control_replies(self) -> int:
        return sum(d.control_replies for d in self.devices.values())

    @property
    def opens(self) -> int:
        return self.port.opens

    @property
    def connected(self) -> bool:
        return self.link.is_open

    def snapshot(self) -> list[dict[str, object]]:
        with self.lock:
            return [d.snapshot(self.port) for d in self.devices.values()]

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        start = time.monotonic()
        for device in self.devices.values():
            device.last_ok_monotonic = start
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                if not self.link.is_open:
                    self._open()
                self._step()
                if not self._healthy:
                    self._recovered()
                backoff = 0.2
            except LinkDown as exc:
                self._failed(exc.reason, str(exc))
            except Exception as exc:  # a bug must not end the thread either
                self._failed("internal_error", f"{type(exc).__name__}: {exc}", exc)
            else:
                self._check_silence()
                continue
            self._check_silence()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)
        self._shutdown()

    def _failed(self, reason: str, message: str, exc: BaseException | None = None) -> None:
        was_open = self.link.is_open
        self.link.close()
        try:
            self._handle(self._framer.reset())
        except Exception:  # the error path never raises
            log.exception("device %s: framer reset failed", self.device_id)
        with self.lock:
            first = self.port.state != PORT_DOWN or self.port.last_error.split(":")[0] != reason
            self.port.errors[reason] += 1
            self.port.state = PORT_DOWN
            self.port.last_error = f"{reason}: {message}"
        self._healthy = False
        if first:
            log.error(
                "device %s: serial port %s %s (%s): %s; retrying with backoff",
                self.device_id,
                self.link.port,
                "lost" if was_open else "down",
                reason,
                message,
                exc_info=exc,
            )
            self._changed()

    def _recovered(self) -> None:
        self._healthy = True
        with self.lock:
            was_down = self.port.state == PORT_DOWN
            self.port.state = PORT_OPEN
        if was_down:
            log.warning(
                "device %s: serial port %s working again (%d error(s) so far: %s)",
                self.device_id,
                self.link.port,
                sum(self.port.errors.values()),
                dict(self.port.errors),
            )
        self._changed()

    def _open(self) -> None:
        self.link.open()
        with self.lock:
            self.port.opens += 1
        self._handle(self._framer.reset())
        for command in self.driver.start_commands:
            self.link.write(command)
            self._stop.wait(0.1)
        self._schedule.clear()
        self._next_poll = time.monotonic()
        self._last_activity = time.monotonic()

    def _step(self) -> None:
        if self._poller is not None:
            now = time.monotonic()
            due = self._poller.next_due()
            if now >= due:
                self._poller.poll(self)
                return
            data = self.link.read(timeout=min(due - now, self.link.read_timeout))
            if data:  # between polls: a late reply or noise, never a reading
                self._last_activity = time.monotonic()
                self.reject(self._last_polled, "stale", data)
            return
        self._poll()
        data = self.link.read()
        if data:
            self._handle(self._framer.feed(data))

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
                self._drop_stale(self.device_id)
                self._handle(self._framer.reset(), stale=True)
            self.link.write(command)

    def _shutdown(self) -> None:
        if self.link.is_open:
            try:
                for command in self.driver.stop_commands:
                    self.link.write(command)
            except LinkDown:
                pass
        self.link.close()
        with self.lock:
            self.port.state = PORT_STOPPED

    # -- Port: what a driver's poller uses -------------------------------------------------

    def transact(
        self,
        device: str,
        request: bytes,
        framer: Framer,
        *,
        timeout: float,
        silence: float = 0.0,
    ) -> bytes | None:
        self._drop_stale(self._last_polled, silence)
        self._handle_for(device, framer.reset())
        self.link.write(request)
        sent = time.monotonic() + len(request) * self.link.char_time
        self._last_activity = sent
        self._last_polled = device
        return self._await(device, framer, sent + timeout)

    def receive(self, device: str, framer: Framer, *, timeout: float) -> bytes | None:
        return self._await(device, framer, time.monotonic() + timeout)

    def deliver(self, device: str, decoded: Decoded) -> None:
        values, flags = split(decoded)
        health = self._health(device)
        if not values:
            with self.lock:
                health.control_replies += 1
            return
        self._sample(health.device_id, values, flags)

    def _health(self, device: str) -> DeviceHealth:
        found = self.devices.get(device)
        return found if found is not None else self.devices[next(iter(self.devices))]

    def reject(self, device: str, reason: str, data: bytes = b"", detail: str = "") -> None:
        health = self._health(device)
        with self.lock:
            health.rejected[reason] += 1
            total = health.rejected[reason]
        log.warning(
            "device %s: rejected %d byte(s) (%s%s) [%s total]: %s",
            health.device_id,
            len(data),
            reason,
            f", {detail}" if detail else "",
            total,
            data[:48].hex(" "),
        )

    def wait(self, seconds: float) -> bool:
        return not self._stop.wait(seconds)

    def _await(self, device: str, framer: Framer, deadline: float) -> bytes | None:
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            data = self.link.read(timeout=min(left, self.link.read_timeout))
            if not data:
                continue
            self._last_activity = time.monotonic()
            found: bytes | None = None
            for event in framer.feed(data):
                if isinstance(event, Frame) and found is None:
                    found = event.data
                elif isinstance(event, Frame):
                    self.reject(device, "unexpected", event.data)
                else:
                    self.reject(device, event.reason, event.data)
            if found is not None:
                return found
        self._handle_for(device, framer.reset())
        return None

    def _drop_stale(self, device: str, silence: float = 0.0) -> None:
        """Read and count what is waiting; then keep the line quiet for ``silence`` s."""
        while True:
            quiet_until = self._last_activity + silence
            data = self.link.read(timeout=max(0.0, quiet_until - time.monotonic()))
            if data:
                self._last_activity = time.monotonic()
                self.reject(device, "stale", data)
            elif time.monotonic() >= quiet_until:
                return

    # -- frames to samples -----------------------------------------------------------------

    def _handle(self, events: list[Event], *, stale: bool = False) -> None:
        self._handle_for(self.device_id, events, stale=stale)

    def _handle_for(self, device: str, events: list[Event], *, stale: bool = False) -> None:
        for event in events:
            if isinstance(event, Frame):
                self._frame(device, event.data)
            else:
                self.reject(device, "stale" if stale else event.reason, event.data)

    def _frame(self, device: str, frame: bytes) -> None:
        try:
            decoded = self.driver.decode(frame)
        except DecodeError as exc:
            self.reject(device, exc.reason, frame, exc.detail)
            return
        except Exception as exc:  # a decoder bug costs the frame, not the reader
            self.reject(device, "decoder_error", frame, f"{type(exc).__name__}: {exc}")
            return
        self.deliver(device, decoded)

    def _sample(self, device: str, values: Mapping[str, float], flags: int) -> None:
        known = {k: v for k, v in values.items() if k in METRIC_INDEX}
        for name in values.keys() - known.keys():
            if not self.unknown_metrics[name]:
                log.warning(
                    "device %s: metric %r is not in the catalogue; not published", device, name
                )
            self.unknown_metrics[name] += 1
        if not known:
            return
        # frames read in one burst would share a millisecond, and (device, ts) is a
        # reading's identity downstream: keep a device's timestamps strictly increasing
        ts_ms = max(int(self.clock() * 1000), self._last_ts.get(device, 0) + 1)
        self._last_ts[device] = ts_ms
        health = self.devices[device]
        with self.lock:
            health.frames += 1
            health.last_reading_ms = ts_ms
            health.last_ok_monotonic = time.monotonic()
            came_back = health.silent
            health.silent = False
            health.silent_since_ms = None
        if came_back:
            log.warning("device %s: readings again", device)
            self._changed()
        try:
            self.samples.put_nowait(Sample(device, ts_ms, known, flags))
        except queue.Full:
            self.overflows += 1
            log.error(
                "device %s: sample queue full, reading dropped (%d so far)", device, self.overflows
            )

    def _check_silence(self) -> None:
        now = time.monotonic()
        if now < self._next_silence_check:
            return
        self._next_silence_check = now + 0.5
        changed = False
        for health in self.devices.values():
            quiet = now - health.last_ok_monotonic
            if health.silent or quiet < health.silent_after:
                continue
            with self.lock:
                health.silent = True
                health.silent_since_ms = int(self.clock() * 1000)
            changed = True
            log.warning(
                "device %s: no reading for %.0f s (expected every %.0f s; port %s %s: %s)",
                health.device_id,
                quiet,
                health.expected_interval,
                self.link.port,
                self.port.state,
                self.port.last_error or "no error",
            )
        if changed:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a status listener never stops reading
                log.exception("status listener failed")
