"""What the alerts engine is given: pipeline output as columns, and device liveness.

Ingest converts its pipeline output into :class:`Observations` (one row per
reading, plus derived ISPU and flood observations) and its registry view into
:class:`DeviceState`; alerts never imports ingest or devices.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pantau import schema

FLOOD_STATUSES = schema.FLOOD_STATUSES  # normal → disaster


@dataclass(slots=True)
class IspuObservation:
    """The station's *current* ISPU as of ``ts_ns``: the time of the newest reading in
    it (not the start of the hour it is stored under), so that each update of the
    current hour is a new sample and a rule's duration counts reading time.

    Not frozen: one is made per station per chunk, and a frozen dataclass costs four
    times as much to make (it sets each field through ``object.__setattr__``)."""

    device: str
    zone: str
    ts_ns: int
    index: int
    category: str  # one of schema.ISPU_CATEGORIES
    kind: str = "air_quality"  # the device's kind, as registered (full name)


@dataclass(slots=True)
class FloodObservation:
    """Not frozen, as :class:`IspuObservation`."""

    device: str
    zone: str
    ts_ns: int
    level_cm: float
    status: str  # one of schema.FLOOD_STATUSES
    rise_cm_per_h: float
    kind: str = "water_level"  # the device's kind, as registered (full name)


Column = Sequence[str] | NDArray[np.str_] | NDArray[np.object_]


@dataclass(frozen=True)
class Observations:
    """Columnar readings after the pipeline: every column has one entry per reading."""

    device: Column = ()
    zone: Column = ()
    kind: Column = ()  # the device's kind: air, flood, traffic, …
    metric: Column = ()
    ts_ns: Sequence[int] | NDArray[np.int64] = ()
    value: Sequence[float] | NDArray[np.float64] = ()
    flags: Sequence[int] | NDArray[np.int32] = ()
    score: Sequence[float] | NDArray[np.float32] = ()
    ispu: Sequence[IspuObservation] = field(default_factory=tuple)
    flood: Sequence[FloodObservation] = field(default_factory=tuple)
    # Optional: an integer per reading that orders rows as ``device`` does (e.g. the rank
    # of the device's id among all ids), so that rules sort integers, not strings; when
    # it is not given, :meth:`columns` ranks the ids itself.
    device_order: Sequence[int] | NDArray[np.int64] = ()

    def __len__(self) -> int:
        return len(self.ts_ns)

    def columns(self) -> Readings:
        """The readings as NumPy arrays of fixed dtypes; checks that lengths agree."""
        n = len(self.ts_ns)
        named: dict[str, Sized] = {
            "device": self.device,
            "zone": self.zone,
            "kind": self.kind,
            "metric": self.metric,
            "value": self.value,
            "flags": self.flags,
            "score": self.score,
        }
        if len(self.device_order):
            named["device_order"] = self.device_order
        for name, column in named.items():
            if len(column) != n:
                raise ValueError(f"Observations.{name} has {len(column)} rows, ts_ns has {n}")
        device = np.asarray(self.device, dtype=np.str_)
        return Readings(
            device=device,
            zone=np.asarray(self.zone, dtype=np.str_),
            kind=np.asarray(self.kind, dtype=np.str_),
            metric=np.asarray(self.metric, dtype=np.str_),
            ts_ns=np.asarray(self.ts_ns, dtype=np.int64),
            value=np.asarray(self.value, dtype=np.float64),
            flags=np.asarray(self.flags, dtype=np.int64),
            score=np.asarray(self.score, dtype=np.float64),
            device_order=(
                np.asarray(self.device_order, dtype=np.int64)
                if len(self.device_order)
                else np.unique(device, return_inverse=True)[1].astype(np.int64)
            ),
        )


@dataclass(frozen=True, slots=True)
class Readings:
    """:class:`Observations` readings as arrays (what rule conditions work on)."""

    device: NDArray[np.str_]
    zone: NDArray[np.str_]
    kind: NDArray[np.str_]
    metric: NDArray[np.str_]
    ts_ns: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int64]
    score: NDArray[np.float64]
    device_order: NDArray[np.int64]  # sorts as ``device`` does (see Observations)


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A registered device's liveness, for the offline and stale checks."""

    device: str
    zone: str
    kind: str
    interval_s: float  # expected reporting interval, from the registry
    last_seen_ns: int | None  # when Pantau last received anything from it
    last_reading_ts_ns: int | None  # the device timestamp of its newest reading
    status: str  # registry status; see alerts.conditions.QUIET_STATUSES
    # when it was registered: a device never heard from is offline k × interval after it
    # (None: a device never heard from is not checked)
    registered_ns: int | None = None
    # its own status message said offline (MQTT Last Will, {"state": "offline"}) and
    # nothing was received after it: offline at once, whatever the interval
    said_offline: bool = False
