"""The registry as the ingest path sees it: who may publish, and each device's tags.

Adapts a :mod:`devices.cache` snapshot to the decoder's :class:`~ingest.decode.Directory`
and to the pipeline's per-device inputs.
"""

from __future__ import annotations

from collections.abc import Callable

from devices.cache import RegistrySnapshot
from ingest.pipeline import Calibration, DeviceInfo
from ingest.pipeline.config import NO_OVERRIDES
from pantau.batch import DeviceIndex
from pantau.catalogue import METRIC_INDEX


class RegistryDirectory:
    """Decoder directory over one registry snapshot (immutable, cheap to swap)."""

    def __init__(self, snapshot: RegistrySnapshot) -> None:
        self.snapshot = snapshot
        self._tags: tuple[int, list[str], list[str]] = (0, [], [])

    def accepts(self, device: str) -> str | None:
        found = self.snapshot.devices.get(device)
        if found is None:
            return "unknown_device"
        if found.status == "decommissioned":
            return "device_inactive"
        return None

    def gateway_allows(self, gateway: str, device: str) -> bool:
        return device in self.snapshot.gateway_devices(gateway)

    def tags(self, index: DeviceIndex) -> tuple[list[str], list[str]]:
        """Zone and kind per device index (for line protocol tags), extended as the index grows."""
        known, zones, kinds = self._tags
        ids = index.ids
        if known == len(ids):
            return zones, kinds
        zones, kinds = list(zones), list(kinds)
        for device_id in ids[known:]:
            found = self.snapshot.devices.get(device_id)
            zones.append(found.zone if found else "")
            kinds.append(found.kind if found else "")
        self._tags = (len(ids), zones, kinds)
        return zones, kinds

    def pipeline_inputs(self, index: DeviceIndex) -> tuple[list[DeviceInfo], list[Calibration]]:
        """Every registered device interned, with its thresholds and calibrations."""
        intern = index.intern
        infos = [
            DeviceInfo(
                intern(device.id),
                device.kind,
                device.zone,
                device.siaga or None,
                bool(device.requires_calibration),
                device.qc_overrides() if device.qc else NO_OVERRIDES,
            )
            for device in self.snapshot.devices.values()
        ]
        calibrations: list[Calibration] = []
        for record in self.snapshot.calibrations:
            metric = METRIC_INDEX.get(record.metric)
            if metric is None or record.device not in self.snapshot.devices:
                continue
            calibrations.append(
                Calibration(
                    device=index.intern(record.device),
                    metric=metric,
                    effective_from_ns=int(record.effective_from.timestamp() * 1e9),
                    coefficients=tuple(float(c) for c in record.coefficients),
                )
            )
        return infos, calibrations


class CurrentDirectory:
    """The directory over the registry's latest snapshot, rebuilt only when the
    registry's version moved.

    The registry cache also reloads every minute or so to follow status fields (last
    seen, battery) that do not bump the version and that nothing here reads. Each
    reload is a new snapshot object; rebuilding the directory for it would rebuild the
    pipeline's per-device inputs too (about half a second at 100 000 devices, in the
    processing thread) for nothing. Every write that changes what ingest sees bumps
    the version (:mod:`devices.registry`), so the version alone says when to rebuild.
    """

    def __init__(self, snapshots: Callable[[], RegistrySnapshot]) -> None:
        self._snapshots = snapshots
        self._current = RegistryDirectory(snapshots())

    def __call__(self) -> RegistryDirectory:
        snapshot = self._snapshots()
        if snapshot.version != self._current.snapshot.version:
            self._current = RegistryDirectory(snapshot)
        return self._current
