"""The ingest path's view of the registry: an immutable snapshot, refreshed within seconds.

:meth:`RegistryCache.snapshot` is cheap: it returns the current
:class:`RegistrySnapshot`. The snapshot is replaced when the ``registry_version``
counter changes (one single-row query every ``refresh_seconds``), either lazily by
the caller of :meth:`~RegistryCache.snapshot` that finds it due, or by a background
thread after :meth:`~RegistryCache.start`. A full reload also happens every
``full_reload_seconds`` (and no more than 5 % of the time: a large registry takes
longer to load) so that status fields (last seen, battery) follow. If the
database is unreachable the old snapshot stays in use and the failure is logged.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from devices import tables as t
from devices.model import CalibrationRecord, Device
from devices.registry import current_version
from devices.rows import calibration_of, device_of, utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrySnapshot:
    """Every device and calibration at one registry version. Never changes once made."""

    version: int
    devices: Mapping[str, Device]
    calibrations: Sequence[CalibrationRecord]
    loaded_at: datetime
    _gateways: Mapping[str, frozenset[str]] = field(repr=False)
    _history: Mapping[tuple[str, str], tuple[CalibrationRecord, ...]] = field(repr=False)

    @classmethod
    def build(
        cls, version: int, devices: Sequence[Device], calibrations: Sequence[CalibrationRecord]
    ) -> RegistrySnapshot:
        members: dict[str, set[str]] = {}
        for device in devices:
            if device.gateway is not None and device.status != "decommissioned":
                members.setdefault(device.gateway, set()).add(device.id)
        ordered = sorted(calibrations, key=lambda c: (c.device, c.metric, c.effective_from, c.id))
        history: dict[tuple[str, str], list[CalibrationRecord]] = {}
        for record in ordered:
            history.setdefault((record.device, record.metric), []).append(record)
        return cls(
            version=version,
            devices=MappingProxyType({d.id: d for d in devices}),
            calibrations=tuple(ordered),
            loaded_at=datetime.now(UTC),
            _gateways=MappingProxyType({k: frozenset(v) for k, v in members.items()}),
            _history=MappingProxyType({k: tuple(v) for k, v in history.items()}),
        )

    def gateway_devices(self, gateway_id: str) -> frozenset[str]:
        """Ids of the (not decommissioned) devices a gateway may publish for."""
        return self._gateways.get(gateway_id, frozenset())

    def calibration_history(self, device: str, metric: str) -> tuple[CalibrationRecord, ...]:
        """A device's calibrations of ``metric``, oldest ``effective_from`` first."""
        return self._history.get((device, metric), ())

    def calibration_at(self, device: str, metric: str, at: datetime) -> CalibrationRecord | None:
        """The calibration in force at ``at`` (the latest with ``effective_from <= at``)."""
        history = self.calibration_history(device, metric)
        index = bisect.bisect_right([c.effective_from for c in history], utc(at))
        return history[index - 1] if index else None


def load_snapshot(engine: Engine) -> RegistrySnapshot:
    with engine.connect() as conn:
        version = current_version(conn)
        devices = [device_of(r._mapping) for r in conn.execute(sa.select(t.devices))]
        calibrations = [calibration_of(r._mapping) for r in conn.execute(sa.select(t.calibrations))]
    return RegistrySnapshot.build(version, devices, calibrations)


class RegistryCache:
    """Hands out the latest :class:`RegistrySnapshot`; safe to share between threads."""

    def __init__(
        self,
        engine: Engine,
        refresh_seconds: float = 2.0,
        *,
        full_reload_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.full_reload_seconds = full_reload_seconds
        self.reloads = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        started = time.monotonic()
        self._snapshot = load_snapshot(engine)
        self._checked = self._loaded = time.monotonic()
        self._load_seconds = self._loaded - started

    def snapshot(self) -> RegistrySnapshot:
        """The current snapshot; refreshes first (without blocking other callers) if due."""
        due = time.monotonic() - self._checked >= self.refresh_seconds
        if due and self._thread is None and self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        return self._snapshot

    def refresh(self, *, force: bool = False) -> bool:
        """Check the version now; reload if it changed (or ``force``). True if reloaded."""
        with self._lock:
            return self._refresh(force=force)

    def start(self) -> None:
        """Refresh from a background thread instead of lazily in :meth:`snapshot`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="registry-cache", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            with self._lock:
                self._refresh()

    def _refresh(self, *, force: bool = False) -> bool:
        now = time.monotonic()
        self._checked = now
        try:
            with self.engine.connect() as conn:
                version = current_version(conn)
            every = max(self.full_reload_seconds, 20 * self._load_seconds)
            stale = now - self._loaded >= every
            if not force and not stale and version == self._snapshot.version:
                return False
            self._snapshot = load_snapshot(self.engine)
            self._load_seconds = time.monotonic() - now
        except SQLAlchemyError as exc:
            self.failures += 1
            log.warning(
                "registry cache: cannot refresh (%s); keeping version %d",
                type(exc).__name__,
                self._snapshot.version,
            )
            return False
        self._loaded = now
        self.reloads += 1
        log.debug("registry cache: loaded version %d", self._snapshot.version)
        return True
