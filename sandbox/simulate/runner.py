"""The schedule: history first (backfill), then live readings at the chosen rate.

Backfill publishes ``hours`` of history per device as backlogs (arrays, SenML packs
or gateway packs) as fast as the broker takes them, oldest first, so that charts,
hourly aggregates and the 24 h ISPU have data at once. Live mode then sends
``rate`` messages per second: devices take turns, each message one reading at the
current time (``array``: a device's last ``pack`` readings; ``gateway``: ``pack``
devices' readings). Each device's messages go out in time order on one connection.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import orjson
from numpy.typing import NDArray

from sandbox.simulate import noise
from sandbox.simulate.fleet import DeviceSpec
from sandbox.simulate.payloads import Message, encode
from sandbox.simulate.progress import Progress
from sandbox.simulate.signals import Signals

TICK_S = 0.1
BACKFILL_CHUNK_ROWS = 20_000


class Sink(Protocol):
    def send(self, messages: list[Message]) -> None: ...


@dataclass
class ListSink:
    """Collects messages (tests, ``--dry-run``)."""

    messages: list[Message]

    def send(self, messages: list[Message]) -> None:
        self.messages.extend(messages)


class Simulator:
    def __init__(
        self,
        fleet: Sequence[DeviceSpec],
        signals: Signals,
        *,
        form: str = "object",
        pack: int = 10,
        rate: float = 10.0,
        progress: Progress | None = None,
    ) -> None:
        self.fleet = list(fleet)
        self.signals = signals
        self.form = form
        self.pack = max(1, pack)
        self.rate = rate
        self.progress = progress
        sensors = [s for s in fleet if s.kind != "gateway"]
        if form == "gateway":  # neighbours in turn share a gateway: fuller packs
            sensors.sort(key=lambda s: (s.gateway or "", s.index))
        self.sensors = np.array([s.index for s in sensors], np.int64)
        self.counter = np.zeros(len(fleet), np.int64)
        self.seq_base = signals.anchor_ms // 1000
        self.readings_sent = 0
        self._cursor = 0
        self._announced_off = np.zeros(self.sensors.shape[0], np.bool_)
        self._index = {s.id: s.index for s in self.fleet}

    @property
    def readings_per_message(self) -> int:
        return self.pack if self.form in ("array", "gateway") else 1

    @property
    def period_s(self) -> float:
        """Seconds between two readings of one device in live mode."""
        per_s = self.rate * self.readings_per_message
        return self.sensors.shape[0] / per_s if per_s > 0 else math.inf

    # -- backfill ------------------------------------------------------------------

    def backfill(self, sink: Sink, *, hours: float, step_s: float, end_ms: int) -> int:
        """Publish ``hours`` of history before ``end_ms``; return the number of readings."""
        n = self.sensors.shape[0]
        step_ms = max(int(step_s * 1000), 1000)
        steps = int(hours * 3_600_000 // step_ms)
        if steps <= 0 or n == 0:
            return 0
        start = end_ms - steps * step_ms
        phase = (self.sensors * 7_919) % step_ms  # devices do not all report on the second
        per_chunk = max(1, BACKFILL_CHUNK_ROWS // n)
        form = "array" if self.form == "object" else self.form
        total = 0
        for first in range(0, steps, per_chunk):
            k = np.arange(first, min(first + per_chunk, steps), dtype=np.int64)
            device = np.repeat(self.sensors, k.shape[0])
            ts = start + np.tile(k * step_ms, n) + np.repeat(phase, k.shape[0])
            readings = self.signals.generate(device, ts, step_ms / 1000.0)
            messages = encode(readings, self.fleet, form=form, pack=max(k.shape[0], 100))
            sink.send(messages)
            sent = int(readings.sent.sum())
            total += sent
            self.readings_sent += sent
            if self.progress:
                self.progress.update(phase="backfill", readings=self.readings_sent)
        return total

    # -- live ----------------------------------------------------------------------

    def start_events(self, at_ms: int) -> None:
        """Floods and outages are timed from the start of the live run."""
        sc = self.signals.scenario
        self.signals.flood_start_ms = at_ms + int(sc.flood_after_s * 1000)
        self.signals.silent_from_ms = at_ms + int(sc.offline_after_s * 1000)

    def status(self, devices: NDArray[np.int64], *, online: bool) -> list[Message]:
        """``sensors/<id>/status`` messages: online with firmware and battery, or offline.

        A device going offline is what its Last Will says when its connection drops; the
        gateway publishes its devices' status in the ``gateway`` form (its ACL allows it).
        """
        out = []
        for index in devices.tolist():
            spec = self.fleet[index]
            body: dict[str, object] = {"state": "online" if online else "offline"}
            if online:
                volts = 3.6 + 0.6 * float(noise.uniform(self.signals.seed, 97, index, 0)[0])
                body.update(firmware=f"pantau-sim/{1 + index % 3}.{index % 7}.0", battery=volts)
            sender = index
            if self.form == "gateway" and spec.gateway is not None:
                sender = self._index[spec.gateway]
            topic = f"sensors/{spec.id}/status"
            out.append(Message(topic, orjson.dumps(body), sender, 0))
        return out

    def tick(self, sink: Sink, now_ms: int, messages: int) -> int:
        """Send about ``messages`` messages of readings taken at ``now_ms``; return readings."""
        n = self.sensors.shape[0]
        going = self.sensors[self.signals.is_silent(self.sensors, now_ms) & ~self._announced_off]
        if going.shape[0]:
            self._announced_off[np.isin(self.sensors, going)] = True
            sink.send(self.status(going, online=False))
        if n == 0 or messages <= 0:
            return 0
        per = self.readings_per_message
        count = min(messages * (per if self.form == "gateway" else 1), n)
        picked = self.sensors[(self._cursor + np.arange(count)) % n]
        self._cursor = (self._cursor + count) % n
        picked = picked[~self.signals.is_silent(picked, now_ms)]
        if picked.shape[0] == 0:
            return 0
        if self.form == "array":
            sample_ms = max(int(self.period_s * 1000 / per), 1)
            back = np.arange(per - 1, -1, -1, dtype=np.int64) * sample_ms
            device = np.repeat(picked, per)
            ts = now_ms - np.tile(back, picked.shape[0])
            span = sample_ms / 1000.0
        else:
            device, ts, span = picked, np.full(picked.shape[0], now_ms, np.int64), self.period_s
        order = np.lexsort((ts, device))
        device, ts = device[order], ts[order]
        seq = self._next_seq(device)
        readings = self.signals.generate(device, ts, min(span, 3600.0))
        sink.send(encode(readings, self.fleet, form=self.form, pack=per, seq=seq))
        sent = int(readings.sent.sum())
        self.readings_sent += sent
        return sent

    def _next_seq(self, device: NDArray[np.int64]) -> NDArray[np.int64]:
        """Per-device counters (``device`` sorted); lost readings still use up their number."""
        first = np.concatenate(([True], device[1:] != device[:-1]))
        starts = np.flatnonzero(first)
        sizes = np.diff(np.append(starts, len(first)))
        rank = np.arange(device.shape[0]) - np.repeat(starts, sizes)
        seq: NDArray[np.int64] = self.seq_base + self.counter[device] + rank
        np.add.at(self.counter, device, 1)
        return seq

    def live(
        self,
        sink: Sink,
        *,
        duration_s: float | None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """Run until ``duration_s`` has passed (None: until ``stop``); return readings sent."""
        stop = stop or threading.Event()
        began = clock()
        self.start_events(int(began * 1000))
        sink.send(
            self.status(
                self.sensors[~self.signals.is_silent(self.sensors, int(began * 1000))], online=True
            )
        )
        credit, last, total = 0.0, began, 0
        while not stop.is_set():
            now = clock()
            if duration_s is not None and now - began >= duration_s:
                break
            credit = min(credit + self.rate * (now - last), max(self.rate, 1.0))
            last = now
            due = int(credit)
            if due:
                credit -= due
                total += self.tick(sink, int(now * 1000), due)
                if self.progress:
                    self.progress.update(phase="live", readings=self.readings_sent)
            sleep(max(TICK_S - (clock() - now), 0.0))
        return total
