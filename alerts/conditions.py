"""Rule conditions, vectorised: observations in, per-device level series out.

Each function selects the rows a rule applies to with NumPy masks and computes
every row's level (:data:`~alerts.hysteresis.CLEAR`, ``BAND`` or a raise level)
at once; :func:`split` cuts the result into one time-sorted series per device.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from alerts.hysteresis import BAND, CLEAR, RAISE, raise_level
from alerts.observations import (
    FLOOD_STATUSES,
    DeviceState,
    FloodObservation,
    IspuObservation,
    Readings,
)
from alerts.rules import FLOOD_SEVERITY, ISPU_CATEGORIES, ISPU_SEVERITY, Rule
from pantau import schema
from pantau.flags import QC

QUIET_STATUSES = frozenset({"maintenance", "retired", "decommissioned", "disabled", "inactive"})
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Series:
    """One device's samples for one rule, sorted by time."""

    device: str
    zone: str
    device_kind: str
    ts: NDArray[np.int64]
    level: NDArray[np.int8]
    value: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows (any source) that a rule's condition is computed on; sorted by device, time."""

    device: NDArray[np.str_]
    zone: NDArray[np.str_]
    kind: NDArray[np.str_]
    ts: NDArray[np.int64]

    def scope(self, rule: Rule) -> NDArray[np.bool_]:
        mask = np.ones(len(self.ts), dtype=np.bool_)
        if rule.device is not None:
            mask &= self.device == rule.device
        if rule.zone is not None:
            mask &= self.zone == rule.zone
        if rule.device_kind is not None:
            mask &= self.kind == rule.device_kind
        return mask


def sort_readings(r: Readings) -> Readings:
    """By device (``device_order`` sorts as the ids do), then time (stable)."""
    order = np.lexsort((r.ts_ns, r.device_order))
    return Readings(*(getattr(r, name)[order] for name in Readings.__slots__))


def table_of(r: Readings) -> Table:
    return Table(r.device, r.zone, r.kind, r.ts_ns)


