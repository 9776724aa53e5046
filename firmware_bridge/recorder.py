"""The thread between readers and the on-disk queue: optional averaging, then append.

Samples from every reader arrive on one bounded queue. With an averaging period a
device's samples are reduced per window (see :mod:`firmware_bridge.averaging`); without
one each sample is stored as it comes. Storing assigns the device's ``seq``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping

from firmware_bridge.averaging import Averager
from firmware_bridge.reader import Sample
from firmware_bridge.store import ForwardQueue

log = logging.getLogger(__name__)


class Recorder:
    def __init__(
        self,
        *,
        samples: queue.Queue[Sample],
        store: ForwardQueue,
        periods: Mapping[str, float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.samples = samples
        self.store = store
        self.clock = clock
        self._averagers = {device: Averager(p) for device, p in periods.items() if p > 0}
        self.stored = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store what is left (including partial averaging windows) and end the thread."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sample = self.samples.get(timeout=0.2)
            except queue.Empty:
                pass
            else:
                self._add(sample)
            now_ms = int(self.clock() * 1000)
            for device, averager in self._averagers.items():
                for window in averager.due(now_ms):
                    self._store(device, window.ts_ms, window.values, window.flags)
        while True:
            try:
                self._add(self.samples.get_nowait())
            except queue.Empty:
                break
        for device, averager in self._averagers.items():
            for window in averager.flush():
                self._store(device, window.ts_ms, window.values, window.flags)

    def _add(self, sample: Sample) -> None:
        averager = self._averagers.get(sample.device_id)
        if averager is None:
            self._store(sample.device_id, sample.ts_ms, sample.values, sample.flags)
            return
        for window in averager.add(sample.ts_ms, sample.values, sample.flags):
            self._store(sample.device_id, window.ts_ms, window.values, window.flags)

    def _store(self, device: str, ts_ms: int, values: Mapping[str, float], flags: int = 0) -> None:
        try:
            self.store.append(device, ts_ms, values, flags)
        except Exception:  # a full disk must not kill the thread; say so loudly
            log.exception("device %s: could not store a reading in the queue", device)
            return
        self.stored += 1
