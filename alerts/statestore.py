"""Persisted rule state (pending since, active, flapping, …) per (rule, device)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection

from alerts.hysteresis import RuleState
from alerts.tables import rule_state

Key = tuple[str, str]  # (rule id, device)


def take_write_lock(conn: Connection) -> None:
    """Make SQLite take its write lock now, so a read-then-write transaction cannot
    fail half-way with 'database is locked' when another process writes meanwhile."""
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text("UPDATE alert_rule_state SET active = active WHERE 1 = 0"))


def load_states(conn: Connection, keys: Iterable[Key]) -> dict[Key, RuleState]:
    wanted = set(keys)
    devices = sorted({device for _, device in wanted})
    out: dict[Key, RuleState] = {}
    for start in range(0, len(devices), 500):
        chunk = devices[start : start + 500]
        for row in conn.execute(sa.select(rule_state).where(rule_state.c.device.in_(chunk))):
            key = (row.rule_id, row.device)
            if key in wanted:
                out[key] = RuleState(
                    active=bool(row.active),
                    level=int(row.level),
                    pending_since_ns=row.pending_since_ns,
                    clearing_since_ns=row.clearing_since_ns,
                    last_ts_ns=row.last_ts_ns,
                    alert_id=row.alert_id,
                    flapping=bool(row.flapping),
                    opens=tuple(orjson.loads(row.opens)),
                    tail=tuple(orjson.loads(row.tail)),
                )
    return out


def busy_keys(conn: Connection, keys: Iterable[Key]) -> set[Key]:
    """Those of ``keys`` whose stored state is active, pending or clearing (the rows read
    are only those: a quiet fleet costs the query, not a row per device)."""
    wanted = set(keys)
    devices = sorted({device for _, device in wanted})
    busy = sa.or_(
        rule_state.c.active,
        rule_state.c.pending_since_ns.is_not(None),
        rule_state.c.clearing_since_ns.is_not(None),
    )
    out: set[Key] = set()
    query = sa.select(rule_state.c.rule_id, rule_state.c.device)
    for start in range(0, len(devices), 500):
        chunk = devices[start : start + 500]
        for rule_id, device in conn.execute(query.where(rule_state.c.device.in_(chunk), busy)):
            if (rule_id, device) in wanted:
                out.add((rule_id, device))
    return out


def tracked_devices(conn: Connection, rule_ids: Sequence[str]) -> dict[str, set[str]]:
    """The devices with a stored state, per rule."""
    out: dict[str, set[str]] = {rule_id: set() for rule_id in rule_ids}
    query = sa.select(rule_state.c.rule_id, rule_state.c.device).where(
        rule_state.c.rule_id.in_(list(rule_ids))
    )
    for rule_id, device in conn.execute(query):
        out[rule_id].add(device)
    return out


def save_states(conn: Connection, changed: dict[Key, RuleState], existing: set[Key]) -> None:
    updates, inserts = [], []
    for (rule_id, device), state in changed.items():
        values = asdict(state)
        values["opens"] = orjson.dumps(list(state.opens)).decode()
        values["tail"] = orjson.dumps(list(state.tail)).decode()
        if (rule_id, device) in existing:
            updates.append({**values, "k_rule": rule_id, "k_device": device})
        else:
            inserts.append({**values, "rule_id": rule_id, "device": device})
    if updates:
        conn.execute(
            rule_state.update().where(
                rule_state.c.rule_id == sa.bindparam("k_rule"),
                rule_state.c.device == sa.bindparam("k_device"),
            ),
            updates,
        )
    if inserts:
        conn.execute(rule_state.insert(), inserts)