def split(
    table: Table, mask: NDArray[np.bool_], level: NDArray[np.int8], value: NDArray[np.float64]
) -> list[Series]:
    """Cut the masked rows (already sorted by device, then time) into per-device series."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    devices = table.device[idx]
    cuts = np.concatenate(([0], np.flatnonzero(devices[1:] != devices[:-1]) + 1, [len(idx)]))
    out = []
    for a, b in itertools.pairwise(cuts):
        rows = idx[a:b]
        first = rows[0]
        out.append(
            Series(
                device=str(table.device[first]),
                zone=str(table.zone[first]),
                device_kind=str(table.kind[first]),
                ts=table.ts[rows],
                level=level[rows],
                value=value[rows],
            )
        )
    return out


def _levels(
    raised: NDArray[np.bool_], cleared: NDArray[np.bool_], raise_lv: NDArray[np.int8] | int
) -> NDArray[np.int8]:
    level = np.full(len(raised), BAND, dtype=np.int8)
    level[cleared] = CLEAR
    level = np.where(raised, raise_lv, level).astype(np.int8)
    return level


def threshold(rule: Rule, r: Readings) -> list[Series]:
    table = table_of(r)
    mask = table.scope(rule) & (r.metric == rule.metric)
    hi = float(rule.raise_value if rule.raise_value is not None else np.inf)
    lo = float(rule.clear_value if rule.clear_value is not None else hi)
    v = r.value
    with np.errstate(invalid="ignore"):
        if rule.op == "above":
            raised, cleared = v >= hi, v < lo
        else:
            raised, cleared = v <= hi, v > lo
    return split(table, mask, _levels(raised, cleared, raise_level(rule.severity)), v)


def anomaly(rule: Rule, r: Readings) -> list[Series]:
    table = table_of(r)
    mask = table.scope(rule)
    if rule.metric is not None:
        mask &= r.metric == rule.metric
    flagged = (r.flags & int(QC.ANOMALY)) != 0
    raised = flagged | (r.score >= float(rule.raise_value or 1.0))
    cleared = ~flagged & (r.score < float(rule.clear_value or 0.0))
    return split(table, mask, _levels(raised, cleared, raise_level(rule.severity)), r.score)


def quality(rule: Rule, r: Readings) -> list[Series]:
    """Per device, the bad bit of each reading; :func:`rolling` turns it into levels."""
    table = table_of(r)
    mask = table.scope(rule)
    if rule.metric is not None:
        mask &= r.metric == rule.metric
    bad = ((r.flags & rule.flags) != 0).astype(np.float64)
    return split(table, mask, np.zeros(len(bad), dtype=np.int8), bad)


def rolling(rule: Rule, series: Series, tail: Sequence[int]) -> tuple[Series, tuple[int, ...]]:
    """Fraction of bad readings over the last ``window`` readings, carried across batches."""
    history = np.concatenate((np.asarray(tail, dtype=np.float64), series.value))
    csum = np.concatenate(([0.0], np.cumsum(history)))
    end = np.arange(len(tail) + 1, len(history) + 1)
    start = np.maximum(end - rule.window, 0)
    fraction = ((csum[end] - csum[start]) / np.maximum(end - start, 1)).astype(np.float64)
    full = (end - start) >= rule.window
    raised = full & (fraction >= float(rule.raise_value or 1.0))
    cleared = full & (fraction <= float(rule.clear_value or 0.0))
    level = _levels(raised, cleared, raise_level(rule.severity))
    new_tail = tuple(int(b) for b in history[-(rule.window - 1) :]) if rule.window > 1 else ()
    out = Series(series.device, series.zone, series.device_kind, series.ts, level, fraction)
    return out, new_tail


_ISPU_RANK = {name: ISPU_CATEGORIES.index(name) for name in ISPU_CATEGORIES}
_ISPU_RAISE = {name: raise_level(ISPU_SEVERITY.get(name, "info")) for name in ISPU_CATEGORIES}
_INFO = raise_level("info")
_BY_DEVICE_TIME = attrgetter("device", "ts_ns")


def ispu(rule: Rule, rows: Sequence[IspuObservation]) -> list[Series]:
    obs = sorted(rows, key=_BY_DEVICE_TIME)
    table = _table([(o.device, o.zone, o.kind, o.ts_ns) for o in obs])
    index = np.array([o.index for o in obs], dtype=np.float64)
    category = [o.category for o in obs]
    rank = np.array([_ISPU_RANK.get(c, -1) for c in category], dtype=np.int64)
    severity = np.array([_ISPU_RAISE.get(c, _INFO) for c in category], dtype=np.int8)
    raised = rank >= ISPU_CATEGORIES.index(rule.level or schema.ISPU_UNHEALTHY)
    cleared = index <= float(rule.clear_value or 0.0)
    return split(table, table.scope(rule), _levels(raised, cleared, severity), index)


def flood(rule: Rule, rows: Sequence[FloodObservation]) -> list[Series]:
    obs = sorted(rows, key=_BY_DEVICE_TIME)
    table = _table([(o.device, o.zone, o.kind, o.ts_ns) for o in obs])
    if rule.kind == "flood_rise":
        rise = np.array([o.rise_cm_per_h for o in obs], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            raised = rise >= float(rule.raise_value or 0.0)
            cleared = rise < float(rule.clear_value or 0.0)
        return split(
            table, table.scope(rule), _levels(raised, cleared, raise_level(rule.severity)), rise
        )
    level_cm = np.array([o.level_cm for o in obs], dtype=np.float64)
    rank = np.array([_rank(FLOOD_STATUSES, o.status.upper()) for o in obs], dtype=np.int64)
    severity = np.array(
        [raise_level(FLOOD_SEVERITY.get(o.status.upper(), "info")) for o in obs], dtype=np.int8
    )
    threshold_rank = FLOOD_STATUSES.index(rule.level or schema.FLOOD_ALERT)
    raised = rank >= threshold_rank
    cleared = (rank >= 0) & (rank < threshold_rank)
    if rule.clear_value is not None:
        cleared &= level_cm <= rule.clear_value
    return split(table, table.scope(rule), _levels(raised, cleared, severity), level_cm)


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every registered device's liveness facts as columns, sorted by device: built once
    per check and shared by the offline and stale rules."""

    table: Table  # device, zone, kind; ts = the check time
    heard: NDArray[np.int64]  # last received (or registered, if never heard from)
    known: NDArray[np.bool_]  # heard is known
    interval: NDArray[np.float64]  # expected reporting interval, s
    quiet: NDArray[np.bool_]  # a status that is never offline (maintenance, …)
    newest: NDArray[np.int64]  # device time of the newest reading
    has_reading: NDArray[np.bool_]  # newest is known
    said_offline: NDArray[np.bool_]  # its status message said offline, nothing since

    @classmethod
    def of(cls, states: Sequence[DeviceState], now_ns: int) -> Fleet:
        states = sorted(states, key=lambda s: s.device)
        heard = [s.last_seen_ns if s.last_seen_ns is not None else s.registered_ns for s in states]
        newest = [s.last_reading_ts_ns for s in states]
        return cls(
            table=Table(
                np.array([s.device for s in states]),
                np.array([s.zone for s in states]),
                np.array([s.kind for s in states]),
                np.full(len(states), now_ns, dtype=np.int64),
            ),
            heard=_filled(heard, now_ns),
            known=np.array([t is not None for t in heard], dtype=np.bool_),
            interval=np.array([s.interval_s for s in states], dtype=np.float64),
            quiet=np.array([s.status.lower() in QUIET_STATUSES for s in states], dtype=np.bool_),
            newest=_filled(newest, now_ns),
            has_reading=np.array([t is not None for t in newest], dtype=np.bool_),
            said_offline=np.array([s.said_offline for s in states], dtype=np.bool_),
        )


def _filled(times: Sequence[int | None], fill: int) -> NDArray[np.int64]:
    return np.array([fill if t is None else t for t in times], dtype=np.int64)


def liveness(rule: Rule, fleet: Fleet, *, tracked: Collection[str] | None = None) -> list[Series]:
    """Offline (nothing received for k × interval, counted from registration for a device
    never heard from; or at once when its own status message said offline) or stale
    (received, but old readings), for every device at once.

    With ``tracked`` (the devices that have a state for this rule), only series that
    can change something are returned: those of tracked devices and those raising. A
    device with no state that does not raise stays as it is, so the check of a large
    fleet costs Python work only for the few devices that are, or were, in trouble.
    """
    table, quiet = fleet.table, fleet.quiet
    if len(table.ts) == 0:
        return []
    now_ns = table.ts[0]
    limit_ns = rule.factor * fleet.interval * NS
    seen_age = (now_ns - fleet.heard).astype(np.float64)
    use = table.scope(rule) & fleet.known & (fleet.interval > 0)
    raised = raise_level(rule.severity)
    said = fleet.said_offline
    if rule.kind == "offline":
        use |= table.scope(rule) & said  # said so itself: known to be offline, now
        level = np.where((seen_age > limit_ns) | said, raised, CLEAR)
        age = seen_age
    else:
        use &= quiet | fleet.has_reading
        age = (now_ns - fleet.newest).astype(np.float64)
        max_age = rule.raise_value * NS if rule.raise_value is not None else limit_ns
        level = np.where(age > max_age, raised, CLEAR)
        # nothing arrives at all: that is the offline rule's business
        level = np.where((seen_age > limit_ns) | said, BAND, level)
        age = np.where(quiet, seen_age, age)
    level = np.where(quiet, CLEAR, level).astype(np.int8)
    if tracked is not None:
        use &= (level >= RAISE) | np.isin(table.device, list(tracked))
    return split(table, use, level, age / NS)


def _rank(order: Sequence[str], name: str) -> int:
    return order.index(name) if name in order else -1


def _strings(values: Sequence[str]) -> NDArray[np.str_]:
    """Strings as a NumPy array wide enough for the longest (never ``np.full(n, s,
    dtype=np.str_)``, which is one character wide and cuts 'air_quality' to 'a')."""
    return np.array(list(values), dtype=np.str_) if values else np.zeros(0, np.str_)


def _table(rows: Sequence[tuple[str, str, str, int]]) -> Table:
    """ISPU and flood observations: device, zone and the device's kind (full names)."""
    return Table(
        _strings([r[0] for r in rows]),
        _strings([r[1] for r in rows]),
        _strings([r[2] for r in rows]),
        np.array([r[3] for r in rows], dtype=np.int64),
    )
